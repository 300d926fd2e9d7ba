"""What a client sees when it sends something wrong, and how the CLI and logs behave at the edges."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import grpc
from conftest import SKILLOS, start_server
from google.protobuf import json_format, struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status


def _details(error: grpc.RpcError) -> dict[str, object]:
    """The google.rpc details of a failed call, by type name."""
    status = rpc_status.from_call(error)
    assert status is not None, "the status carries no details"
    found: dict[str, object] = {}
    for detail in status.details:
        for message in (error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()):
            if detail.Is(message.DESCRIPTOR):
                detail.Unpack(message)
                found[message.DESCRIPTOR.name] = message
    return found


def test_a_bad_payload_decodes_to_a_bad_request_naming_the_field(server):
    from skillos.v1 import orchestrator_service_pb2 as orchestrator
    from skillos.v1 import orchestrator_service_pb2_grpc as orchestrator_grpc

    payload = struct_pb2.Struct()
    json_format.ParseDict({"amount": -5, "from": "USD", "to": "EUR"}, payload)
    with grpc.insecure_channel(server.addr) as channel:
        stub = orchestrator_grpc.OrchestratorServiceStub(channel)
        try:
            stub.Run(
                orchestrator.RunRequest(skill_id="finance/convert_currency", payload=payload),
                timeout=10,
            )
            raise AssertionError("a payload against the schema ran")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            details = _details(error)
    info = details["ErrorInfo"]
    assert info.reason == "INVALID_PAYLOAD" and info.domain == "skillos.dev"
    fields = [violation.field for violation in details["BadRequest"].field_violations]
    assert fields == ["payload.amount"], fields


def test_a_long_field_comes_back_in_a_bounded_message(server):
    """A 64 KiB value in an error message must not overflow a default client's metadata limit."""
    from skillos.v1 import skill_service_pb2, skill_service_pb2_grpc

    with grpc.insecure_channel(server.addr) as channel:
        skills = skill_service_pb2_grpc.SkillServiceStub(channel)
        try:
            skills.GetSkill(skill_service_pb2.GetSkillRequest(skill_id="x" * 65536), timeout=10)
            raise AssertionError("an invalid id was found")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
            assert len(error.details().encode()) <= 1024
            details = _details(error)
    assert details["ErrorInfo"].reason == "INVALID_SKILL_ID"
    assert details["BadRequest"].field_violations[0].field == "skill_id"


def test_the_cli_stops_quietly_when_its_output_closes(server):
    # The reader goes away before the command writes: its write meets a closed pipe.
    process = subprocess.Popen(
        [SKILLOS, "--json", "skills", "list", "--server", server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert b"panicked" not in stderr, stderr.decode()


def test_server_logs_are_plain_off_a_terminal_and_json_on_request(
    skills_root: Path, tmp_path: Path
):
    text_dir = tmp_path / "text"
    text_dir.mkdir()
    server = start_server(skills_root, text_dir)
    server.http("/readyz")
    assert server.stop() == 0
    text = (text_dir / "server.log").read_text()
    assert "skillos serving" in text, text
    assert "\x1b[" not in text, "ANSI colours in a log written to a file"

    json_dir = tmp_path / "json"
    json_dir.mkdir()
    server = start_server(skills_root, json_dir, extra_args=("--log-format", "json"))
    assert server.stop() == 0
    lines = [line for line in (json_dir / "server.log").read_text().splitlines() if line.strip()]
    assert lines, "no log lines"
    events = [json.loads(line) for line in lines]
    assert all("level" in event and "timestamp" in event for event in events), events[:3]


def _raw_run(server, body: bytes) -> grpc.RpcError:
    """Sends `body` as a Run request exactly as given, bypassing the client's encoder."""
    with grpc.insecure_channel(server.addr) as channel:
        call = channel.unary_unary(
            "/skillos.v1.OrchestratorService/Run",
            request_serializer=lambda raw: raw,
            response_deserializer=lambda raw: raw,
        )
        try:
            call(body, timeout=10)
        except grpc.RpcError as error:
            return error
    raise AssertionError("the server accepted the bytes")


def test_bytes_that_are_not_protobuf_are_invalid_argument_without_decoder_text(server):
    from skillos.v1 import orchestrator_service_pb2 as orchestrator

    whole = orchestrator.RunRequest(skill_id="finance/convert_currency").SerializeToString()
    for body in (whole[:-1], b"\x0a\x02\xff\xfe", b"\xff\xff\xff"):
        error = _raw_run(server, body)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (body, error)
        assert "Protobuf" not in error.details() and "prost" not in error.details(), error.details()
        assert _details(error)["ErrorInfo"].reason == "MALFORMED_REQUEST"


def _nested_run(depth: int) -> bytes:
    """A RunRequest whose payload nests `depth` objects, encoded by hand: Python's protobuf
    refuses to build one this deep itself."""
    payload = struct_pb2.Struct()
    json_format.ParseDict({"leaf": 1}, payload)
    body = payload.SerializeToString()
    for _ in range(depth):
        value = b"\x2a" + _varint(len(body)) + body  # Value.struct_value
        entry = b"\x0a\x01a" + b"\x12" + _varint(len(value)) + value  # fields["a"]
        body = b"\x0a" + _varint(len(entry)) + entry  # Struct.fields
    from skillos.v1 import orchestrator_service_pb2 as orchestrator

    request = orchestrator.RunRequest(skill_id="finance/convert_currency").SerializeToString()
    return request + b"\x1a" + _varint(len(body)) + body  # RunRequest.payload


def test_a_payload_nested_past_the_decoders_limit_is_refused_naming_it(server):
    error = _raw_run(server, _nested_run(40))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
    details = _details(error)
    assert details["ErrorInfo"].reason == "PAYLOAD_TOO_DEEP"
    assert "100" in error.details()
    assert details["BadRequest"].field_violations[0].field == "payload"
    # Shallower nesting decodes (and meets the skill's schema, a separate refusal).
    error = _raw_run(server, _nested_run(20))
    assert _details(error)["ErrorInfo"].reason == "INVALID_PAYLOAD", error


def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def test_a_request_over_the_message_limit_is_resource_exhausted(server):
    error = _raw_run(server, b"\x0a" + _varint(5 * 1024 * 1024) + b"x" * (5 * 1024 * 1024))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
    assert _details(error)["ErrorInfo"].reason == "MESSAGE_TOO_LARGE"


def test_oversized_headers_fail_their_call_with_a_status_and_the_connection_lives(server):
    from skillos.v1 import skill_service_pb2, skill_service_pb2_grpc

    with grpc.insecure_channel(server.addr) as channel:
        skills = skill_service_pb2_grpc.SkillServiceStub(channel)
        for size in (32 * 1024, 1024 * 1024):
            try:
                skills.ListSkills(
                    skill_service_pb2.ListSkillsRequest(),
                    timeout=10,
                    metadata=[("authorization", "Bearer " + "x" * size)],
                )
                raise AssertionError(f"a {size}-byte header was accepted")
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (size, error)
                assert _details(error)["ErrorInfo"].reason == "HEADERS_TOO_LARGE"
            # The same connection serves the next call.
            listed = skills.ListSkills(skill_service_pb2.ListSkillsRequest(), timeout=10)
            assert len(listed.skills) == 20, "16 skills and 4 flows"
    request = urllib.request.Request(
        server.url + "/healthz", headers={"X-Padding": "y" * 32 * 1024}
    )
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("a 32 KiB header was accepted over HTTP")
    except urllib.error.HTTPError as error:
        assert error.code == 431
