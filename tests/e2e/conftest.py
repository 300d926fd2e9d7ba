"""End-to-end harness: the real `skillos` binary on a free port, driven by real clients."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SKILLOS = os.environ.get("SKILLOS_BIN", str(REPO / "target" / "debug" / "skillos"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(
    *args: str, check: bool = True, env: dict | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Runs a command, capturing text output."""
    result = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{args} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


@dataclass
class Server:
    addr: str
    root: Path
    data: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://{self.addr}"

    def http(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def http_json(
        self, method: str, path: str, body: bytes | dict | None = None
    ) -> tuple[int, dict]:
        """An HTTP request with an optional JSON body; status and parsed JSON answer."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def grpcurl(self, method: str, body: dict | None = None) -> dict:
        args = ["grpcurl", "-plaintext"]
        if body is not None:
            args += ["-d", json.dumps(body)]
        result = run(*args, self.addr, method)
        return json.loads(result.stdout or "{}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


def start_server(
    root: Path,
    data: Path,
    port: int | None = None,
    extra_env: dict | None = None,
    local_runner: bool = False,
    extra_args: tuple[str, ...] = (),
    dev: bool = True,
) -> Server:
    port = port or free_port()
    addr = f"127.0.0.1:{port}"
    log = open(data / "server.log", "w")  # noqa: SIM115 - closed with the process
    env = {**os.environ, "SKILLOS_LOG_LEVEL": "info", **(extra_env or {})}
    process = subprocess.Popen(
        [
            SKILLOS,
            "serve",
            "--root",
            str(root),
            "--data-dir",
            str(data),
            "--listen",
            addr,
            *([] if local_runner else ["--no-local-runner"]),
            *(["--dev"] if dev else []),
            *extra_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    server = Server(addr=addr, root=root, data=data, process=process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited {process.returncode}: {(data / 'server.log').read_text()}"
            )
        try:
            if server.http("/readyz")[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    raise AssertionError("server did not become ready")


def start_runner(
    addr: str, root: Path, name: str, log: Path, token: str, concurrency: int = 16
) -> subprocess.Popen:
    """A Python runner process for `root`, attached to the server at `addr` with `token`."""
    env = {**os.environ, "SKILLOS_RUNNER_TOKEN": token}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skillos_runner",
            "--server",
            addr,
            "--root",
            str(root),
            "--name",
            name,
            "--concurrency",
            str(concurrency),
        ],
        env=env,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def skills_root(tmp_path: Path) -> Path:
    """A copy of the repository's example skills root that a test may change."""
    root = tmp_path / "skills"
    shutil.copytree(
        REPO / "skills",
        root,
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "tests"),
    )
    return root


@pytest.fixture
def server(skills_root: Path, tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(skills_root, data)
    yield server
    code = server.stop()
    assert code == 0, f"server exited {code} on SIGTERM:\n{(data / 'server.log').read_text()}"
