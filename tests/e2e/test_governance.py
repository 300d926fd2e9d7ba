"""Governance with the real binary: API keys made with the CLI, used by the CLI, grpcurl and a
generated gRPC client; permission policies; strict rate limiting shared by two server processes
through Redis."""

from __future__ import annotations

import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from conftest import SKILLOS, run, start_server

POLICIES = {
    "roles": {"operator": ["travel:*", "finance:*"], "viewer": []},
    "policies": [
        {"skill_id": "travel/*", "required_permissions": ["travel:run"], "policy_id": "travel"},
        {"skill_id": "finance.*", "required_permissions": "finance:run", "policy_id": "finance"},
    ],
}


def create_key(data: Path, *roles: str, tenant: str = "default", env: dict | None = None) -> dict:
    args = [
        SKILLOS,
        "--json",
        "keys",
        "create",
        "--data-dir",
        str(data),
        "--name",
        "e2e",
        "--tenant",
        tenant,
    ]
    for role in roles:
        args += ["--role", role]
    return json.loads(run(*args, env={**os.environ, **(env or {})}).stdout)


@pytest.fixture
def secured(skills_root: Path, tmp_path: Path):
    """A server without dev mode, with the policies above."""
    (skills_root / "policies").mkdir(exist_ok=True)
    (skills_root / "policies" / "permission_policies.json").write_text(json.dumps(POLICIES))
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(skills_root, data, dev=False)
    yield server
    assert server.stop() == 0


def test_keys_made_with_the_cli_authenticate_every_client_until_revoked(secured):
    data = secured.data
    viewer = create_key(data, "viewer")
    assert viewer["key"].startswith("skos_") and viewer["roles"] == ["viewer"]
    listed = json.loads(run(SKILLOS, "--json", "keys", "list", "--data-dir", str(data)).stdout)
    assert [key["id"] for key in listed["keys"]] == [viewer["id"]]
    assert "key" not in listed["keys"][0], "listings never show the secret"

    # No credential: refused with a clear reason and a non-zero exit.
    anonymous = run(SKILLOS, "--json", "skills", "list", "--server", secured.addr, check=False)
    assert anonymous.returncode == 1
    assert json.loads(anonymous.stdout)["error"]["reason"] == "UNAUTHENTICATED"

    env = {**os.environ, "SKILLOS_TOKEN": viewer["key"]}
    listed = run(SKILLOS, "--json", "skills", "list", "--server", secured.addr, env=env)
    assert len(json.loads(listed.stdout)["skills"]) > 0

    # grpcurl with the key, and a tenant and role smuggled in headers and the body.
    result = run(
        "grpcurl",
        "-plaintext",
        "-H",
        f"authorization: Bearer {viewer['key']}",
        "-H",
        "x-tenant-id: acme",
        "-H",
        "x-role: admin",
        "-d",
        json.dumps(
            {
                "skill_id": "travel/search_flights",
                "payload": {
                    "origin": "A",
                    "destination": "B",
                    "role": "admin",
                    "tenant_id": "acme",
                },
            }
        ),
        secured.addr,
        "skillos.v1.OrchestratorService/Run",
        check=False,
    )
    assert result.returncode != 0
    assert "PermissionDenied" in result.stderr and "POLICY_DENIED" in result.stderr

    revoked = run(SKILLOS, "--json", "keys", "revoke", viewer["id"], "--data-dir", str(data))
    assert json.loads(revoked.stdout) == {"id": viewer["id"], "revoked": True}
    # The server keeps a key it read in memory for under a second: past that, it is refused.
    time.sleep(1.0)
    refused = run(
        SKILLOS, "--json", "skills", "list", "--server", secured.addr, env=env, check=False
    )
    assert refused.returncode == 1 and "revoked" in json.loads(refused.stdout)["error"]["message"]
    again = run(SKILLOS, "keys", "revoke", viewer["id"], "--data-dir", str(data), check=False)
    assert again.returncode == 1 and "already revoked" in again.stderr


def test_grpc_web_takes_the_same_credentials(secured):
    url = f"http://{secured.addr}/skillos.v1.SkillService/ListSkills"
    refused = run("buf", "curl", "--protocol", "grpcweb", "--data", "{}", url, check=False)
    assert refused.returncode != 0 and "unauthenticated" in refused.stderr.lower()
    key = create_key(secured.data, "viewer")["key"]
    listed = run(
        "buf",
        "curl",
        "--protocol",
        "grpcweb",
        "--header",
        f"authorization: Bearer {key}",
        "--data",
        "{}",
        url,
    )
    assert len(json.loads(listed.stdout)["skills"]) > 0


