"""Dry runs the way a user makes them: `skillos run --dry-run` and grpcurl, with nothing left behind."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import SKILLOS, run, start_server
from test_runners import wait_for_runner

PAYLOAD = json.dumps({"amount": 100, "from": "USD", "to": "EUR"})


def test_a_dry_run_from_the_cli_and_grpcurl_plans_and_records_nothing(
    skills_root: Path, tmp_path: Path
):
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(skills_root, data, local_runner=True)
    try:
        runner = wait_for_runner(server.addr)
        printed = run(
            SKILLOS,
            "run",
            "--skill",
            "finance/convert_currency",
            "--payload",
            PAYLOAD,
            "--dry-run",
            "--server",
            server.addr,
        )
        assert (
            "dry run: finance/convert_currency" in printed.stdout and "would run" in printed.stdout
        )
        assert "runner:   local" in printed.stdout, printed.stdout

        plan = json.loads(
            run(
                SKILLOS,
                "--json",
                "run",
                "--skill",
                "finance.convert_currency",
                "--payload",
                PAYLOAD,
                "--dry-run",
                "--server",
                server.addr,
            ).stdout
        )
        assert plan["outcome"] == "dry_run" and plan["skill_id"] == "finance/convert_currency"
        assert plan["runner"]["id"] == runner["id"] and plan["refusals"] == []
        assert plan["estimated_cost"] > 0 and len(plan["payload_sha256"]) == 64

        answered = server.grpcurl(
            "skillos.v1.OrchestratorService/Run",
            {"skillId": "finance/convert_currency", "payload": json.loads(PAYLOAD), "dryRun": True},
        )
        assert answered["outcome"] == "RUN_OUTCOME_DRY_RUN"
        assert (
            answered["plan"]["skillId"] == "finance/convert_currency"
            and "execution" not in answered
        )

        # A payload against the schema fails as a run would; the command exits 1.
        refused = run(
            SKILLOS,
            "run",
            "--skill",
            "finance/convert_currency",
            "--payload",
            '{"amount": "lots"}',
            "--dry-run",
            "--server",
            server.addr,
            check=False,
        )
        assert refused.returncode == 1 and "INVALID_PAYLOAD" in refused.stderr

        listed = json.loads(
            run(SKILLOS, "--json", "executions", "list", "--server", server.addr).stdout
        )
        assert listed["executions"] == [], "a dry run stored an execution"
    finally:
        assert server.stop() == 0


def test_a_dry_run_that_would_be_refused_exits_1_and_says_why(server):
    # No runner is attached to this server: a real run would meet NO_RUNNER.
    result = run(
        SKILLOS,
        "--json",
        "run",
        "--skill",
        "finance/convert_currency",
        "--payload",
        PAYLOAD,
        "--dry-run",
        "--server",
        server.addr,
        check=False,
    )
    assert result.returncode == 1
    plan = json.loads(result.stdout)
    assert [refusal["reason"] for refusal in plan["refusals"]] == ["NO_RUNNER"]
    text = run(
        SKILLOS,
        "run",
        "--skill",
        "finance/convert_currency",
        "--payload",
        PAYLOAD,
        "--dry-run",
        "--server",
        server.addr,
        check=False,
    )
    assert text.returncode == 1 and "would be refused" in text.stdout and "NO_RUNNER" in text.stdout
