"""Approvals with the real binary and the Python runner: a run held by an approval policy,
decided with the CLI, executes by itself exactly once, also when the server is killed with
SIGKILL after the approval and started again."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from conftest import SKILLOS, run, start_server

PERMISSIONS = {
    "roles": {"approver": ["approvals:decide"], "requester": []},
    "policies": [{"skill_id": "*", "required_permissions": [], "policy_id": "everyone"}],
}
APPROVALS = {"policies": [{"skill_id": "test/record", "policy_id": "record-needs-approval"}]}

RECORD_MANIFEST = """\
id: test/record
name: Record
description: Appends a mark to a file, so a test can count how often it ran.
version: 1.0.0
entrypoint: implementations.test.record:run
input_schema:
  type: object
  properties:
    path: {type: string}
    mark: {type: string}
  required: [path, mark]
"""
RECORD_IMPLEMENTATION = """\
def run(payload):
    with open(payload["path"], "a", encoding="utf-8") as marks:
        marks.write(payload["mark"] + "\\n")
    return {"recorded": payload["mark"]}
"""


@pytest.fixture
def root(skills_root: Path) -> Path:
    (skills_root / "policies").mkdir(exist_ok=True)
    (skills_root / "policies" / "permission_policies.json").write_text(json.dumps(PERMISSIONS))
    (skills_root / "policies" / "approval_policies.json").write_text(json.dumps(APPROVALS))
    (skills_root / "metadata" / "test").mkdir(parents=True)
    (skills_root / "metadata" / "test" / "record.yaml").write_text(RECORD_MANIFEST)
    (skills_root / "implementations" / "test").mkdir(parents=True)
    (skills_root / "implementations" / "test" / "__init__.py").write_text("")
    (skills_root / "implementations" / "test" / "record.py").write_text(RECORD_IMPLEMENTATION)
    return skills_root


def cli(server, key: str, *args: str, check: bool = True):
    return run(
        SKILLOS, "--json", *args, "--server", server.addr, env={"SKILLOS_TOKEN": key}, check=check
    )


def key(data: Path, role: str) -> str:
    created = run(
        SKILLOS, "--json", "keys", "create", "--data-dir", str(data), "--name", role, "--role", role
    )
    return json.loads(created.stdout)["key"]


def wait_for_status(server, key: str, execution_id: str, wanted: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        execution = json.loads(cli(server, key, "executions", "get", execution_id).stdout)
        if execution["status"] == wanted:
            return execution
        assert time.monotonic() < deadline, f"still {execution['status']}: {execution}"
        time.sleep(0.2)


def test_an_approved_run_executes_exactly_once_after_the_server_is_killed(
    root: Path, tmp_path: Path
):
    data = tmp_path / "data"
    data.mkdir()
    marks = tmp_path / "marks.txt"
    # First life: no runner, so nothing can execute before the kill.
    server = start_server(root, data, dev=False)
    requester, approver = key(data, "requester"), key(data, "approver")
    payload = json.dumps({"path": str(marks), "mark": "ran"})
    held = json.loads(
        cli(server, requester, "run", "--skill", "test/record", "--payload", payload).stdout
    )
    assert held["outcome"] == "pending_approval"

    listed = json.loads(cli(server, approver, "approvals", "list", "--actionable").stdout)[
        "approvals"
    ]
    assert [a["id"] for a in listed] == [held["approval_id"]]
    assert listed[0]["payload"] == json.loads(payload)

    # The requester may not approve its own run; a wrong payload hash is refused.
    own = cli(server, requester, "approvals", "approve", held["approval_id"], check=False)
    assert own.returncode == 1 and json.loads(own.stdout)["error"]["reason"] in (
        "SELF_APPROVAL",
        "NOT_AN_APPROVER",
    )
    swapped = cli(
        server,
        approver,
        "approvals",
        "approve",
        held["approval_id"],
        "--sha256",
        "0" * 64,
        check=False,
    )
    assert json.loads(swapped.stdout)["error"]["reason"] == "PAYLOAD_MISMATCH"

    approved = cli(
        server,
        approver,
        "approvals",
        "approve",
        held["approval_id"],
        "--sha256",
        listed[0]["payload_sha256"],
    )
    assert json.loads(approved.stdout)["state"] == "approved"
    wait_for_status(server, requester, held["execution_id"], "pending")
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    assert not marks.exists()

    # Second life, with the local Python runner: the approved run executes by itself, once.
    server = start_server(root, data, dev=False, local_runner=True)
    try:
        execution = wait_for_status(server, requester, held["execution_id"], "succeeded")
        assert execution["output"] == {"recorded": "ran"}
        time.sleep(2)
        assert marks.read_text().splitlines() == ["ran"]
    finally:
        assert server.stop() == 0


def test_a_rejected_run_never_executes(root: Path, tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    marks = tmp_path / "marks.txt"
    server = start_server(root, data, dev=False, local_runner=True)
    try:
        requester, approver = key(data, "requester"), key(data, "approver")
        payload = json.dumps({"path": str(marks), "mark": "never"})
        held = json.loads(
            cli(server, requester, "run", "--skill", "test/record", "--payload", payload).stdout
        )
        reasonless = cli(
            server,
            approver,
            "approvals",
            "reject",
            held["approval_id"],
            "--reason",
            " ",
            check=False,
        )
        assert reasonless.returncode == 1
        rejected = cli(
            server, approver, "approvals", "reject", held["approval_id"], "--reason", "not now"
        )
        assert json.loads(rejected.stdout)["state"] == "rejected"
        execution = wait_for_status(server, requester, held["execution_id"], "rejected")
        assert execution["error"]["code"] == "APPROVAL_REJECTED"
        # The requester withdraws another held run: cancelled with its approval.
        withdrawn = json.loads(
            cli(server, requester, "run", "--skill", "test/record", "--payload", payload).stdout
        )
        cancelled = cli(
            server, requester, "executions", "cancel", withdrawn["execution_id"], "--reason", "typo"
        )
        assert json.loads(cancelled.stdout)["status"] == "cancelled"
        late = cli(server, approver, "approvals", "approve", withdrawn["approval_id"], check=False)
        assert json.loads(late.stdout)["error"]["reason"] == "APPROVAL_NOT_PENDING"
        time.sleep(1.5)
        assert not marks.exists()
    finally:
        assert server.stop() == 0
