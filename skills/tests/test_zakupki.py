"""Tests for the procurement (zakupki) skills."""

from __future__ import annotations

import pytest

from implementations.zakupki import analyze_document, check_requirements, search_tenders
from implementations.zakupki._tenders import TENDERS

SKILLS = ["zakupki/analyze_document", "zakupki/check_requirements", "zakupki/search_tenders"]

NOTICE = """Извещение о проведении электронного аукциона в соответствии с 44-ФЗ.
Заказчик: ГБУЗ «Городская больница», ИНН 7707083893, поставщик ИНН 1234567890.
Начальная (максимальная) цена контракта: 1 250 000,50 руб. Обеспечение заявки — 12 500 руб.
Объект закупки: поставка компьютеров, ОКПД2: 26.20.11.110, 26.20.15.000. Срок подачи заявок — до 15.12.2026 г.
Участник закупки должен иметь лицензию ФСБ. Поставщик обязан иметь опыт исполнения контрактов не менее 3 лет.
Поставка осуществляется в г. Москва, ул. Ленина, д. 5, в течение 30 дней с 10 января 2027 года.

The supplier must hold an ISO 9001 certificate. Bids are due no later than December 20, 2026.
The performance security is USD 5,000.00."""


@pytest.mark.parametrize("skill_id", SKILLS)
def test_contract(contract, skill_id):
    contract(skill_id)


@pytest.fixture(scope="module")
def analysis():
    return analyze_document.run({"text": NOTICE})


def test_analyze_requirements(analysis):
    texts = [r["text"] for r in analysis["requirements"]]
    assert texts == [
        "Участник закупки должен иметь лицензию ФСБ.",
        "Поставщик обязан иметь опыт исполнения контрактов не менее 3 лет.",
        "The supplier must hold an ISO 9001 certificate.",
    ]
    assert analysis["requirements"][0]["keywords"] == ["должен"]
    assert analysis["requirements"][0]["topics"] == ["license"]
    assert analysis["requirements"][1]["topics"] == ["experience"]
    assert analysis["requirements"][2]["topics"] == ["certificate"]


def test_analyze_dates_and_deadlines(analysis):
    assert [d["date"] for d in analysis["dates"]] == ["2026-12-15", "2027-01-10", "2026-12-20"]
    assert [d["deadline"] for d in analysis["dates"]] == [True, False, True]
    assert analysis["deadlines"] == ["2026-12-15", "2026-12-20"]


def test_analyze_amounts(analysis):
    assert [(a["amount"], a["currency"], a["label"]) for a in analysis["amounts"]] == [
        (1250000.5, "RUB", "initial_price"),
        (12500.0, "RUB", "bid_security"),
        (5000.0, "USD", "performance_security"),
    ]


def test_analyze_codes_and_law(analysis):
    assert analysis["inn"] == [
        {"value": "7707083893", "valid": True},
        {"value": "1234567890", "valid": False},
    ]
    assert analysis["okpd2"] == ["26.20.11.110", "26.20.15.000"]
    assert analysis["laws"] == ["44-FZ"]
    assert analysis["language"] == "ru"


def test_analyze_english_amount_scales():
    result = analyze_document.run(
        {
            "text": "The estimated value is EUR 2.5 million. Contract price: 3,5 млн рублей under 223-FZ."
        }
    )
    assert [(a["amount"], a["currency"]) for a in result["amounts"]] == [
        (2500000.0, "EUR"),
        (3500000.0, "RUB"),
    ]
    assert result["amounts"][0]["label"] == "initial_price"
    assert result["laws"] == ["223-FZ"]
    assert result["requirements"] == []


@pytest.mark.parametrize(
    "inn, valid", [("7707083893", True), ("500100732259", True), ("500100732258", False)]
)
def test_inn_checksum(inn, valid):
    assert analyze_document.inn_is_valid(inn) is valid


@pytest.mark.parametrize("payload", [{}, {"text": ""}, {"text": ["a"]}, {"document": "x"}])
def test_analyze_rejects_bad_input(payload):
    with pytest.raises(ValueError):
        analyze_document.run(payload)


SUPPLIER = {
    "name": "ООО «Пример»",
    "licenses": ["Лицензия ФСБ на работы с шифровальными средствами"],
    "certificates": ["ISO 9001:2015"],
    "experience_years": 5,
    "turnover": 8_000_000,
}


