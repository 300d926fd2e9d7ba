"""The durable job queue with real processes: kill -9 of the server while 10,000 jobs are
queued, a counter skill that proves each job counted exactly once, and a failing skill that
reaches the dead letters after exactly its attempts and is requeued with the CLI."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from conftest import SKILLOS, run, start_runner, start_server
from google.protobuf import struct_pb2

from skillos.v1 import (
    job_pb2,
    job_service_pb2,
    job_service_pb2_grpc,
    orchestrator_service_pb2,
    orchestrator_service_pb2_grpc,
)

TOKEN = "jobs-test-runner-token-0123456789"
JOBS = 10_000
KEYS = 100

COUNTER_MANIFEST = """\
id: counter/incr
name: Counter
description: Adds one to a named counter, once per job.
version: 1.0.0
entrypoint: implementations.counter.incr:run
retryable: true
timeout_seconds: 30
input_schema:
  type: object
  required: [key]
  properties:
    key: {type: string}
"""

# The skill deduplicates on the job id, stable across attempts, as skills with side effects
# should: `seen` is the effect ledger, `runs` counts raw executions.
COUNTER_IMPLEMENTATION = """\
import sqlite3

DB = {db!r}


def run(payload, ctx=None):
    job = ctx.job_id or ctx.execution_id
    con = sqlite3.connect(DB, timeout=60, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO runs (job_id) VALUES (?)", (job,))
        fresh = con.execute("INSERT OR IGNORE INTO seen (job_id) VALUES (?)", (job,)).rowcount
        if fresh:
            con.execute(
                "INSERT INTO counts (key, n) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET n = n + 1",
                (payload["key"],),
            )
        con.execute("COMMIT")
    finally:
        con.close()
    return {{"key": payload["key"], "counted": bool(fresh)}}
"""

FAILING_MANIFEST = """\
id: flaky/always
name: Always Failing
description: Fails every time with an error that may succeed later.
version: 1.0.0
entrypoint: implementations.flaky.always:run
retryable: true
"""

FAILING_IMPLEMENTATION = """\
from skillos_runner import SkillError


def run(payload, ctx=None):
    raise SkillError("upstream_down", f"attempt {ctx.attempt} of job {ctx.job_id} failed", retryable=True)
"""


def write_root(root: Path, counter_db: Path) -> None:
    for domain, name, manifest, implementation in (
        ("counter", "incr", COUNTER_MANIFEST, COUNTER_IMPLEMENTATION.format(db=str(counter_db))),
        ("flaky", "always", FAILING_MANIFEST, FAILING_IMPLEMENTATION),
    ):
        (root / "metadata" / domain).mkdir(parents=True)
        (root / "metadata" / domain / f"{name}.yaml").write_text(manifest)
        (root / "implementations" / domain).mkdir(parents=True)
        (root / "implementations" / domain / "__init__.py").write_text("")
        (root / "implementations" / domain / f"{name}.py").write_text(implementation)
    (root / "implementations" / "__init__.py").write_text("")


def counter_db(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript(
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE counts (key TEXT PRIMARY KEY, n INTEGER NOT NULL);"
        "CREATE TABLE seen (job_id TEXT PRIMARY KEY);"
        "CREATE TABLE runs (job_id TEXT NOT NULL);"
    )
    con.close()
    return path


def wait_for_runners(addr: str, count: int) -> None:
    with grpc.insecure_channel(addr) as channel:
        stub = orchestrator_service_pb2_grpc.OrchestratorServiceStub(channel)
        deadline = time.monotonic() + 30
        while len(stub.ListRunners(orchestrator_service_pb2.ListRunnersRequest()).runners) < count:
            assert time.monotonic() < deadline, "the runners did not attach"
            time.sleep(0.1)


def scalar(db: Path, sql: str) -> int:
    con = sqlite3.connect(db, timeout=60)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


SERVER_ENV = {
    "SKILLOS_RUNNER_TOKEN": TOKEN,
    "SKILLOS_JOB_LEASE_SECONDS": "3",
    "SKILLOS_JOB_BACKOFF_INITIAL_MS": "100",
    "SKILLOS_JOB_BACKOFF_MAX_MS": "400",
    "SKILLOS_LOG_LEVEL": "warn",
}


def test_kill_9_with_10000_queued_jobs_loses_none_and_counts_each_once(tmp_path: Path):
    db = counter_db(tmp_path / "counter.db")
    root = tmp_path / "root"
    write_root(root, db)
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(root, data, extra_env=SERVER_ENV)
    runners: list[subprocess.Popen] = []
    try:
        # 10,000 jobs acknowledged before any runner is there: all of them wait in the queue.
        expected: dict[str, int] = {}
        acknowledged: list[str] = []
        with grpc.insecure_channel(server.addr) as channel:
            stub = job_service_pb2_grpc.JobServiceStub(channel)

            def enqueue(n: int) -> str:
                payload = struct_pb2.Struct()
                payload.update({"key": f"k{n % KEYS}"})
                request = job_service_pb2.EnqueueJobRequest(
                    skill_id="counter/incr", payload=payload
                )
                return stub.EnqueueJob(request, timeout=60).job.id

            started = time.monotonic()
            print()
            with ThreadPoolExecutor(max_workers=32) as pool:
                acknowledged = list(pool.map(enqueue, range(JOBS)))
            enqueue_seconds = time.monotonic() - started
        for n in range(JOBS):
            expected[f"k{n % KEYS}"] = expected.get(f"k{n % KEYS}", 0) + 1
        assert len(set(acknowledged)) == JOBS

        runners = [
            start_runner(server.addr, root, f"r{i}", tmp_path / f"runner{i}.log", TOKEN)
            for i in range(2)
        ]
        # kill -9 once about 30% of the jobs have counted.
        deadline = time.monotonic() + 120
        while scalar(db, "SELECT COUNT(*) FROM seen") < JOBS * 3 // 10:
            assert time.monotonic() < deadline, "the jobs did not start"
            time.sleep(0.05)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        done_at_kill = scalar(db, "SELECT COUNT(*) FROM seen")
        assert done_at_kill < JOBS, "every job ran before the kill; the test proved nothing"

        con = sqlite3.connect(data / "skillos.db")
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()

        restarted_at = time.monotonic()
        server = start_server(
            root, data, port=int(server.addr.rsplit(":", 1)[1]), extra_env=SERVER_ENV
        )
        first_dispatch = None
        deadline = time.monotonic() + 300
        while scalar(db, "SELECT COUNT(*) FROM seen") < JOBS:
            if first_dispatch is None and scalar(db, "SELECT COUNT(*) FROM seen") > done_at_kill:
                first_dispatch = time.monotonic() - restarted_at
            assert time.monotonic() < deadline, "the jobs did not all run after the restart"
            time.sleep(0.1)
        if first_dispatch is None:
            first_dispatch = time.monotonic() - restarted_at

        # Every acknowledged job ends SUCCEEDED: none queued, running or dead.
        with grpc.insecure_channel(server.addr) as channel:
            stub = job_service_pb2_grpc.JobServiceStub(channel)
            deadline = time.monotonic() + 60
            while True:
                open_jobs = stub.ListJobs(
                    job_service_pb2.ListJobsRequest(
                        states=[
                            job_pb2.JOB_STATE_QUEUED,
                            job_pb2.JOB_STATE_RUNNING,
                            job_pb2.JOB_STATE_PENDING_APPROVAL,
                        ],
                        page_size=10,
                    )
                ).jobs
                if not open_jobs:
                    break
                assert time.monotonic() < deadline, f"jobs still open: {open_jobs[:3]}"
                time.sleep(0.2)
            assert not stub.ListDeadLetters(job_service_pb2.ListDeadLettersRequest()).jobs
            succeeded = 0
            page_token = ""
            while True:
                page = stub.ListJobs(
                    job_service_pb2.ListJobsRequest(
                        states=[job_pb2.JOB_STATE_SUCCEEDED], page_size=1000, page_token=page_token
                    )
                )
                succeeded += len(page.jobs)
                if not page.next_page_token:
                    break
                page_token = page.next_page_token
            assert succeeded == JOBS

        con = sqlite3.connect(db)
        counts = dict(con.execute("SELECT key, n FROM counts"))
        seen = {row[0] for row in con.execute("SELECT job_id FROM seen")}
        runs = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        con.close()
        assert seen == set(acknowledged), "lost or unknown jobs"
        assert counts == expected, "a job counted twice or not at all"
        print(
            f"\nkill -9 with {JOBS} queued jobs: enqueued in {enqueue_seconds:.1f} s, killed after "
            f"{done_at_kill} had counted; lost 0, duplicate effects 0, raw re-executions "
            f"{runs - JOBS}; first dispatch {first_dispatch:.2f} s after the restart began"
        )
    finally:
        for runner in runners:
            if runner.poll() is None:
                runner.kill()
            runner.wait(10)
        if server.process.poll() is None:
            assert server.stop() == 0


def test_a_failing_skill_is_dead_after_exactly_its_attempts_and_requeued(tmp_path: Path):
    db = counter_db(tmp_path / "counter.db")
    root = tmp_path / "root"
    write_root(root, db)
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(root, data, extra_env=SERVER_ENV)
    runner = start_runner(server.addr, root, "r", tmp_path / "runner.log", TOKEN)
    try:
        wait_for_runners(server.addr, 1)
        cli = (SKILLOS, "--json", "jobs")
        where = ("--server", server.addr)
        result = run(
            *cli, "enqueue", "flaky/always", "--max-attempts", "4", "--wait", *where, check=False
        )
        assert result.returncode == 1, result
        job = json.loads(result.stdout)
        assert (job["state"], job["attempt"], job["max_attempts"]) == ("dead", 4, 4)
        assert job["last_error"]["code"] == "upstream_down"
        assert f"of job {job['id']} failed" in job["last_error"]["message"]
        assert len(job["execution_ids"]) == 4
        # Progress went to stderr, one line per change.
        assert "dead (attempt 4)" in result.stderr

        letters = json.loads(run(*cli, "dead-letters", *where).stdout)["jobs"]
        assert [letter["id"] for letter in letters] == [job["id"]]

        requeued = json.loads(run(*cli, "requeue", job["id"], "--max-attempts", "2", *where).stdout)
        assert (requeued["attempt"], requeued["max_attempts"]) == (0, 2)
        deadline = time.monotonic() + 30
        while True:
            again = json.loads(run(*cli, "get", job["id"], *where).stdout)
            if again["state"] == "dead":
                break
            assert time.monotonic() < deadline, again
            time.sleep(0.1)
        assert again["attempt"] == 2
        assert len(again["execution_ids"]) == 6

        # A bad request fails with a reason and a non-zero exit.
        bad = run(*cli, "requeue", "01a20fe9-e6b8-71b1-9dd0-6388a961ee01", *where, check=False)
        assert bad.returncode == 1
        assert json.loads(bad.stdout)["error"]["reason"] == "JOB_NOT_FOUND"
    finally:
        runner.kill()
        runner.wait(10)
        assert server.stop() == 0
