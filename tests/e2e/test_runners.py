"""Development mode as a new user meets it: one server command gives a working system."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import SKILLOS, run, start_server


def wait_for_runner(addr: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runners = json.loads(run(SKILLOS, "runners", "list", "--json", "--server", addr).stdout)[
            "runners"
        ]
        if runners:
            return runners[0]
        time.sleep(0.2)
    raise AssertionError("the local runner did not attach")


def test_serve_starts_a_local_runner_and_run_executes_a_skill(skills_root: Path, tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(skills_root, data, local_runner=True)
    try:
        runner = wait_for_runner(server.addr)
        assert runner["name"] == "local" and len(runner["skills"]) == 16
        skills = json.loads(
            run(SKILLOS, "skills", "list", "--json", "--server", server.addr).stdout
        )["skills"]
        assert all(skill["available"] for skill in skills)

        payload = json.dumps({"amount": 100, "from": "USD", "to": "EUR"})
        printed = run(
            SKILLOS,
            "run",
            "--skill",
            "finance/convert_currency",
            "--payload",
            payload,
            "--server",
            server.addr,
        )
        output = json.loads(printed.stdout)
        assert output["converted"] == 92.0 and output["to"] == "EUR"

        failed = run(
            SKILLOS,
            "run",
            "--skill",
            "finance.convert_currency",
            "--json",
            "--server",
            server.addr,
            "--payload",
            json.dumps({"amount": 1, "from": "USD", "to": "XYZ"}),
            check=False,
        )
        assert failed.returncode == 1
        execution = json.loads(failed.stdout)
        assert execution["status"] == "failed" and execution["error"]["origin"] == "skill"

        refused = run(
            SKILLOS,
            "run",
            "--skill",
            "finance/convert_currency",
            "--payload",
            '{"amount": "lots"}',
            "--server",
            server.addr,
            check=False,
        )
        assert refused.returncode == 1 and "INVALID_PAYLOAD" in refused.stderr

        listed = json.loads(
            run(SKILLOS, "executions", "list", "--json", "--server", server.addr).stdout
        )
        assert [e["status"] for e in listed["executions"]] == ["failed", "succeeded"]
        one = json.loads(
            run(
                SKILLOS, "executions", "get", listed["executions"][1]["id"], "--server", server.addr
            ).stdout
        )
        assert one["output"]["converted"] == 92.0 and one["runner_id"] == runner["id"]
    finally:
        code = server.stop()
    assert code == 0
    log = (data / "server.log").read_text()
    assert "local runner started" in log and "shutdown complete" in log