def test_policies_decide_who_runs_what_and_other_tenants_see_nothing(secured):
    from skillos.v1 import orchestrator_service_pb2 as orch
    from skillos.v1 import orchestrator_service_pb2_grpc as orch_grpc

    operator = create_key(secured.data, "operator")["key"]
    foreign = create_key(secured.data, "admin", tenant="acme")["key"]

    def call(key: str):
        return [("authorization", f"Bearer {key}")]

    with grpc.insecure_channel(secured.addr) as channel:
        client = orch_grpc.OrchestratorServiceStub(channel)
        # A permitted run gets past the policy to the payload check (INVALID_ARGUMENT here); a
        # run of a skill no policy grants stops at the policy.
        with pytest.raises(grpc.RpcError) as denied:
            client.Run(
                orch.RunRequest(skill_id="office/coffee_break"), metadata=call(operator), timeout=10
            )
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as permitted:
            client.Run(
                orch.RunRequest(skill_id="travel/search_flights"),
                metadata=call(operator),
                timeout=10,
            )
        assert permitted.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        listed = client.ListExecutions(
            orch.ListExecutionsRequest(), metadata=call(foreign), timeout=10
        )
        assert list(listed.executions) == []


def test_strict_rate_limits_hold_across_two_server_processes_sharing_redis(
    skills_root: Path, tmp_path: Path
):
    from skillos.v1 import orchestrator_service_pb2 as orch
    from skillos.v1 import orchestrator_service_pb2_grpc as orch_grpc

    redis_url = os.environ.get("SKILLOS_TEST_REDIS_URL", "redis://127.0.0.1:6379")
    dsn = os.environ.get("SKILLOS_TEST_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test")
    # Two replicas as in production: one PostgreSQL schema (where the key lives) and one Redis.
    # A fresh tenant per run keeps earlier runs' counts out.
    tenant = f"t{uuid.uuid4().hex[:12]}"
    env = {
        "SKILLOS_RATE_LIMIT_STRICT": "1",
        "SKILLOS_REDIS_URL": redis_url,
        "SKILLOS_RATE_LIMIT_TENANT": "1/h:20",
        "SKILLOS_STORAGE_BACKEND": "postgres",
        "SKILLOS_POSTGRES_DSN": dsn,
        "SKILLOS_POSTGRES_SCHEMA": f"e2e_{tenant}",
    }
    first_data, second_data = tmp_path / "first", tmp_path / "second"
    first_data.mkdir()
    second_data.mkdir()
    first = start_server(skills_root, first_data, dev=False, extra_env=env)
    second = start_server(skills_root, second_data, dev=False, extra_env=env)
    try:
        key = create_key(first_data, "admin", tenant=tenant, env=env)["key"]

        def route(index: int) -> str:
            server = (first, second)[index % 2]
            with grpc.insecure_channel(server.addr) as channel:
                client = orch_grpc.OrchestratorServiceStub(channel)
                try:
                    client.Route(
                        orch.RouteRequest(query="convert 100 dollars to euros"),
                        metadata=[("authorization", f"Bearer {key}")],
                        timeout=10,
                    )
                    return "ok"
                except grpc.RpcError as error:
                    return error.code().name

        with ThreadPoolExecutor(max_workers=16) as pool:
            outcomes = list(pool.map(route, range(60)))
        admitted = outcomes.count("ok")
        assert outcomes.count("RESOURCE_EXHAUSTED") == 60 - admitted, outcomes
        # Burst 20 at one per hour: at most the burst plus what accrues during the test.
        assert 20 <= admitted <= 21, outcomes
    finally:
        assert first.stop() == 0
        assert second.stop() == 0


def test_strict_mode_refuses_to_start_without_redis(skills_root: Path, tmp_path: Path):
    result = run(
        SKILLOS,
        "serve",
        "--root",
        str(skills_root),
        "--data-dir",
        str(tmp_path),
        "--no-local-runner",
        env={
            **os.environ,
            "SKILLOS_RATE_LIMIT_STRICT": "1",
            "SKILLOS_REDIS_URL": "redis://127.0.0.1:1",
        },
        check=False,
        timeout=30,
    )
    assert result.returncode == 1
    assert "Redis" in result.stderr
