"""Durable flows with real processes: flow runs are started with the CLI, the server is killed
with SIGKILL in the middle of them, and after a restart every run completes. A ledger skill
(a real Python runner) records each raw run and each effect by its step key: no step that had
finished before the kill ran again, and every step had exactly one effect. On SQLite and on
PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from conftest import SKILLOS, run, start_runner, start_server
from test_runners import wait_for_runner

TOKEN = "flows-test-runner-token-0123456789"
RUNS = 6
# s1, s2, four loop iterations of `inner`, and the two members of `both`.
STEPS_PER_RUN = 8
# The one step of the sub-flow each run starts last.
CHILD_STEPS = 1
EFFECTS = RUNS * (STEPS_PER_RUN + CHILD_STEPS)
DSN = os.environ.get("SKILLOS_TEST_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test")

MANIFEST = """\
id: ledger/step
name: Ledger step
description: Adds one to n, recording its effect once per flow step.
version: 1.0.0
entrypoint: implementations.ledger.step:run
timeout_seconds: 30
"""

# `runs` counts raw runs; `seen` is the effect ledger, keyed by the step key the server gives
# (stable across a re-dispatch after a crash), as a skill with side effects should do.
IMPLEMENTATION = """\
import sqlite3
import time

DB = {db!r}


def _write(sql, key):
    con = sqlite3.connect(DB, timeout=60, isolation_level=None)
    try:
        con.execute(sql, (key,))
    finally:
        con.close()


def run(payload, ctx=None):
    key = ctx.step_key
    assert key, "a flow step has a step key"
    _write("INSERT INTO runs (step_key) VALUES (?)", key)
    time.sleep(0.15)
    _write("INSERT OR IGNORE INTO seen (step_key) VALUES (?)", key)
    _write("INSERT INTO done (step_key) VALUES (?)", key)
    return {{"n": payload.get("n", 0) + 1}}
"""

FLOW = """\
id: ledger/chain
version: 1.0.0
description: Steps, a loop and a parallel group, each a ledger step.
steps:
  - {name: s1, skill: ledger/step}
  - {name: s2, skill: ledger/step}
  - name: again
    loop:
      max_iterations: 4
      steps:
        - {name: inner, skill: ledger/step}
  - name: both
    parallel:
      - {name: p1, skill: ledger/step}
      - {name: p2, skill: ledger/step}
  - {name: nested, flow: ledger/inner, input: "${{ steps.p1.output }}"}
output: {p1: "${{ steps.p1.output }}", p2: "${{ steps.p2.output }}", nested: "${{ steps.nested.output }}"}
"""

SUB_FLOW = """\
id: ledger/inner
version: 1.0.0
description: One ledger step, run as a sub-flow.
steps:
  - {name: only, skill: ledger/step}
