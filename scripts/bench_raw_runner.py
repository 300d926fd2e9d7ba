"""The raw Python baseline of bench-skills: the least a Python runner can cost.

A minimal grpc.aio process that attaches over `RunnerService.Attach`, registers the skills it
is told, and answers every invocation with its payload: no SDK, no skill discovery, no thread
pool, no conversion beyond the protobuf messages themselves. RunPython is reported as a ratio to
it: the gap is what `skill-runner/` costs on top of gRPC in Python.

    python scripts/bench_raw_runner.py --server 127.0.0.1:50051 --token T --skill finance/x
"""

from __future__ import annotations

import argparse
import asyncio

import grpc
from google.protobuf import struct_pb2

from skillos.runner.v1 import runner_service_pb2 as pb
from skillos.runner.v1 import runner_service_pb2_grpc


async def attach(server: str, token: str, skills: list[str]) -> None:
    outbound: asyncio.Queue[pb.AttachRequest] = asyncio.Queue()
    register = pb.Register(
        name="raw-python",
        version="bench",
        max_concurrency=64,
        protocol_version=1,
        skills=[pb.SkillManifest(id=skill, version="0.1.0") for skill in skills],
    )
    await outbound.put(pb.AttachRequest(register=register))

    async def requests():
        while True:
            yield await outbound.get()

    async def heartbeats(interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await outbound.put(pb.AttachRequest(heartbeat=pb.RunnerHeartbeat()))

    async with grpc.aio.insecure_channel(server) as channel:
        stub = runner_service_pb2_grpc.RunnerServiceStub(channel)
        call = stub.Attach(requests(), metadata=(("authorization", f"Bearer {token}"),))
        beating = None
        try:
            async for message in call:
                kind = message.WhichOneof("message")
                if kind == "registered":
                    interval = message.registered.heartbeat_interval.ToTimedelta().total_seconds()
                    beating = asyncio.create_task(heartbeats(max(interval, 0.1)))
                    print("attached", flush=True)
                elif kind == "invoke":
                    invoke = message.invoke
                    output = struct_pb2.Value(struct_value=invoke.payload)
                    result = pb.InvokeResult(
                        execution_id=invoke.execution_id, attempt=invoke.attempt, output=output
                    )
                    outbound.put_nowait(pb.AttachRequest(result=result))
        finally:
            if beating is not None:
                beating.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--skill", action="append", required=True)
    args = parser.parse_args()
    asyncio.run(attach(args.server, args.token, args.skill))


if __name__ == "__main__":
    main()
