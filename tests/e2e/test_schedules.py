"""Schedules with real processes: two `skillos serve` processes on one PostgreSQL fire a cron
schedule at most once per nominal time; the CLI creates, lists, triggers and deletes."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from pathlib import Path

import grpc
from conftest import SKILLOS, run, start_server

from skillos.v1 import job_pb2, job_service_pb2, job_service_pb2_grpc

DSN = os.environ.get("SKILLOS_TEST_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test")


def schedule_fires(addr: str, schedule_id: str) -> Counter:
    with grpc.insecure_channel(addr) as channel:
        stub = job_service_pb2_grpc.JobServiceStub(channel)
        jobs = stub.ListJobs(
            job_service_pb2.ListJobsRequest(
                source=job_pb2.JOB_SOURCE_SCHEDULE, source_id=schedule_id, page_size=1000
            )
        ).jobs
    return Counter(job.fire_time.seconds for job in jobs)


def test_two_servers_on_one_postgres_fire_each_cron_time_once(skills_root: Path, tmp_path: Path):
    env = {
        "SKILLOS_STORAGE_BACKEND": "postgres",
        "SKILLOS_POSTGRES_DSN": DSN,
        "SKILLOS_POSTGRES_SCHEMA": f"skillos_e2e_{uuid.uuid4().hex[:12]}",
    }
    servers = []
    for name in ("a", "b"):
        data = tmp_path / name
        data.mkdir()
        servers.append(start_server(skills_root, data, local_runner=True, extra_env=env))
    try:
        cli = (SKILLOS, "--json", "schedules")
        created = json.loads(
            run(
                *cli,
                "create",
                "office/coffee_break",
                "--cron",
                "* * * * * *",
                "--tz",
                "Asia/Tokyo",
                "--payload",
                '{"mood": "focused"}',
                "--server",
                servers[0].addr,
            ).stdout
        )
        assert created["state"] == "active" and created["next_fire_time"]
        time.sleep(6)
        fires = schedule_fires(servers[1].addr, created["id"])
        assert len(fires) >= 4, fires
        assert max(fires.values()) == 1, f"a nominal time fired twice: {fires}"
        # Both replicas see the same schedule; either may pause it.
        listed = json.loads(run(*cli, "list", "--server", servers[1].addr).stdout)["schedules"]
        assert [s["id"] for s in listed] == [created["id"]]
        run(*cli, "pause", created["id"], "--server", servers[1].addr)
        fired = json.loads(run(*cli, "trigger", created["id"], "--server", servers[0].addr).stdout)
        assert fired["job_id"]
        run(*cli, "delete", created["id"], "--server", servers[0].addr)
        missing = run(*cli, "get", created["id"], "--server", servers[1].addr, check=False)
        assert missing.returncode == 1
        assert json.loads(missing.stdout)["error"]["reason"] == "SCHEDULE_NOT_FOUND"
    finally:
        for server in servers:
            assert server.stop() == 0
