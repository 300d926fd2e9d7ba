"""The skill registry over plain HTTP/JSON, including the predecessor's routes."""

from __future__ import annotations

from conftest import REPO

# The skills the runner serves and the flows the server runs.
EXAMPLE_IDS = sorted(
    [f"{p.parent.name}/{p.stem}" for p in (REPO / "skills" / "metadata").glob("*/*.yaml")]
    + [f"{p.parent.name}/{p.stem}" for p in (REPO / "skills" / "flows").glob("*/*.yaml")]
)


def test_lists_and_gets_skills_in_both_id_forms(server):
    status, body = server.http_json("GET", "/skills")
    assert status == 200
    assert [skill["id"] for skill in body["skills"]] == EXAMPLE_IDS
    assert body["total_size"] == len(EXAMPLE_IDS) and body["next_page_token"] is None
    assert all(skill["input_schema"] is None for skill in body["skills"])

    status, full = server.http_json("GET", "/skills?domain=finance&view=full")
    assert status == 200 and all(skill["input_schema"] for skill in full["skills"])

    for path in ("/skills/finance/convert_currency", "/skills/finance.convert_currency"):
        status, skill = server.http_json("GET", path)
        assert status == 200 and skill["id"] == "finance/convert_currency"
        assert skill["risk_tier"] == "low" and skill["retryable"] is True
        assert skill["available"] is False, "no runner is attached in this test"

    status, error = server.http_json("GET", "/skills/finance/nope")
    assert status == 404 and error["error"]["reason"] == "SKILL_NOT_FOUND"
    assert error["detail"] == "skill finance/nope not found"
    status, error = server.http_json("GET", "/skills?page_size=-1")
    assert status == 400 and error["error"]["reason"] == "INVALID_PAGE_SIZE"
    status, error = server.http_json("GET", "/skills?colour=blue")
    assert status == 400 and error["error"]["reason"] == "INVALID_REQUEST"


def test_deprecate_and_undeprecate_like_the_predecessor(server):
    status, error = server.http_json("POST", "/skills/office.coffee_break/deprecate", b"")
    assert status == 400 and error["error"]["reason"] == "DEPRECATION_REASON_REQUIRED"
    status, error = server.http_json("POST", "/skills/office/coffee_break/deprecate", b"{not json")
    assert status == 400 and error["error"]["reason"] == "INVALID_REQUEST"

    status, body = server.http_json(
        "POST", "/skills/office/coffee_break/deprecate", {"reason": "retired"}
    )
    assert status == 200
    assert (body["status"], body["skill_id"], body["deprecated"]) == (
        "deprecated",
        "office/coffee_break",
        True,
    )
    assert body["skill"]["deprecation_reason"] == "retired"
    _, listed = server.http_json("GET", "/skills")
    assert "office/coffee_break" not in [skill["id"] for skill in listed["skills"]]

    status, body = server.http_json("POST", "/skills/office.coffee_break/undeprecate")
    assert status == 200 and body["status"] == "undeprecated" and body["deprecated"] is False

    status, error = server.http_json("POST", "/skills/office/nope/deprecate", {"reason": "x"})
    assert status == 404 and error["error"]["reason"] == "SKILL_NOT_FOUND"
    status, _ = server.http_json("POST", "/skills/office/coffee_break/frobnicate")
    assert status == 404


def test_validate_reports_issues_with_paths(server):
    status, body = server.http_json("POST", "/validate", b"")
    assert status == 200 and body["status"] == "ok" and body["skill_count"] == len(EXAMPLE_IDS)
    (server.root / "metadata" / "finance" / "bad.yaml").write_text("id: finance/bad\nversion: 1\n")
    status, body = server.http_json("POST", "/validate", {"check_entrypoints": False})
    assert status == 200 and body["status"] == "invalid" and body["valid"] is False
    assert {issue["path"] for issue in body["issues"]} == {"metadata/finance/bad.yaml"}


def test_http_routes_are_counted_by_template(server):
    server.http_json("GET", "/skills/finance/convert_currency")
    _, metrics = server.http("/metrics")
    assert 'skillos_requests_total{method="/skills/{*rest}",code="200"} 1' in metrics
