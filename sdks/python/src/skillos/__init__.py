"""SkillOS Python client.

The generated modules mirror the proto packages: `skillos.v1` (the public API) and
`skillos.runner.v1` (the runner protocol), e.g.::

    import grpc
    from skillos.v1 import skill_service_pb2, skill_service_pb2_grpc

    with grpc.insecure_channel("127.0.0.1:50051") as channel:
        skills = skill_service_pb2_grpc.SkillServiceStub(channel)
        response = skills.ListSkills(skill_service_pb2.ListSkillsRequest(domain="finance"))
"""

__version__ = "0.3.0"
