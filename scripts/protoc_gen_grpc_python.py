"""A protoc plugin that runs grpcio-tools' gRPC Python generator.

grpcio-tools compiles its `grpc_python` generator into its own protoc instead of shipping a
plugin executable, so `buf generate` cannot call it directly. This plugin takes buf's
CodeGeneratorRequest, hands the descriptors to grpcio-tools' protoc and returns what it wrote.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse()
    response.supported_features = plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    with tempfile.TemporaryDirectory() as work:
        descriptors = Path(work) / "descriptors.pb"
        descriptors.write_bytes(
            descriptor_pb2.FileDescriptorSet(file=request.proto_file).SerializeToString()
        )
        out = Path(work) / "out"
        out.mkdir()
        options = f"{request.parameter}:" if request.parameter else ""
        # Only files that define services get a `_pb2_grpc.py` (the others would be empty).
        with_services = [
            f.name for f in request.proto_file if f.name in request.file_to_generate and f.service
        ]
        code = (
            protoc.main(
                [
                    "grpc_tools.protoc",
                    f"--descriptor_set_in={descriptors}",
                    f"--grpc_python_out={options}{out}",
                    *with_services,
                ]
            )
            if with_services
            else 0
        )
        if code != 0:
            response.error = f"grpc_tools.protoc exited {code}"
        else:
            for path in sorted(out.rglob("*.py")):
                generated = response.file.add()
                generated.name = path.relative_to(out).as_posix()
                generated.content = path.read_text()
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
