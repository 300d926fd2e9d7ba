"""The server as a new user meets it: grpcurl, buf curl (gRPC and gRPC-web), HTTP and the CLI."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from conftest import REPO, SKILLOS, free_port, run, start_server

# The catalog: the skills the runner serves (metadata/) and the flows the server runs (flows/).
FUNCTION_IDS = sorted(
    f"{path.parent.name}/{path.stem}" for path in (REPO / "skills" / "metadata").glob("*/*.yaml")
)
FLOW_IDS = sorted(
    f"{path.parent.name}/{path.stem}" for path in (REPO / "skills" / "flows").glob("*/*.yaml")
)
EXAMPLE_IDS = sorted(FUNCTION_IDS + FLOW_IDS)
PUBLIC_SERVICES = [
    "skillos.v1.ApprovalService",
    "skillos.v1.BudgetService",
    "skillos.v1.FlowService",
    "skillos.v1.JobService",
    "skillos.v1.OrchestratorService",
    "skillos.v1.ScheduleService",
    "skillos.v1.SkillService",
    "skillos.v1.WebhookService",
    "skillos.runner.v1.RunnerService",
]


def test_the_example_root_has_sixteen_skills_and_four_flows():
    assert (len(FUNCTION_IDS), len(FLOW_IDS)) == (16, 4)


def test_grpcurl_lists_every_service_with_health_and_reflection(server):
    listed = run("grpcurl", "-plaintext", server.addr, "list").stdout.split()
    for service in [
        *PUBLIC_SERVICES,
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ]:
        assert service in listed, listed


def test_health_check_answers_serving(server):
    assert server.grpcurl("grpc.health.v1.Health/Check") == {"status": "SERVING"}
    assert server.grpcurl(
        "grpc.health.v1.Health/Check", {"service": "skillos.v1.SkillService"}
    ) == {"status": "SERVING"}


def test_list_skills_over_grpc(server):
    response = server.grpcurl("skillos.v1.SkillService/ListSkills", {"page_size": 100})
    assert [skill["id"] for skill in response["skills"]] == EXAMPLE_IDS
    assert response["totalSize"] == len(EXAMPLE_IDS)
    assert all("inputSchema" not in skill for skill in response["skills"]), (
        "BASIC is the default view"
    )
    full = server.grpcurl("skillos.v1.SkillService/ListSkills", {"view": "SKILL_VIEW_FULL"})
    assert all("inputSchema" in skill for skill in full["skills"])
    convert = next(skill for skill in full["skills"] if skill["id"] == "finance/convert_currency")
    assert convert["inputSchema"]["required"] == ["amount", "from", "to"]


def test_list_skills_pages_and_refuses_a_token_used_with_other_filters(server):
    first = server.grpcurl("skillos.v1.SkillService/ListSkills", {"page_size": 5})
    assert len(first["skills"]) == 5 and first["nextPageToken"]
    seen = [skill["id"] for skill in first["skills"]]
    token = first["nextPageToken"]
    while token:
        page = server.grpcurl(
            "skillos.v1.SkillService/ListSkills", {"page_size": 5, "page_token": token}
        )
        seen += [skill["id"] for skill in page["skills"]]
        token = page.get("nextPageToken")
    assert seen == EXAMPLE_IDS
    reused = run(
        "grpcurl",
        "-plaintext",
        "-d",
        json.dumps({"page_token": first["nextPageToken"], "tag": "travel"}),
        server.addr,
        "skillos.v1.SkillService/ListSkills",
        check=False,
    )
    assert reused.returncode != 0 and "INVALID_PAGE_TOKEN" in reused.stderr


def test_list_skills_over_grpc_web_and_grpc_with_buf_curl(server):
    for protocol, extra in (("grpcweb", []), ("grpc", ["--http2-prior-knowledge"])):
        result = run(
            "buf",
            "curl",
            "--protocol",
            protocol,
            *extra,
            "--data",
            '{"page_size": 100}',
            f"{server.url}/skillos.v1.SkillService/ListSkills",
        )
        skills = json.loads(result.stdout)["skills"]
        assert [skill["id"] for skill in skills] == EXAMPLE_IDS, protocol


def test_get_skill_accepts_both_id_forms_and_reports_unknown_ids(server):
    skill = server.grpcurl(
        "skillos.v1.SkillService/GetSkill", {"skill_id": "finance.convert_currency"}
    )["skill"]
    assert skill["id"] == "finance/convert_currency"
    assert skill["sourcePath"] == "metadata/finance/convert_currency.yaml"
    missing = run(
        "grpcurl",
        "-plaintext",
        "-d",
        '{"skill_id": "finance/nope"}',
        server.addr,
        "skillos.v1.SkillService/GetSkill",
        check=False,
    )
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr and "SKILL_NOT_FOUND" in missing.stderr


def test_a_broken_yaml_is_reported_while_the_sixteen_keep_being_served(server):
    (server.root / "metadata" / "broken").mkdir()
    (server.root / "metadata" / "broken" / "bad.yaml").write_text(
        "id: broken/bad\nname: [unclosed\n"
    )
    deadline = time.monotonic() + 10
    while True:
        report = server.grpcurl(
            "skillos.v1.SkillService/ValidateSkills", {"check_entrypoints": True}
        )
        paths = [issue["path"] for issue in report.get("issues", [])]
        if "metadata/broken/bad.yaml" in paths or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert paths == ["metadata/broken/bad.yaml"], report
    assert report["issues"][0]["category"] == "VALIDATION_CATEGORY_SYNTAX"
    assert report.get("valid", False) is False
    listed = server.grpcurl("skillos.v1.SkillService/ListSkills", {"page_size": 100})
    assert [skill["id"] for skill in listed["skills"]] == EXAMPLE_IDS


def test_durable_work_services_answer_grpcurl_and_listings_filter_by_time(server):
    # Jobs, schedules and webhook triggers answer through reflection like every service.
    for method in (
        "skillos.v1.JobService/ListJobs",
        "skillos.v1.ScheduleService/ListSchedules",
        "skillos.v1.WebhookService/ListTriggers",
    ):
        assert server.grpcurl(method, {}) == {}, method
    window = {
        "createdAfter": "2026-01-01T00:00:00Z",
        "statuses": ["EXECUTION_STATUS_FAILED", "EXECUTION_STATUS_SUCCEEDED"],
    }
    assert server.grpcurl("skillos.v1.OrchestratorService/ListExecutions", window) == {}
    result = run(
        "grpcurl",
        "-plaintext",
        "-d",
        '{"createdAfter": "2026-02-01T00:00:00Z", "createdBefore": "2026-01-01T00:00:00Z"}',
        server.addr,
        "skillos.v1.OrchestratorService/ListExecutions",
        check=False,
    )
    assert result.returncode != 0
    assert "InvalidArgument" in result.stderr and "INVALID_REQUEST" in result.stderr


def test_http_health_readiness_and_metrics(server):
    assert server.http("/healthz") == (200, "ok\n")
    status, body = server.http("/readyz")
    assert status == 200 and json.loads(body)["status"] == "ready"
    server.grpcurl("skillos.v1.SkillService/ListSkills")
    status, metrics = server.http("/metrics")
    assert status == 200
    assert (
        'skillos_requests_total{method="/skillos.v1.SkillService/ListSkills",code="grpc_0"}'
        in metrics
    )
    assert f"skillos_skills {len(EXAMPLE_IDS)}" in metrics


def test_cli_lists_and_gets_skills_with_tables_and_json(server):
    table = run(SKILLOS, "skills", "list", "--server", server.addr).stdout
    assert table.splitlines()[0].split()[:3] == ["ID", "VERSION", "TAGS"]
    assert "finance/convert_currency" in table
    listed = json.loads(run(SKILLOS, "skills", "list", "--server", server.addr, "--json").stdout)
    assert [skill["id"] for skill in listed["skills"]] == EXAMPLE_IDS
    finance = json.loads(
        run(
            SKILLOS, "--json", "skills", "list", "--domain", "finance", "--server", server.addr
        ).stdout
    )
    assert {skill["id"] for skill in finance["skills"]} == {
        i for i in EXAMPLE_IDS if i.startswith("finance/")
    }
    skill = json.loads(
        run(
            SKILLOS, "skills", "get", "travel.search_flights", "--json", "--server", server.addr
        ).stdout
    )
    assert skill["id"] == "travel/search_flights"

    missing = run(SKILLOS, "skills", "get", "travel/nope", "--server", server.addr, check=False)
    assert missing.returncode == 1 and "SKILL_NOT_FOUND" in missing.stderr
    missing_json = run(
        SKILLOS, "skills", "get", "travel/nope", "--json", "--server", server.addr, check=False
    )
    assert missing_json.returncode == 1
    assert json.loads(missing_json.stdout)["error"]["reason"] == "SKILL_NOT_FOUND"


def test_cli_deprecates_and_undeprecates(server):
    refused = run(
        SKILLOS, "skills", "deprecate", "office/coffee_break", "--server", server.addr, check=False
    )
    assert refused.returncode == 1 and "DEPRECATION_REASON_REQUIRED" in refused.stderr
    run(
        SKILLOS,
        "skills",
        "deprecate",
        "office/coffee_break",
        "--reason",
        "retired",
        "--server",
        server.addr,
    )
    listed = json.loads(run(SKILLOS, "skills", "list", "--json", "--server", server.addr).stdout)
    assert "office/coffee_break" not in [skill["id"] for skill in listed["skills"]]
    run(SKILLOS, "skills", "undeprecate", "office/coffee_break", "--server", server.addr)
    listed = json.loads(run(SKILLOS, "skills", "list", "--json", "--server", server.addr).stdout)
    assert "office/coffee_break" in [skill["id"] for skill in listed["skills"]]


def test_cli_reports_an_unreachable_server():
    result = run(SKILLOS, "skills", "list", "--server", f"127.0.0.1:{free_port()}", check=False)
    assert result.returncode == 1
    assert "cannot reach the server" in result.stderr


def test_cli_validate_and_add_skill(skills_root: Path):
    ok = run(SKILLOS, "validate", "--root", str(skills_root))
    assert f"valid: {len(EXAMPLE_IDS)} skills, 0 errors" in ok.stdout

    created = json.loads(
        run(
            SKILLOS, "add-skill", "travel/search_trains", "--root", str(skills_root), "--json"
        ).stdout
    )
    assert Path(created["manifest"]).is_file() and Path(created["implementation"]).is_file()
    report = json.loads(run(SKILLOS, "validate", "--root", str(skills_root), "--json").stdout)
    assert report["valid"] is True and report["skill_count"] == len(EXAMPLE_IDS) + 1

    again = run(
        SKILLOS, "add-skill", "travel/search_trains", "--root", str(skills_root), check=False
    )
    assert again.returncode == 1 and "already exists" in again.stderr
    bad_id = run(SKILLOS, "add-skill", "no-slash", "--root", str(skills_root), check=False)
    assert bad_id.returncode == 1 and "INVALID_SKILL_ID" in bad_id.stderr

    (skills_root / "metadata" / "travel" / "broken.yaml").write_text(
        "id: travel/broken\nversion: 1.0\n"
    )
    broken = run(SKILLOS, "validate", "--root", str(skills_root), "--json", check=False)
    assert broken.returncode == 1
    issues = json.loads(broken.stdout)["issues"]
    assert {issue["path"] for issue in issues} == {"metadata/travel/broken.yaml"}
    assert any("version" in issue["message"] for issue in issues)


def test_cli_usage_errors_exit_2():
    assert run(SKILLOS, "skills", "frobnicate", check=False).returncode == 2
    assert run(SKILLOS, "add-skill", check=False).returncode == 2


def test_config_show_layers_file_env_and_flags(tmp_path: Path):
    config = tmp_path / "skillos.toml"
    config.write_text(
        '[server]\nlisten = "127.0.0.1:6001"\nshutdown_grace_seconds = 3\n[log]\nlevel = "debug"\n'
    )
    shown = run(
        SKILLOS,
        "config",
        "show",
        "--config",
        str(config),
        "--listen",
        "127.0.0.1:6003",
        "--json",
        env={"SKILLOS_LISTEN": "127.0.0.1:6002", "SKILLOS_LOG_LEVEL": "warn"},
    )
    effective = json.loads(shown.stdout)
    assert effective["server"]["listen"] == "127.0.0.1:6003"
    assert effective["server"]["shutdown_grace_seconds"] == 3
    assert effective["log"]["level"] == "warn"

    bad = run(SKILLOS, "config", "show", env={"SKILLOS_STORAGE_BACKEND": "mysql"}, check=False)
    assert (
        bad.returncode == 1
        and "storage.backend" in bad.stderr
        and "SKILLOS_STORAGE_BACKEND" in bad.stderr
    )
    config.write_text("[server]\nlissten = 1\n")
    bad_file = run(SKILLOS, "config", "show", "--config", str(config), check=False)
    assert bad_file.returncode == 1 and "lissten" in bad_file.stderr


def test_a_busy_port_fails_at_start(server, tmp_path: Path):
    data = tmp_path / "second"
    data.mkdir()
    result = run(
        SKILLOS,
        "serve",
        "--dev",
        "--root",
        str(server.root),
        "--data-dir",
        str(data),
        "--listen",
        server.addr,
        check=False,
        timeout=20,
    )
    assert result.returncode == 1
    assert f"cannot listen on {server.addr}" in result.stderr


def test_sigterm_drains_and_exits_cleanly(skills_root: Path, tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(skills_root, data)
    started = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 12
    log = (data / "server.log").read_text()
    assert "shutting down" in log and "shutdown complete" in log


def test_dev_mode_is_refused_on_a_non_loopback_address(skills_root: Path, tmp_path: Path):
    result = run(
        SKILLOS,
        "serve",
        "--dev",
        "--root",
        str(skills_root),
        "--data-dir",
        str(tmp_path),
        "--listen",
        f"0.0.0.0:{free_port()}",
        check=False,
        timeout=20,
    )
    assert result.returncode == 1
    assert "server.listen" in result.stderr and "dev mode" in result.stderr


def test_the_generated_python_client_talks_to_the_server(server):
    import grpc

    from skillos.v1 import skill_service_pb2, skill_service_pb2_grpc

    with grpc.insecure_channel(server.addr) as channel:
        skills = skill_service_pb2_grpc.SkillServiceStub(channel)
        listed = skills.ListSkills(skill_service_pb2.ListSkillsRequest(domain="travel"), timeout=10)
        assert [skill.id for skill in listed.skills] == [
            i for i in EXAMPLE_IDS if i.startswith("travel/")
        ]
        got = skills.GetSkill(
            skill_service_pb2.GetSkillRequest(skill_id="travel.search_flights"), timeout=10
        )
        assert got.skill.input_schema.fields["required"].list_value.values[0].string_value
        try:
            skills.GetSkill(skill_service_pb2.GetSkillRequest(skill_id="travel/nope"), timeout=10)
            raise AssertionError("GetSkill of an unknown skill succeeded")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
