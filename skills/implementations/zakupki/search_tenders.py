"""Search a bundled sample of public tenders by text, region, budget, law and deadline."""

from __future__ import annotations

from functools import lru_cache

from implementations._text import terms
from implementations._validation import (
    ensure_payload,
    get_date,
    get_decimal,
    get_int,
    get_str,
)
from implementations.zakupki._tenders import SNAPSHOT_DATE, TENDERS

FIELDS = ("query", "region", "min_budget", "max_budget", "law", "deadline_from", "limit")
LAWS = ("44-FZ", "223-FZ")
CURRENCY = "RUB"


@lru_cache(maxsize=1)
def _tender_terms() -> list[set[str]]:
    searchable = []
    for tender in TENDERS:
        text = " ".join(
            [
                tender["title"],
                tender["customer"],
                tender["region"],
                tender["region_en"],
                tender["procedure"],
                *tender["keywords"],
            ]
        )
        searchable.append(set(terms(text)) | {tender["okpd2"]})
    return searchable


def _law(payload: dict) -> str | None:
    value = get_str(payload, "law", None, max_length=10)
    if value is None:
        return None
    normalized = value.upper().replace("ФЗ", "FZ").replace(" ", "")
    if not normalized.endswith("-FZ"):
        normalized = normalized.replace("FZ", "-FZ")
    if normalized not in LAWS:
        raise ValueError(f"law: must be one of {', '.join(LAWS)}")
    return normalized


def _public(tender: dict, score: float | None) -> dict:
    result = {key: value for key, value in tender.items() if key != "keywords"}
    result["currency"] = CURRENCY
    if score is not None:
        result["score"] = round(score, 4)
    return result


def run(payload: dict | None = None, ctx=None) -> dict:
    """Return tenders matching all given filters, best text matches first.

    ``query`` matches words of the title, customer, region and keywords (Russian or
    English); ``region`` is a case-insensitive substring of the Russian or English region
    name; budgets are in roubles; ``deadline_from`` keeps tenders still open on that date.
    """
    payload = ensure_payload(payload, FIELDS)
    query = get_str(payload, "query", None, max_length=300)
    region = get_str(payload, "region", None, max_length=100)
    min_budget = get_decimal(payload, "min_budget", None, minimum=0)
    max_budget = get_decimal(payload, "max_budget", None, minimum=0)
    if min_budget is not None and max_budget is not None and min_budget > max_budget:
        raise ValueError("min_budget: must not exceed max_budget")
    law = _law(payload)
    deadline_from = get_date(payload, "deadline_from", None)
    limit = get_int(payload, "limit", 10, minimum=1, maximum=50)

    query_terms = set(terms(query)) if query else set()
    if query and not query_terms:
        raise ValueError("query: contains no searchable words")
    matches = []
    for tender, tender_terms in zip(TENDERS, _tender_terms(), strict=True):
        if region and region.lower() not in f"{tender['region']} {tender['region_en']}".lower():
            continue
        if min_budget is not None and tender["budget"] < min_budget:
            continue
        if max_budget is not None and tender["budget"] > max_budget:
            continue
        if law and tender["law"] != law:
            continue
        if deadline_from and tender["deadline"] < deadline_from.isoformat():
            continue
        score = None
        if query_terms:
            score = len(query_terms & tender_terms) / len(query_terms)
            if score == 0:
                continue
        matches.append((score, tender))
    matches.sort(key=lambda m: (-(m[0] or 0), m[1]["deadline"], m[1]["id"]))
    results = [_public(tender, score) for score, tender in matches[:limit]]
    return {
        "results": results,
        "count": len(results),
        "total_matches": len(matches),
        "snapshot_date": SNAPSHOT_DATE,
    }
