"""Natural-language routing end to end: the offline CLI, and a server whose local Python runner
offers the multilingual embedding model, called over gRPC by the generated Python client."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import grpc
import pytest
from conftest import REPO, SKILLOS, run, start_server

from skillos.v1 import orchestrator_service_pb2 as orch
from skillos.v1 import orchestrator_service_pb2_grpc as orch_grpc
from skillos.v1 import routing_pb2

VENV_BIN = str(REPO / ".venv" / "bin")


def cli_env() -> dict:
    return {**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}


def route_json(*args: str, data: Path) -> list[dict]:
    printed = run(
        SKILLOS,
        "route",
        "--json",
        *args,
        env={**cli_env(), "SKILLOS_DATA_DIR": str(data)},
        timeout=180,
    )
    return [json.loads(line) for line in printed.stdout.splitlines()]


def test_offline_route_selects_the_currency_converter_for_a_russian_request(tmp_path: Path):
    data = tmp_path / "data"
    query = "Переведи 100 долларов в евро"
    [decision] = route_json(
        "--root", str(REPO / "skills"), "--keyword-decisive", "off", query, data=data
    )
    assert decision["mode"] == "hybrid" and decision["fallback"] is False
    assert decision["keyword_decisive"] is False
    assert decision["status"] == "selected"
    assert decision["skill_id"] == "finance/convert_currency"
    assert decision["embedding_model"] == "multilingual-e5-small"
    top = decision["candidates"][0]
    assert top["keyword_score"] is not None and top["vector_score"] is not None
    # The second run reads the skill vectors from the data dir's store.
    assert (data / "skillos.db").exists()
    # With the shipped cascade, the confident keyword ranking of this query decides alone.
    [decisive] = route_json("--root", str(REPO / "skills"), query, data=data)
    assert decisive["keyword_decisive"] is True and decisive["mode"] == "keyword"
    assert decisive["requested_mode"] == "hybrid" and decisive["fallback"] is False
    assert (
        decisive["skill_id"] == "finance/convert_currency" and decisive["embedding_model"] is None
    )


def test_offline_route_turns_away_requests_the_root_does_not_serve(tmp_path: Path):
    queries = tmp_path / "queries.txt"
    queries.write_text(
        "Wake me up at 6:30 tomorrow\nПоставь напоминание позвонить маме в пятницу\n"
    )
    for decision in route_json(
        "--root", str(REPO / "skills"), "--queries", str(queries), data=tmp_path
    ):
        assert decision["mode"] == "hybrid" and not decision["fallback"]
        assert decision["status"] == "no_skill", decision
        assert decision["out_of_scope"], decision
        assert (
            "does not serve" in decision["explanation"] or "out-of-scope" in decision["explanation"]
        )


def test_offline_route_modes_queries_file_and_no_skill(tmp_path: Path):
    queries = tmp_path / "queries.txt"
    queries.write_text(
        "# a comment\nfind me a flight from Moscow to Sochi\n\nxylophone gluon quark\n"
    )
    keyword = route_json(
        "--root",
        str(REPO / "skills"),
        "--mode",
        "keyword",
        "--queries",
        str(queries),
        data=tmp_path,
    )
    assert [d["query"] for d in keyword] == [
        "find me a flight from Moscow to Sochi",
        "xylophone gluon quark",
    ]
    assert keyword[0]["status"] == "selected" and keyword[0]["skill_id"] == "travel/search_flights"
    assert "flight" in keyword[0]["candidates"][0]["matched_terms"]
    assert keyword[1]["status"] == "no_skill" and keyword[1]["skill_id"] is None
    assert all(
        d["mode"] == "keyword" and d["candidates"][0]["vector_score"] is None for d in keyword[:1]
    )

    typo = route_json(
        "--root", str(REPO / "skills"), "--mode", "keyword", "serch flihgts to Paris", data=tmp_path
    )[0]
    assert typo["skill_id"] == "travel/search_flights"
    assert any("~" in term for term in typo["candidates"][0]["matched_terms"])

    usage = run(SKILLOS, "route", "--root", str(REPO / "skills"), check=False)
    assert usage.returncode == 2 and "QUERY" in usage.stderr
    bad_mode = run(
        SKILLOS, "route", "--root", str(REPO / "skills"), "--mode", "fuzzy", "x", check=False
    )
    assert bad_mode.returncode == 2


def wait_for_embedding_runner(addr: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runners = json.loads(run(SKILLOS, "runners", "list", "--json", "--server", addr).stdout)[
            "runners"
        ]
        if runners:
            return runners[0]
        time.sleep(0.2)
    raise AssertionError("the local runner did not attach")


def route(stub, query: str, **kwargs) -> routing_pb2.RoutingDecision:
    return stub.Route(orch.RouteRequest(query=query, **kwargs), timeout=30).decision


@pytest.fixture
def dev_server(skills_root: Path, tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(
        skills_root, data, local_runner=True, extra_env={"PATH": cli_env()["PATH"]}
    )
    try:
        wait_for_embedding_runner(server.addr)
        yield server
    finally:
        server.stop()


def test_route_and_run_by_query_through_the_python_runner(dev_server):
    with grpc.insecure_channel(dev_server.addr) as channel:
        stub = orch_grpc.OrchestratorServiceStub(channel)
        # Skill vectors are computed in the background once the runner offers its model. The
        # keywords of this paraphrase are not decisive (confidence under 0.9): it needs them.
        paraphrase = "Пора отдохнуть, что выпить во время перерыва?"
        deadline = time.monotonic() + 90
        decision = route(stub, paraphrase)
        while decision.fallback and time.monotonic() < deadline:
            time.sleep(0.5)
            decision = route(stub, paraphrase)
        assert not decision.fallback, decision.explanation
        assert decision.mode == routing_pb2.ROUTING_MODE_HYBRID and not decision.keyword_decisive
        assert decision.embedding_model == "multilingual-e5-small"
        assert decision.status == routing_pb2.ROUTING_STATUS_SELECTED
        assert decision.skill_id == "office/coffee_break"
        assert decision.candidates[0].HasField("vector_score") and decision.candidates[0].HasField(
            "keyword_score"
        )

        # Keywords that select a skill confidently decide a hybrid query alone: not embedded.
        decisive = route(stub, "Переведи 100 долларов в евро")
        assert decisive.keyword_decisive and not decisive.fallback, decisive.explanation
        assert decisive.mode == routing_pb2.ROUTING_MODE_KEYWORD
        assert decisive.requested_mode == routing_pb2.ROUTING_MODE_HYBRID
        assert decisive.skill_id == "finance/convert_currency" and decisive.embedding_model == ""
        assert not decisive.candidates[0].HasField("vector_score")

        keyword = route(stub, "find hotels in Kazan", mode=routing_pb2.ROUTING_MODE_KEYWORD)
        assert keyword.mode == routing_pb2.ROUTING_MODE_KEYWORD and not keyword.fallback
        assert not keyword.candidates[0].HasField("vector_score")

        filtered = route(
            stub, "find hotels in Kazan", filter=routing_pb2.RouteFilter(domain="finance")
        )
        assert all(c.skill_id.startswith("finance/") for c in filtered.candidates)

        # Run with a query: routing picks the skill, the runner runs it.
        response = stub.Run(
            orch.RunRequest(
                query="convert 100 USD to EUR",
                payload=_struct({"amount": 100, "from": "USD", "to": "EUR"}),
            ),
            timeout=30,
        )
        assert response.outcome == orch.RUN_OUTCOME_EXECUTED
        assert response.routing.skill_id == "finance/convert_currency"
        assert response.execution.skill_id == "finance/convert_currency"
        assert response.execution.output.struct_value["converted"] == 92

        # Nothing runs when routing is not confident.
        nothing = stub.Run(orch.RunRequest(query="what is the meaning of life"), timeout=30)
        assert nothing.outcome == orch.RUN_OUTCOME_NOT_ROUTED
        assert not nothing.HasField("execution")
        assert nothing.routing.status != routing_pb2.ROUTING_STATUS_SELECTED

        with pytest.raises(grpc.RpcError) as empty:
            stub.Route(orch.RouteRequest(query="   "), timeout=10)
        assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_feedback_corrects_the_ranking_of_a_query(dev_server):
    query = "how much will it cost me"
    with grpc.insecure_channel(dev_server.addr) as channel:
        stub = orch_grpc.OrchestratorServiceStub(channel)
        before = route(stub, query, mode=routing_pb2.ROUTING_MODE_KEYWORD, max_candidates=16)
        assert before.candidates, "the query must match some skills by keyword"
        wrong = before.candidates[0].skill_id
        right = next(c.skill_id for c in before.candidates if c.skill_id != wrong)
        recorded = json.loads(
            run(
                SKILLOS,
                "feedback",
                "--json",
                "--server",
                dev_server.addr,
                "--query",
                query,
                "--routed",
                wrong,
                "--expected",
                right,
            ).stdout
        )
        assert recorded["expected_skill_id"] == right and recorded["id"]
        after = route(stub, query, mode=routing_pb2.ROUTING_MODE_KEYWORD, max_candidates=16)
        factors = {c.skill_id: c.feedback_factor for c in after.candidates}
        assert factors[right] > 1.0 > factors[wrong]
        assert after.candidates[0].skill_id == right

        refused = run(
            SKILLOS,
            "feedback",
            "--server",
            dev_server.addr,
            "--query",
            query,
            "--expected",
            "nope/none",
            check=False,
        )
        assert refused.returncode == 1 and "SKILL_NOT_FOUND" in refused.stderr


def _struct(value: dict):
    from google.protobuf import struct_pb2

    message = struct_pb2.Struct()
    message.update(value)
    return message