def test_check_requirements_mixed_outcome():
    result = check_requirements.run(
        {
            "requirements": [
                {"kind": "license", "value": "фсб", "id": "R1"},
                {"kind": "certificate", "value": "ISO 9001"},
                {"kind": "experience_years", "value": 3},
                {"kind": "turnover", "value": 10_000_000, "description": "Annual turnover"},
                {"kind": "certificate", "value": "ISO 27001"},
            ],
            "supplier": SUPPLIER,
        }
    )
    assert result["eligible"] is False
    assert [r["met"] for r in result["results"]] == [True, True, True, False, False]
    assert (result["total"], result["met_count"], result["failed_count"]) == (5, 3, 2)
    assert result["results"][0]["id"] == "R1"
    assert result["results"][0]["actual"] == SUPPLIER["licenses"][0]
    assert (
        result["results"][3]["required"] == 10_000_000
        and result["results"][3]["actual"] == 8_000_000
    )
    assert result["unmet"] == [
        "turnover 8000000 is below the minimum 10000000",
        "no certificate matching 'ISO 27001'",
    ]


def test_check_requirements_eligible_and_missing_profile_fields():
    ok = check_requirements.run(
        {"requirements": [{"kind": "experience_years", "value": 5}], "supplier": SUPPLIER}
    )
    assert ok["eligible"] is True
    missing = check_requirements.run(
        {"requirements": [{"kind": "turnover", "value": 1}], "supplier": {"name": "New Co"}}
    )
    assert missing["eligible"] is False
    assert missing["results"][0]["reason"] == "supplier profile has no turnover"


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"requirements": [], "supplier": {}}, "requirements: must be a non-empty list"),
        (
            {"requirements": [{"kind": "age", "value": 1}], "supplier": {}},
            r"requirements\[0\]\.kind: must be one of",
        ),
        (
            {"requirements": [{"kind": "turnover", "value": "big"}], "supplier": {}},
            r"requirements\[0\]\.value: must be a number",
        ),
        ({"requirements": [{"kind": "license", "value": "x"}]}, "supplier: is required"),
        (
            {"requirements": [{"kind": "license", "value": "x"}], "supplier": {"licenses": "x"}},
            "supplier.licenses: must be a list",
        ),
    ],
)
def test_check_requirements_rejects_bad_input(payload, message):
    with pytest.raises(ValueError, match=message):
        check_requirements.run(payload)


def test_search_tenders_by_russian_query():
    result = search_tenders.run({"query": "поставка компьютеров"})
    assert result["results"][0]["id"] == "0373200041526000101"
    assert result["results"][0]["score"] == 1.0
    assert all(r["score"] > 0 for r in result["results"])
    assert "keywords" not in result["results"][0]


def test_search_tenders_cross_language_keywords():
    assert [r["id"] for r in search_tenders.run({"query": "oysters"})["results"]] == [
        "0318200063926000199"
    ]


def test_search_tenders_filters():
    result = search_tenders.run({"region": "санкт", "max_budget": 3_000_000})
    assert [r["id"] for r in result["results"]] == ["0372200024826000140", "0172200002526000215"]
    law = search_tenders.run({"law": "223-ФЗ", "limit": 50})
    assert law["count"] == sum(1 for t in TENDERS if t["law"] == "223-FZ") == 5
    big = search_tenders.run({"min_budget": 50_000_000, "deadline_from": "2026-12-31"})
    assert [r["id"] for r in big["results"]] == ["0151300041226000024"]


def test_search_tenders_without_filters_lists_by_deadline():
    result = search_tenders.run({})
    assert result["total_matches"] == len(TENDERS) == 15
    deadlines = [r["deadline"] for r in result["results"]]
    assert deadlines == sorted(deadlines) and result["count"] == 10


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"min_budget": 10, "max_budget": 5}, "min_budget: must not exceed max_budget"),
        ({"law": "94-FZ"}, "law: must be one of"),
        ({"query": "и или"}, "query: contains no searchable words"),
        ({"deadline_from": "tomorrow"}, "deadline_from: must be a date"),
    ],
)
def test_search_tenders_rejects_bad_input(payload, message):
    with pytest.raises(ValueError, match=message):
        search_tenders.run(payload)
