"""Development mode as a new user meets it: one server command gives a working system."""

from __future__ import annotations

import json
import subprocess
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


def test_skills_added_or_changed_while_serving_run_without_a_restart(
    skills_root: Path, tmp_path: Path
):
    """`skillos serve` with its local runner: `skillos add-skill` makes a skill that runs
    within seconds, a changed implementation answers the new way, a removed skill is gone."""
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(skills_root, data, local_runner=True)

    def attempt(skill: str, payload: str = '{"n": 1}') -> subprocess.CompletedProcess:
        return run(
            SKILLOS,
            "run",
            "--skill",
            skill,
            "--payload",
            payload,
            "--server",
            server.addr,
            check=False,
        )

    def eventually(condition, what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, what
            time.sleep(0.2)

    try:
        wait_for_runner(server.addr)
        run(SKILLOS, "add-skill", "demo/fresh", "--root", str(skills_root))
        eventually(lambda: attempt("demo/fresh").returncode == 0, "the new skill never ran")
        assert json.loads(attempt("demo/fresh").stdout) == {
            "skill": "demo/fresh",
            "received": {"n": 1},
        }

        code = skills_root / "implementations" / "demo" / "fresh.py"
        code.write_text("def run(payload, ctx=None):\n    return {'changed': True}\n")
        eventually(
            lambda: attempt("demo/fresh").stdout.strip().startswith('{\n  "changed": true'),
            "the changed implementation never answered",
        )

        (skills_root / "metadata" / "demo" / "fresh.yaml").unlink()
        eventually(
            lambda: "(SKILL_NOT_FOUND)" in attempt("demo/fresh").stderr,
            "the removed skill still ran",
        )
        # The other skills were served throughout and still are.
        assert attempt("office/coffee_break", "{}").returncode == 0
        runners = json.loads(
            run(SKILLOS, "--json", "runners", "list", "--server", server.addr).stdout
        )
        assert [runner["name"] for runner in runners["runners"]] == ["local"], runners
    finally:
        server.stop()
