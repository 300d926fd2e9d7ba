"""Tests for the finance skills."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal

import pytest

from implementations.finance import convert_currency, get_exchange_rates, track_expenses
from implementations.finance._rates import USD_RATES

SKILLS = ["finance/convert_currency", "finance/get_exchange_rates", "finance/track_expenses"]


@pytest.mark.parametrize("skill_id", SKILLS)
def test_contract(contract, skill_id):
    contract(skill_id)


def test_track_expenses_is_a_non_retryable_write(metadata):
    meta = metadata("finance/track_expenses")
    assert meta["risk_tier"] == "medium"
    assert meta["retryable"] is False
    assert "finance:write" in meta["required_permissions"]


def test_convert_usd_to_eur_uses_table_rate():
    result = convert_currency.run({"amount": 100, "from": "USD", "to": "EUR"})
    assert result["converted"] == float(USD_RATES["EUR"] * 100) == 92.0
    assert result["rate"] == 0.92
    assert result["rates_as_of"] == "2026-11-01"


def test_convert_cross_rate_and_rounding():
    result = convert_currency.run({"amount": "250.5", "from": "eur", "to": "rub"})
    expected = (Decimal("250.5") * USD_RATES["RUB"] / USD_RATES["EUR"]).quantize(Decimal("0.01"))
    assert (result["from"], result["to"]) == ("EUR", "RUB")
    assert result["converted"] == float(expected) == 25186.14


def test_convert_same_currency_is_identity():
    assert convert_currency.run({"amount": 7.25, "from": "JPY", "to": "JPY"})["converted"] == 7.25


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"from": "USD", "to": "EUR"}, "amount: is required"),
        ({"amount": -1, "from": "USD", "to": "EUR"}, "amount: must be at least 0"),
        ({"amount": True, "from": "USD", "to": "EUR"}, "amount: must be a number"),
        ({"amount": 1, "from": "XXX", "to": "EUR"}, "from: unsupported currency"),
        ({"amount": 1, "from": "USD", "to": "EUR", "rate": 2}, "unknown field(s) rate"),
    ],
)
def test_convert_rejects_bad_input(payload, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        convert_currency.run(payload)


def test_exchange_rates_default_base_lists_all_others():
    result = get_exchange_rates.run({})
    assert result["base"] == "USD"
    assert set(result["rates"]) == set(USD_RATES) - {"USD"}
    assert result["rates"]["RUB"] == 92.5


def test_exchange_rates_for_base_and_symbols():
    result = get_exchange_rates.run({"base": "eur", "symbols": ["usd", "GBP", "USD"]})
    assert result == {
        "base": "EUR",
        "rates": {"USD": 1.086957, "GBP": 0.858696},
        "as_of": "2026-11-01",
    }


def test_exchange_rates_match_conversion():
    rate = get_exchange_rates.run({"base": "GBP", "symbols": ["JPY"]})["rates"]["JPY"]
    assert convert_currency.run({"amount": 1, "from": "GBP", "to": "JPY"})["rate"] == rate


@pytest.mark.parametrize(
    "payload", [{"symbols": []}, {"symbols": "EUR"}, {"base": "ABC"}, {"symbols": ["EU"]}]
)
def test_exchange_rates_rejects_bad_input(payload):
    with pytest.raises(ValueError):
        get_exchange_rates.run(payload)


def _add(amount, category, date, note=None):
    payload = {"action": "add", "amount": amount, "category": category, "date": date}
    if note:
        payload["note"] = note
    return track_expenses.run(payload)


def test_track_expenses_add_list_summary(skill_data_dir):
    first = _add(12.5, "Food", "2026-10-03", "lunch")
    assert first["expense"] == {
        "id": 1,
        "date": "2026-10-03",
        "category": "food",
        "amount": 12.5,
        "note": "lunch",
    }
    _add("40", "transport", "2026-10-05")
    _add(7.25, "food", "2026-10-20")
    _add(100, "food", "2026-11-02")

    ledger = json.loads((skill_data_dir / "expenses.json").read_text(encoding="utf-8"))
    assert [e["id"] for e in ledger["expenses"]] == [1, 2, 3, 4]

    listed = track_expenses.run(
        {"action": "list", "category": "food", "from_date": "2026-10-01", "to_date": "2026-10-31"}
    )
    assert [e["id"] for e in listed["expenses"]] == [1, 3]
    assert listed["total"] == 19.75

    summary = track_expenses.run(
        {"action": "summary", "from_date": "2026-10-01", "to_date": "2026-10-31"}
    )
    assert summary["by_category"] == {
        "food": {"total": 19.75, "count": 2},
        "transport": {"total": 40.0, "count": 1},
    }
    assert summary["total"] == 59.75
    assert summary["count"] == 3

    everything = track_expenses.run({"action": "summary"})
    assert everything["total"] == 159.75


def test_track_expenses_list_limit_keeps_latest():
    for day in ("2026-10-01", "2026-10-02", "2026-10-03"):
        _add(1, "misc", day)
    result = track_expenses.run({"action": "list", "limit": 2})
    assert [e["date"] for e in result["expenses"]] == ["2026-10-02", "2026-10-03"]
    assert result["count"] == 3


def test_track_expenses_empty_ledger(skill_data_dir):
    result = track_expenses.run({"action": "summary"})
    assert result["total"] == 0 and result["by_category"] == {}
    assert not (skill_data_dir / "expenses.json").exists()


def test_track_expenses_defaults_date_to_today():
    entry = _add(3, "coffee", None)["expense"]
    assert entry["date"] == dt.datetime.now(dt.timezone.utc).date().isoformat()


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"action": "delete"}, "action: must be one of"),
        ({"action": "add", "category": "food"}, "amount: is required"),
        ({"action": "add", "amount": 0, "category": "food"}, "amount: must be greater than 0"),
        (
            {"action": "add", "amount": 5, "category": "food", "date": "03.10.2026"},
            "date: must be a date",
        ),
        (
            {"action": "add", "amount": 5, "category": "food", "date": "2026-02-30"},
            "not a valid calendar date",
        ),
        ({"action": "list", "from_date": "2026-10-31", "to_date": "2026-10-01"}, "from_date"),
        ({"action": "add", "amount": 5, "category": "x", "ledger_path": "/tmp/x"}, "unknown field"),
    ],
)
def test_track_expenses_rejects_bad_input(payload, message):
    with pytest.raises(ValueError, match=message):
        track_expenses.run(payload)


def test_track_expenses_ignores_payload_paths_and_uses_env(tmp_path, monkeypatch):
    other = tmp_path / "other"
    monkeypatch.setenv("SKILLOS_SKILL_DATA_DIR", str(other))
    _add(2, "food", "2026-10-01")
    assert (other / "expenses.json").exists()
    assert track_expenses.ledger_path() == other / "expenses.json"


def test_track_expenses_concurrent_adds_are_not_lost():
    def worker(index):
        for _ in range(5):
            _add(1, f"thread{index}", "2026-10-01")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = track_expenses.run({"action": "list"})
    assert result["count"] == 40
    assert sorted(e["id"] for e in result["expenses"]) == list(range(1, 41))


def test_track_expenses_reports_corrupted_ledger(skill_data_dir):
    skill_data_dir.mkdir(parents=True)
    (skill_data_dir / "expenses.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(RuntimeError, match="not valid JSON"):
        track_expenses.run({"action": "list"})
