"""Faults around real runner processes: a runner killed under load, an oversized result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from conftest import start_runner, start_server
from google.protobuf import struct_pb2

from skillos.v1 import execution_pb2, orchestrator_service_pb2, orchestrator_service_pb2_grpc

TOKEN = "failover-test-runner-token-0123"
CALLS = 200

SLOW_MANIFEST = """\
id: slow/echo
name: Slow Echo
description: Echoes its payload after a pause; safe to retry.
version: 1.0.0
entrypoint: implementations.slow.echo:run
retryable: true
timeout_seconds: 60
"""

SLOW_IMPLEMENTATION = """\
import time


def run(payload, ctx=None):
    time.sleep(0.05)
    return {"n": payload.get("n"), "attempt": ctx.attempt if ctx else None}
"""


BIG_MANIFEST = """\
id: big/blob
name: Big Blob
description: Returns five megabytes of text.
version: 1.0.0
entrypoint: implementations.big.blob:run
"""

BIG_IMPLEMENTATION = """\
def run(payload, ctx=None):
    return {"blob": "x" * (5 * 1024 * 1024)}
"""


def write_root(root: Path) -> None:
    for domain, name, manifest, implementation in (
        ("slow", "echo", SLOW_MANIFEST, SLOW_IMPLEMENTATION),
        ("big", "blob", BIG_MANIFEST, BIG_IMPLEMENTATION),
    ):
        (root / "metadata" / domain).mkdir(parents=True)
        (root / "metadata" / domain / f"{name}.yaml").write_text(manifest)
        (root / "implementations" / domain).mkdir(parents=True)
        (root / "implementations" / domain / "__init__.py").write_text("")
        (root / "implementations" / domain / f"{name}.py").write_text(implementation)
    (root / "implementations" / "__init__.py").write_text("")


def test_sigkill_of_one_runner_during_200_calls_loses_none(tmp_path: Path):
    root = tmp_path / "root"
    write_root(root)
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(root, data, extra_env={"SKILLOS_RUNNER_TOKEN": TOKEN})
    runners = [
        start_runner(server.addr, root, f"r{i}", tmp_path / f"runner{i}.log", TOKEN)
        for i in range(2)
    ]
    channel = grpc.insecure_channel(server.addr)
    try:
        stub = orchestrator_service_pb2_grpc.OrchestratorServiceStub(channel)
        deadline = time.monotonic() + 30
        while len(stub.ListRunners(orchestrator_service_pb2.ListRunnersRequest()).runners) < 2:
            assert time.monotonic() < deadline, "the runners did not attach"
            time.sleep(0.1)
        victim = next(
            r
            for r in stub.ListRunners(orchestrator_service_pb2.ListRunnersRequest()).runners
            if r.name == "r0"
        )

        def call(n: int):
            payload = struct_pb2.Struct()
            payload.update({"n": n})
            request = orchestrator_service_pb2.RunRequest(skill_id="slow/echo", payload=payload)
            return stub.Run(request, timeout=60)

        with ThreadPoolExecutor(max_workers=64) as pool:
            futures = [pool.submit(call, n) for n in range(CALLS)]
            time.sleep(0.3)
            runners[0].send_signal(signal.SIGKILL)
            responses = [future.result() for future in futures]

        executions = [response.execution for response in responses]
        assert all(e.status == execution_pb2.EXECUTION_STATUS_SUCCEEDED for e in executions)
        assert sorted(int(e.output.struct_value["n"]) for e in executions) == list(range(CALLS))
        retried = [e for e in executions if e.attempts > 1]
        assert retried, "the killed runner had no call in flight; the test proved nothing"
        assert all(e.runner_id != victim.id for e in retried)
    finally:
        channel.close()
        for runner in runners:
            if runner.poll() is None:
                runner.kill()
            runner.wait(10)
        assert server.stop() == 0


def test_a_5_mb_result_fails_only_its_call(tmp_path: Path):
    root = tmp_path / "root"
    write_root(root)
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(root, data, extra_env={"SKILLOS_RUNNER_TOKEN": TOKEN})
    runner = start_runner(server.addr, root, "r", tmp_path / "runner.log", TOKEN)
    channel = grpc.insecure_channel(
        server.addr, options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    )
    try:
        stub = orchestrator_service_pb2_grpc.OrchestratorServiceStub(channel)
        deadline = time.monotonic() + 30
        while not stub.ListRunners(orchestrator_service_pb2.ListRunnersRequest()).runners:
            assert time.monotonic() < deadline, "the runner did not attach"
            time.sleep(0.1)
        try:
            stub.Run(orchestrator_service_pb2.RunRequest(skill_id="big/blob"), timeout=30)
            raise AssertionError("a 5 MB result was accepted")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
            assert "larger than the limit" in error.details()
        payload = struct_pb2.Struct()
        payload.update({"n": 7})
        for _ in range(3):
            ok = stub.Run(
                orchestrator_service_pb2.RunRequest(skill_id="slow/echo", payload=payload),
                timeout=30,
            )
            assert ok.execution.status == execution_pb2.EXECUTION_STATUS_SUCCEEDED
        assert len(stub.ListRunners(orchestrator_service_pb2.ListRunnersRequest()).runners) == 1
    finally:
        channel.close()
        runner.kill()
        runner.wait(10)
        assert server.stop() == 0


def test_a_runner_token_for_finance_cannot_register_travel_skills(
    skills_root: Path, tmp_path: Path
):
    config = tmp_path / "skillos.toml"
    config.write_text(
        '[[runners.tokens]]\ntoken = "finance-only-token-0123456789"\nskills = ["finance/*"]\n'
    )
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(skills_root, data, extra_args=("--config", str(config)))
    env = {**os.environ, "SKILLOS_RUNNER_TOKEN": "finance-only-token-0123456789"}
    log = tmp_path / "runner.log"
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skillos_runner",
            "--server",
            server.addr,
            "--root",
            str(skills_root),
        ],
        env=env,
        stdout=open(log, "w"),  # noqa: SIM115 (the server writes to it for as long as it runs)
        stderr=subprocess.STDOUT,
    )
    channel = grpc.insecure_channel(server.addr)
    try:
        stub = orchestrator_service_pb2_grpc.OrchestratorServiceStub(channel)
        deadline = time.monotonic() + 30
        while not (
            listed := stub.ListRunners(orchestrator_service_pb2.ListRunnersRequest()).runners
        ):
            assert time.monotonic() < deadline, "the runner did not attach"
            time.sleep(0.1)
        served = sorted(skill.skill_id for skill in listed[0].skills)
        assert served == [
            "finance/convert_currency",
            "finance/get_exchange_rates",
            "finance/track_expenses",
        ]
        try:
            flight = struct_pb2.Struct()
            flight.update({"origin": "SVO", "destination": "AER", "date": "2026-12-18"})
            stub.Run(
                orchestrator_service_pb2.RunRequest(
                    skill_id="travel/search_flights", payload=flight
                ),
                timeout=10,
            )
            raise AssertionError("a skill outside the token's patterns ran")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            assert "no connected runner serves skill travel/search_flights" in error.details()
        assert "travel/search_flights" in log.read_text(), (
            "the runner should report the rejected skill"
        )
    finally:
        channel.close()
        runner.kill()
        runner.wait(10)
        assert server.stop() == 0
