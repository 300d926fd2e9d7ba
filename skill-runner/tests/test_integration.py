"""End to end against the real ``skillos`` server binary (``SKILLOS_BIN``) and the runner as a
subprocess, on a temporary copy of the example skills root."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from conftest import EXAMPLE_ROOT
from google.protobuf import json_format, struct_pb2
from skillos.v1 import execution_pb2, orchestrator_service_pb2, orchestrator_service_pb2_grpc

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SKILLOS_BIN = Path(os.environ.get("SKILLOS_BIN", REPO / "target" / "debug" / "skillos"))
TOKEN = "integration-test-runner-token-0123456789"
T = TypeVar("T")


def wait_until(
    check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2
) -> T:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except grpc.RpcError as error:
            last_error = error
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what} (last error: {last_error})"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen[bytes], grace: float = 10) -> int:
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(grace)


def server_binary() -> Path:
    """The server binary; `make test-python` builds it first and passes its path."""
    if not os.access(SKILLOS_BIN, os.X_OK):
        pytest.fail(f"no server binary at {SKILLOS_BIN}: build it (make build) or set SKILLOS_BIN")
    return SKILLOS_BIN


@dataclass
class Server:
    address: str
    process: subprocess.Popen[bytes]
    log: Path
    channel: grpc.Channel

    @property
    def orchestrator(self) -> orchestrator_service_pb2_grpc.OrchestratorServiceStub:
        return orchestrator_service_pb2_grpc.OrchestratorServiceStub(self.channel)

    def runners(self, name: str) -> list[Any]:
        response = self.orchestrator.ListRunners(
            orchestrator_service_pb2.ListRunnersRequest(), timeout=5
        )
        return [runner for runner in response.runners if runner.name == name]

    def run(self, skill_id: str, payload: dict[str, Any]) -> orchestrator_service_pb2.RunResponse:
        struct = struct_pb2.Struct()
        struct.update(payload)
        request = orchestrator_service_pb2.RunRequest(skill_id=skill_id, payload=struct)
        return self.orchestrator.Run(request, timeout=30)


@pytest.fixture(scope="module")
def skills_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("skills") / "root"
    shutil.copytree(
        EXAMPLE_ROOT, root, ignore=shutil.ignore_patterns("tests", "__pycache__", ".pytest_cache")
    )
    return root


@pytest.fixture(scope="module")
def server(skills_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = server_binary()
    data_dir = tmp_path_factory.mktemp("data")
    log = data_dir / "server.log"
    address = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "SKILLOS_RUNNER_TOKEN": TOKEN,
        "SKILLOS_LOCAL_RUNNER": "false",  # the runner under test is started by the tests
        "NO_COLOR": "1",
    }
    command = [
        str(binary),
        "serve",
        "--dev",
        "--root",
        str(skills_root),
        "--data-dir",
        str(data_dir),
        "--listen",
        address,
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    channel = grpc.insecure_channel(address)
    try:
        wait_for_server(process, channel, log)
        yield Server(address, process, log, channel)
    finally:
        channel.close()
        stop(process)


def wait_for_server(process: subprocess.Popen[bytes], channel: grpc.Channel, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the server exited with {process.returncode}:\n{log.read_text(errors='replace')}"
            )
        try:
            grpc.channel_ready_future(channel).result(timeout=0.5)
            return
        except grpc.FutureTimeoutError:
            continue
    pytest.fail(f"the server did not start within 30 s:\n{log.read_text(errors='replace')}")


@dataclass
class RunnerProcess:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_runner(
    server: Server, skills_root: Path, tmp_path: Path
) -> Iterator[Callable[..., RunnerProcess]]:
    started: list[RunnerProcess] = []

    def start(name: str, token: str = TOKEN) -> RunnerProcess:
        log = tmp_path / f"{name}.log"
        env = {**os.environ, "SKILLOS_RUNNER_TOKEN": token, "SKILLOS_SERVER": server.address}
        command = [
            sys.executable,
            "-m",
            "skillos_runner",
            "--root",
            str(skills_root),
            "--name",
            name,
            "--concurrency",
            "4",
        ]
        with log.open("wb") as output:
            process = subprocess.Popen(
                command, env=env, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        runner = RunnerProcess(name, process, log)
        started.append(runner)
        return runner

    yield start
    for runner in started:
        stop(runner.process)


@pytest.fixture
def attached(
    server: Server, start_runner: Callable[..., RunnerProcess], request: pytest.FixtureRequest
) -> RunnerProcess:
    runner = start_runner(f"pytest-{request.node.name}"[:60])
    wait_until(lambda: server.runners(runner.name), 30, f"runner {runner.name} in ListRunners")
    return runner


def test_the_runner_registers_every_example_skill(server: Server, attached: RunnerProcess) -> None:
    (listed,) = server.runners(attached.name)

    assert listed.max_concurrency == 4
    assert {skill.skill_id for skill in listed.skills} >= {
        "finance/convert_currency",
        "travel/search_flights",
    }
    assert len(listed.skills) == 16


def test_run_convert_currency(server: Server, attached: RunnerProcess) -> None:
    response = server.run("finance/convert_currency", {"amount": 100, "from": "USD", "to": "EUR"})

    execution = response.execution
    assert execution.status == execution_pb2.EXECUTION_STATUS_SUCCEEDED, execution.error
    output = json_format.MessageToDict(execution.output)
    assert output["converted"] == 92.0  # 100 USD at the table's 0.92 EUR per USD
    assert output["rate"] == 0.92 and output["rates_as_of"] == "2026-11-01"


def test_a_skill_value_error_fails_the_execution(server: Server, attached: RunnerProcess) -> None:
    response = server.run("finance/convert_currency", {"amount": 100, "from": "USD", "to": "XYZ"})

    execution = response.execution
    assert execution.status == execution_pb2.EXECUTION_STATUS_FAILED
    assert execution.error.error_class == execution_pb2.ERROR_CLASS_PERMANENT
    assert execution.error.code == "ValueError"
    assert "to: unsupported currency 'XYZ'" in execution.error.message


def test_sigterm_drains_and_exits_0(server: Server, attached: RunnerProcess) -> None:
    attached.process.send_signal(signal.SIGTERM)

    assert attached.process.wait(20) == 0, attached.output()
    wait_until(lambda: not server.runners(attached.name), 10, "the runner to leave ListRunners")
    assert "SIGTERM: draining" in attached.output()


def test_a_refused_token_exits_1(
    server: Server, start_runner: Callable[..., RunnerProcess]
) -> None:
    runner = start_runner("pytest-bad-token", token="not-the-configured-token-at-all")

    assert runner.process.wait(20) == 1, runner.output()
    assert "UNAUTHENTICATED" in runner.output()