"""


def write_root(root: Path, db: Path) -> None:
    (root / "metadata" / "ledger").mkdir(parents=True)
    (root / "metadata" / "ledger" / "step.yaml").write_text(MANIFEST)
    (root / "implementations" / "ledger").mkdir(parents=True)
    (root / "implementations" / "__init__.py").write_text("")
    (root / "implementations" / "ledger" / "__init__.py").write_text("")
    (root / "implementations" / "ledger" / "step.py").write_text(IMPLEMENTATION.format(db=str(db)))
    (root / "flows" / "ledger").mkdir(parents=True)
    (root / "flows" / "ledger" / "chain.yaml").write_text(FLOW)
    (root / "flows" / "ledger" / "inner.yaml").write_text(SUB_FLOW)


def ledger(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript(
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE runs (step_key TEXT NOT NULL);"
        "CREATE TABLE seen (step_key TEXT PRIMARY KEY);"
        "CREATE TABLE done (step_key TEXT NOT NULL);"
    )
    con.close()
    return path


def rows(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(db, timeout=60)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# The flow steps whose execution had ended well in the server's store: a step key for each.
FINISHED_STEPS = (
    "SELECT k.idem_key FROM idempotency_keys k JOIN executions e ON e.id = k.execution_id "
    "WHERE k.method = 'FlowStep' AND e.status = 'succeeded'"
)


def finished_in_store(backend: str, data: Path, schema: str) -> set[str]:
    """Step keys (`<run>:<path>`) of the steps the server had recorded as succeeded."""
    if backend == "sqlite":
        keys = [key for (key,) in rows(data / "skillos.db", FINISHED_STEPS)]
    else:
        out = run("psql", DSN, "-At", "-c", f"SET search_path TO {schema}; {FINISHED_STEPS}").stdout
        keys = [line for line in out.splitlines() if line.startswith("flow:")]
    # flow:<run>:<retries>:<path>:<attempt>
    return {f"{key.split(':')[1]}:{key.split(':')[3]}" for key in keys}


def cli(addr: str, *args: str) -> subprocess.CompletedProcess:
    return run(SKILLOS, "flows", "--server", f"http://{addr}", *args)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_in_the_middle_of_flows_resumes_them_without_running_a_finished_step_again(
    backend: str, tmp_path: Path
):
    db = ledger(tmp_path / "ledger.db")
    root = tmp_path / "root"
    write_root(root, db)
    data = tmp_path / "data"
    data.mkdir()
    env = {
        "SKILLOS_RUNNER_TOKEN": TOKEN,
        "SKILLOS_FLOW_LEASE_SECONDS": "2",
        "SKILLOS_FLOW_POLL_INTERVAL_MS": "200",
        "SKILLOS_LOG_LEVEL": "info",
    }
    schema = f"e2e_flows_{uuid.uuid4().hex[:12]}"
    if backend == "postgres":
        env |= {
            "SKILLOS_STORAGE_BACKEND": "postgres",
            "SKILLOS_POSTGRES_DSN": DSN,
            "SKILLOS_POSTGRES_SCHEMA": schema,
        }
    server = start_server(root, data, extra_env=env)
    runner = start_runner(server.addr, root, "ledger", tmp_path / "runner.log", TOKEN)
    try:
        listed = json.loads(cli(server.addr, "list", "--json").stdout)
        assert [flow["id"] for flow in listed["flows"]] == ["ledger/chain", "ledger/inner"]
        deadline = time.monotonic() + 30
        while (
            "ledger/step"
            not in run(SKILLOS, "skills", "list", "--server", f"http://{server.addr}").stdout
        ):
            assert time.monotonic() < deadline, "the runner did not register"
            time.sleep(0.1)
        time.sleep(0.5)
        ids = [
            cli(server.addr, "start", "ledger/chain", "--input", '{"n": 0}').stdout.strip()
            for _ in range(RUNS)
        ]
        assert len(set(ids)) == RUNS and all(len(i) == 36 for i in ids), ids

        # kill -9 once about a third of the steps have finished.
        deadline = time.monotonic() + 60
        while len(rows(db, "SELECT step_key FROM done")) < RUNS * STEPS_PER_RUN // 3:
            assert time.monotonic() < deadline, "the flows did not start"
            time.sleep(0.02)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        # A step is finished once the server recorded its execution's end; one whose skill
        # ended but whose answer the server never stored is dispatched again (with its step
        # key, so its effect is not repeated).
        finished_before = finished_in_store(backend, data, schema)
        skill_ended = {key for (key,) in rows(db, "SELECT step_key FROM done")}
        assert finished_before, "no step had finished before the kill; the test proved nothing"
        assert finished_before <= skill_ended
        assert len(finished_before) < EFFECTS, "every step ended before the kill"

        server = start_server(root, data, port=int(server.addr.rsplit(":", 1)[1]), extra_env=env)
        deadline = time.monotonic() + 120
        runs = {}
        while True:
            runs = {i: json.loads(cli(server.addr, "get", i, "--json").stdout) for i in ids}
            if all(r["status"] not in ("running", "waiting") for r in runs.values()):
                break
            assert time.monotonic() < deadline, (
                f"runs still open: {[r['status'] for r in runs.values()]}"
            )
            time.sleep(0.3)

        for run_id, stored in runs.items():
            assert stored["status"] == "succeeded", stored
            assert stored["output"] == {"p1": {"n": 7}, "p2": {"n": 7}, "nested": {"n": 8}}, stored
            skill_steps = [s for s in stored["steps"] if s["kind"] == "skill"]
            assert len(skill_steps) == STEPS_PER_RUN
            assert all(s["status"] == "succeeded" for s in stored["steps"]), stored["steps"]
            expected = {f"{run_id}:{s['path']}" for s in skill_steps}
            assert {f"{run_id}:{p}" for p in ("s1", "s2", "both.p1", "both.p2")} <= expected
            assert f"{run_id}:again[3].inner" in expected
            children = json.loads(cli(server.addr, "runs", "--parent", run_id, "--json").stdout)
            assert [c["status"] for c in children["runs"]] == ["succeeded"], children

        raw = {}
        for (key,) in rows(db, "SELECT step_key FROM runs"):
            raw[key] = raw.get(key, 0) + 1
        seen = {key for (key,) in rows(db, "SELECT step_key FROM seen")}
        assert len(seen) == EFFECTS, "a step had no effect"
        assert all(n >= 1 for n in raw.values()) and set(raw) == seen
        ran_again = sorted(key for key in finished_before if raw[key] > 1)
        assert not ran_again, f"steps that had finished ran again: {ran_again}"
        redispatched = sum(n - 1 for n in raw.values())
        print(
            f"\nkill -9 during {RUNS} flows on {backend}: {len(finished_before)} of "
            f"{EFFECTS} steps had finished; finished steps run again 0, "
            f"steps cut off and dispatched again with their step key {redispatched}"
        )
    finally:
        if runner.poll() is None:
            runner.kill()
        runner.wait(10)
        if server.process.poll() is None:
            assert server.stop() == 0


EXAMPLES = [
    (
        "oysters/quote_and_ship",
        {
            "customer": "Le Bistrot",
            "items": [{"variety": "gillardeau", "size": 2, "dozens": 10}],
            "distance_km": 450,
            "cost_per_dozen": 12,
        },
    ),
    (
        "travel/plan_trip",
        {
            "origin": "SVO",
            "destination": "AER",
            "city": "Sochi",
            "date": "2026-12-18",
            "return_date": "2026-12-21",
            "nights": 3,
            "hotel": True,
        },
    ),
    ("finance/convert_along", {"amount": 100, "path": ["USD", "EUR", "GBP"]}),
]


def test_the_example_flows_run_on_the_example_skills(skills_root: Path, tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(skills_root, data, local_runner=True)
    try:
        listed = json.loads(cli(server.addr, "list", "--json").stdout)
        assert sorted(flow["id"] for flow in listed["flows"]) == sorted(
            [i for i, _ in EXAMPLES] + ["oysters/order_with_sign_off"]
        )
        wait_for_runner(server.addr)
        outputs = {}
        for flow, flow_input in EXAMPLES:
            started = cli(server.addr, "start", flow, "--input", json.dumps(flow_input), "--wait")
            outputs[flow] = json.loads(started.stdout)
            assert "succeeded" in started.stderr, started.stderr
        quote = outputs["oysters/quote_and_ship"]
        assert quote["quote_id"].startswith("Q-") and quote["profitable"] is True
        assert quote["delivery_days"] >= 1
        trip = outputs["travel/plan_trip"]
        assert trip["hotels"] == "succeeded" and trip["itinerary"]["days"] == 3
        hop = outputs["finance/convert_along"]
        assert (hop["from"], hop["to"]) == ("EUR", "GBP")

        # A currency the skill does not know fails its step; the run names it and exits 1.
        failed = run(
            SKILLOS,
            "flows",
            "--server",
            f"http://{server.addr}",
            "start",
            "finance/convert_along",
            "--input",
            '{"amount": 1, "path": ["USD", "XXX"]}',
            "--wait",
            "--json",
            check=False,
        )
        assert failed.returncode == 1, failed
        document = json.loads(failed.stdout)
        assert document["status"] == "failed"
        assert document["error"]["message"].startswith(
            "step hops[0].hop (finance/convert_currency)"
        )
    finally:
        assert server.stop() == 0


def test_the_example_order_waits_for_its_sign_off_and_its_payment(
    skills_root: Path, tmp_path: Path
):
    """An order over 500 is held for an approver's sign-off, then waits for the payment's
    signal (sent here before the run gets to its wait step: it is kept), then plans the
    delivery."""
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(skills_root, data, local_runner=True)
    try:
        wait_for_runner(server.addr)
        created = run(
            SKILLOS,
            "keys",
            "create",
            "--data-dir",
            str(data),
            "--name",
            "signer",
            "--role",
            "admin",
            "--role",
            "approver",
            "--json",
        )
        signer = json.loads(created.stdout)["key"]
        order = {
            "customer": "Le Bistrot",
            "items": [{"variety": "gillardeau", "size": 2, "dozens": 20}],
            "distance_km": 450,
        }
        run_id = cli(
            server.addr, "start", "oysters/order_with_sign_off", "--input", json.dumps(order)
        ).stdout.strip()

        approval = None
        deadline = time.monotonic() + 30
        while approval is None and time.monotonic() < deadline:
            listed = json.loads(
                run(
                    SKILLOS, "approvals", "--server", f"http://{server.addr}", "list", "--json"
                ).stdout
            )
            approval = next(
                (a for a in listed["approvals"] if a.get("flow_run_id") == run_id), None
            )
            time.sleep(0.2)
        assert approval is not None, "the sign-off is pending"
        assert approval["step_path"] == "sign_off"
        assert approval["skill_id"] == "oysters/order_with_sign_off#sign_off"

        # The requester may not sign its own order off; a bad signal name is refused.
        own = run(
            SKILLOS,
            "approvals",
            "--server",
            f"http://{server.addr}",
            "approve",
            approval["id"],
            check=False,
        )
        assert own.returncode == 1 and "SELF_APPROVAL" in own.stderr, own
        bad = run(
            SKILLOS,
            "flows",
            "--server",
            f"http://{server.addr}",
            "signal",
            run_id,
            "no way",
            check=False,
        )
        assert bad.returncode == 1 and "INVALID_SIGNAL" in bad.stderr, bad

        cli(server.addr, "signal", run_id, "payment_received", "--payload", '{"ref": "PAY-77"}')
        run(
            SKILLOS,
            "approvals",
            "--server",
            f"http://{server.addr}",
            "approve",
            approval["id"],
            "--token",
            signer,
            "--comment",
            "fine",
        )
        watched = run(
            SKILLOS, "flows", "--server", f"http://{server.addr}", "watch", run_id, "--json"
        )
        document = json.loads(watched.stdout)
        assert document["status"] == "succeeded", document
        output = document["output"]
        assert output["signed_off"] is True and output["payment"] == {"ref": "PAY-77"}
        assert output["total"] > 500 and output["delivery_days"] >= 1
        steps = {step["path"]: step for step in document["steps"]}
        assert steps["sign_off"]["output"]["decisions"][0]["comment"] == "fine"
        assert steps["paid"]["output"]["signal"] == "payment_received"
    finally:
        assert server.stop() == 0
