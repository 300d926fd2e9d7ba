"""Catalog-wide checks: the expected skills exist, keep their names and tags, and map to code."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

SKILLS_DIR = Path(__file__).resolve().parent.parent

CATALOG = {
    "finance/convert_currency": ("Convert Currency", ["finance", "convert", "currency"]),
    "finance/get_exchange_rates": ("Get Exchange Rates", ["finance", "exchange", "rate"]),
    "finance/track_expenses": ("Track Expenses", ["finance", "expenses", "expense", "tracking"]),
    "office/coffee_break": ("Coffee Break", ["office", "coffee", "break", "rest"]),
    "oysters/calculate_logistics": (
        "Calculate Logistics",
        ["oysters", "logistics", "shipping", "delivery"],
    ),
    "oysters/calculate_margin": ("Calculate Margin", ["oysters", "margin", "profit"]),
    "oysters/generate_quote": ("Generate Quote", ["oysters", "quote", "pricing"]),
    "oysters/get_pricelist": ("Get Pricelist", ["oysters", "price", "pricelist"]),
    "research/summarize_article": ("Summarize Article", ["research", "summarize", "summary"]),
    "research/web_search": ("Web Search", ["research", "web", "search"]),
    "travel/build_itinerary": ("Build Itinerary", ["travel", "itinerary", "plan"]),
    "travel/search_flights": ("Search Flights", ["travel", "flight", "flights", "search"]),
    "travel/search_hotels": ("Search Hotels", ["travel", "hotel", "hotels", "search"]),
    "zakupki/analyze_document": (
        "Analyze Document",
        ["zakupki", "document", "requirements", "analysis"],
    ),
    "zakupki/check_requirements": (
        "Check Requirements",
        ["zakupki", "requirements", "eligibility"],
    ),
    "zakupki/search_tenders": ("Search Tenders", ["zakupki", "tender", "procurement", "search"]),
}


def _metadata_files() -> list[Path]:
    root = SKILLS_DIR / "metadata"
    return sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")])


def test_catalog_is_exactly_the_expected_skills():
    ids = [str(p.relative_to(SKILLS_DIR / "metadata").with_suffix("")) for p in _metadata_files()]
    assert ids == sorted(CATALOG)


@pytest.mark.parametrize("skill_id", sorted(CATALOG))
def test_names_and_original_tags_are_kept(skill_id):
    meta = yaml.safe_load(
        (SKILLS_DIR / "metadata" / f"{skill_id}.yaml").read_text(encoding="utf-8")
    )
    name, tags = CATALOG[skill_id]
    assert meta["id"] == skill_id
    assert meta["name"] == name
    assert meta["tags"][: len(tags)] == tags
    assert len(meta["tags"]) == len(set(meta["tags"]))


@pytest.mark.parametrize("skill_id", sorted(CATALOG))
def test_implementation_files_exist(skill_id):
    domain, name = skill_id.split("/")
    package = SKILLS_DIR / "implementations" / domain
    assert (SKILLS_DIR / "implementations" / "__init__.py").is_file()
    assert (package / "__init__.py").is_file()
    assert (package / f"{name}.py").is_file()
