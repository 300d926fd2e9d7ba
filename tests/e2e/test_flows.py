"""Pipelines the way a user runs them: `skillos pipeline run` and grpcurl against the server with
its local Python runner, over the example skills and two of the test's own."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import SKILLOS, run, start_server
from test_runners import wait_for_runner

KEYS = """\
id: demo/keys
name: keys
description: The sorted keys of its payload.
version: 0.1.0
entrypoint: implementations.demo.keys:run
input_schema: {type: object}
"""

NAP = """\
id: demo/nap
name: nap
description: Sleeps for one second, then answers what it got.
version: 0.1.0
entrypoint: implementations.demo.nap:run
input_schema: {type: object}
"""


def add_demo_skills(root: Path) -> None:
    (root / "metadata" / "demo").mkdir()
    (root / "metadata" / "demo" / "keys.yaml").write_text(KEYS)
    (root / "metadata" / "demo" / "nap.yaml").write_text(NAP)
    code = root / "implementations" / "demo"
    code.mkdir()
    (code / "__init__.py").write_text("")
    (code / "keys.py").write_text("def run(payload):\n    return {'keys': sorted(payload)}\n")
    (code / "nap.py").write_text(
        "import time\n\n\ndef run(payload):\n    time.sleep(1)\n    return {'slept': 1}\n"
    )


def pipeline(server, *steps: str, payload: str = "{}", json_output: bool = True, check=True):
    args = [SKILLOS, *(["--json"] if json_output else []), "pipeline", "run"]
    for step in steps:
        args += ["--step", step]
    return run(*args, "--payload", payload, "--server", server.addr, check=check)


def test_a_pipeline_chains_outputs_and_runs_groups_at_once(skills_root: Path, tmp_path: Path):
    add_demo_skills(skills_root)
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(skills_root, data, local_runner=True)
    try:
        wait_for_runner(server.addr)

        # A group's output is keyed by member; the next step gets it as its payload.
        answered = json.loads(
            pipeline(server, "oysters/get_pricelist|finance/get_exchange_rates", "demo/keys").stdout
        )
        assert answered["status"] == "succeeded", answered
        assert answered["output"] == {
            "keys": ["finance/get_exchange_rates", "oysters/get_pricelist"]
        }
        assert [(s["index"], s["member"]) for s in answered["steps"]] == [
            (0, "oysters/get_pricelist"),
            (0, "finance/get_exchange_rates"),
            (1, ""),
        ]
        rates = answered["steps"][1]["output"]
        assert rates["base"] == "USD" and rates["rates"]["EUR"] == 0.92
        for step in answered["steps"]:
            execution = json.loads(
                run(
                    SKILLOS, "executions", "get", step["execution_id"], "--server", server.addr
                ).stdout
            )
            assert execution["skill_id"] == step["skill_id"]

        # Two one-second skills in one group take about one second.
        started = time.monotonic()
        printed = pipeline(server, "demo/nap|demo/nap", json_output=False)
        took = time.monotonic() - started
        assert took < 1.9, f"the members ran one after the other: {took:.2f} s"
        assert json.loads(printed.stdout) == {"demo/nap": {"slept": 1}, "demo/nap#2": {"slept": 1}}
        assert "running 1 step(s)..." in printed.stderr

        # The same over gRPC, with grpcurl.
        answered = server.grpcurl(
            "skillos.v1.OrchestratorService/RunPipeline",
            {"steps": ["finance/get_exchange_rates", "demo/keys"], "payload": {"base": "EUR"}},
        )
        assert answered["status"] == "PIPELINE_STATUS_SUCCEEDED", answered
        assert answered["output"] == {"keys": ["as_of", "base", "rates"]}
    finally:
        server.stop()


def test_a_refused_step_stops_the_pipeline_and_bad_steps_run_nothing(
    skills_root: Path, tmp_path: Path
):
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(skills_root, data, local_runner=True)
    try:
        wait_for_runner(server.addr)
        # get_exchange_rates' output is not a payload convert_currency accepts.
        failed = pipeline(
            server,
            "finance/get_exchange_rates",
            "finance/convert_currency",
            "oysters/get_pricelist",
            check=False,
        )
        assert failed.returncode == 1, failed
        answered = json.loads(failed.stdout)
        assert answered["status"] == "failed"
        assert answered["error"]["code"] == "INVALID_PAYLOAD"
        assert [(s["skill_id"], s["status"]) for s in answered["steps"]] == [
            ("finance/get_exchange_rates", "succeeded"),
            ("finance/convert_currency", "refused"),
        ]

        listed = lambda: json.loads(  # noqa: E731
            run(SKILLOS, "--json", "executions", "list", "--server", server.addr).stdout
        )
        before = len(listed()["executions"])
        for steps, reason in [
            (["finance/get_exchange_rates", "finance/nope"], "SKILL_NOT_FOUND"),
            (["finance/get_exchange_rates", "finance/convert_currency|"], "INVALID_PIPELINE"),
        ]:
            refused = pipeline(server, *steps, json_output=False, check=False)
            assert refused.returncode == 1, refused
            assert f"({reason})" in refused.stderr, refused.stderr
        assert len(listed()["executions"]) == before, "a refused pipeline ran nothing"

        usage = run(SKILLOS, "pipeline", "run", "--server", server.addr, check=False)
        assert usage.returncode == 2 and "--step" in usage.stderr
    finally:
        server.stop()


# A composition as SkillOS 0.2.3 writes it (`skillos compose-skill`): its metadata file and its
# composition file, saved inactive.
COMPOSED_METADATA = """\
id: oysters/pricelist_with_rates
name: pricelist_with_rates
description: The oyster price list together with today's exchange rates.
version: 0.1.0
entrypoint: skillos.composition:run_composed_skill
tags:
- oysters
- composed
"""
COMPOSITION = {
    "id": "oysters/pricelist_with_rates",
    "steps": [["oysters/get_pricelist", "finance/get_exchange_rates"]],
    "version": "0.1.0",
    "active": False,
}


def test_a_predecessors_composition_is_validated_listed_activated_and_run(
    skills_root: Path, tmp_path: Path
):
    (skills_root / "metadata" / "oysters" / "pricelist_with_rates.yaml").write_text(
        COMPOSED_METADATA
    )
    compositions = skills_root / "compositions" / "oysters"
    compositions.mkdir(parents=True)
    (compositions / "pricelist_with_rates.json").write_text(json.dumps(COMPOSITION))
    validated = json.loads(run(SKILLOS, "--json", "validate", "--root", str(skills_root)).stdout)
    assert validated["valid"] and validated["skill_count"] == 21, (
        validated
    )  # 16 skills, 4 flows and the composition
    assert validated["issues"] == [], validated

    data = tmp_path / "data"
    data.mkdir()
    server = start_server(skills_root, data, local_runner=True)
    try:
        wait_for_runner(server.addr)
        listed = run(SKILLOS, "skills", "list", "--server", server.addr).stdout
        line = next(row for row in listed.splitlines() if "oysters/pricelist_with_rates" in row)
        assert "inactive composition" in line, line

        refused = run(
            SKILLOS,
            "run",
            "--skill",
            "oysters.pricelist_with_rates",
            "--server",
            server.addr,
            check=False,
        )
        assert refused.returncode == 1 and "(COMPOSITION_INACTIVE)" in refused.stderr, refused

        activated = json.loads(
            run(
                SKILLOS,
                "--json",
                "skills",
                "activate",
                "oysters/pricelist_with_rates",
                "--server",
                server.addr,
            ).stdout
        )
        assert activated["kind"] == "composition"
        assert activated["composition"]["active"] is True
        assert activated["composition"]["steps"] == [
            "oysters/get_pricelist|finance/get_exchange_rates"
        ]

        output = json.loads(
            run(
                SKILLOS, "run", "--skill", "oysters/pricelist_with_rates", "--server", server.addr
            ).stdout
        )
        assert set(output) == {"oysters/get_pricelist", "finance/get_exchange_rates"}
        assert output["finance/get_exchange_rates"]["base"] == "USD"
    finally:
        server.stop()


def test_validate_reports_composition_errors_with_their_file(skills_root: Path):
    compositions = skills_root / "compositions" / "demo"
    compositions.mkdir(parents=True)
    for name, steps in [("loop", ["demo/loop"]), ("unknown", ["finance/nope"])]:
        (skills_root / "metadata" / "demo").mkdir(exist_ok=True)
        (skills_root / "metadata" / "demo" / f"{name}.yaml").write_text(
            COMPOSED_METADATA.replace("oysters/pricelist_with_rates", f"demo/{name}")
        )
        (compositions / f"{name}.json").write_text(
            json.dumps({"id": f"demo/{name}", "steps": steps, "version": "0.1.0", "active": True})
        )
    checked = run(SKILLOS, "--json", "validate", "--root", str(skills_root), check=False)
    assert checked.returncode == 1, checked
    issues = {issue["path"]: issue for issue in json.loads(checked.stdout)["issues"]}
    assert issues["compositions/demo/loop.json"]["category"] == "composition"
    assert (
        "Composition cycle detected: demo/loop -> demo/loop"
        in (issues["compositions/demo/loop.json"]["message"])
    )
    assert issues["compositions/demo/unknown.json"]["message"] == "Unknown skills: finance/nope"


def test_a_split_query_routes_each_segment_and_runs_them_as_steps(
    skills_root: Path, tmp_path: Path
):
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(skills_root, data, local_runner=True)
    try:
        wait_for_runner(server.addr)
        query = "курс доллара к евро и прайс-лист устриц"
        ran = run(SKILLOS, "run", "--query", query, "--split", "parallel", "--server", server.addr)
        assert set(json.loads(ran.stdout)) == {
            "finance/get_exchange_rates",
            "oysters/get_pricelist",
        }
        assert 'segment "курс доллара к евро": finance/get_exchange_rates' in ran.stderr, ran.stderr

        # The same over gRPC: each segment's decision, then the pipeline's steps.
        answered = server.grpcurl(
            "skillos.v1.OrchestratorService/Run",
            {
                "query": "exchange rates for the dollar, then the oyster price list",
                "split": "QUERY_SPLIT_PIPELINE",
            },
        )
        assert answered["outcome"] == "RUN_OUTCOME_PIPELINE", answered
        assert [s["decision"]["skillId"] for s in answered["segments"]] == [
            "finance/get_exchange_rates",
            "oysters/get_pricelist",
        ]
        # get_pricelist does not take get_exchange_rates' output.
        assert answered["pipeline"]["status"] == "PIPELINE_STATUS_FAILED"
        assert answered["pipeline"]["error"]["code"] == "INVALID_PAYLOAD"

        # A segment routing cannot place: nothing runs.
        before = len(
            json.loads(
                run(SKILLOS, "--json", "executions", "list", "--server", server.addr).stdout
            )["executions"]
        )
        refused = run(
            SKILLOS,
            "run",
            "--query",
            "exchange rates then qwzx vrbl plonk",
            "--split",
            "pipeline",
            "--server",
            server.addr,
            check=False,
        )
        assert refused.returncode == 1, refused
        assert "nothing ran" in refused.stderr and "not routed" in refused.stderr, refused.stderr
        after = json.loads(
            run(SKILLOS, "--json", "executions", "list", "--server", server.addr).stdout
        )
        assert len(after["executions"]) == before

        streamed = run(
            "grpcurl",
            "-plaintext",
            "-d",
            json.dumps({"query": query, "split": "QUERY_SPLIT_AUTO"}),
            server.addr,
            "skillos.v1.OrchestratorService/RunStream",
            check=False,
        )
        assert streamed.returncode != 0 and "InvalidArgument" in streamed.stderr, streamed
    finally:
        server.stop()
