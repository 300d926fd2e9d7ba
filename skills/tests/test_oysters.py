"""Tests for the oyster business skills."""

from __future__ import annotations

import pytest

from implementations.oysters import (
    calculate_logistics,
    calculate_margin,
    generate_quote,
    get_pricelist,
)

SKILLS = [
    "oysters/get_pricelist",
    "oysters/calculate_margin",
    "oysters/calculate_logistics",
    "oysters/generate_quote",
]


@pytest.mark.parametrize("skill_id", SKILLS)
def test_contract(contract, skill_id):
    contract(skill_id)


def test_pricelist_full_and_filtered():
    full = get_pricelist.run({})
    assert full["currency"] == "EUR"
    assert full["count"] == len(full["items"]) == 16
    gillardeau = get_pricelist.run({"variety": "Gillardeau", "size": 2})["items"]
    assert gillardeau == [
        {
            "variety": "gillardeau",
            "name": "Gillardeau",
            "species": "Crassostrea gigas",
            "origin": "Charente-Maritime, France",
            "size": 2,
            "price_per_dozen": 38.0,
            "weight_per_dozen_kg": 1.3,
        }
    ]


def test_pricelist_variety_names_are_flexible():
    by_key = get_pricelist.run({"variety": "speciale_de_claire"})
    by_name = get_pricelist.run({"variety": "Spéciale de Claire"})
    by_plain = get_pricelist.run({"variety": "speciale de claire"})
    assert by_key == by_name == by_plain
    assert [i["size"] for i in by_key["items"]] == [2, 3]


def test_pricelist_size_filter_can_be_empty():
    assert get_pricelist.run({"variety": "kumamoto", "size": 1})["items"] == []


@pytest.mark.parametrize(
    "payload, message",
    [({"variety": "bluepoint"}, "unknown variety"), ({"size": 9}, "size: must be at most 5")],
)
def test_pricelist_rejects_bad_input(payload, message):
    with pytest.raises(ValueError, match=message):
        get_pricelist.run(payload)


def test_margin_from_totals():
    assert calculate_margin.run({"cost": 100, "price": 150}) == {
        "cost": 100.0,
        "revenue": 150.0,
        "profit": 50.0,
        "margin_percent": 33.33,
        "markup_percent": 50.0,
        "profitable": True,
    }


def test_margin_per_dozen():
    result = calculate_margin.run({"cost_per_dozen": 12, "price_per_dozen": 21, "dozens": 10})
    assert result["profit"] == 90.0
    assert result["margin_percent"] == 42.86
    assert result["markup_percent"] == 75.0
    assert result["profit_per_dozen"] == 9.0


def test_margin_loss_and_zero_cost():
    loss = calculate_margin.run({"cost": 120, "price": 100})
    assert loss["profit"] == -20.0 and loss["margin_percent"] == -20.0 and not loss["profitable"]
    assert calculate_margin.run({"cost": 0, "price": 10})["markup_percent"] is None


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"cost": 10}, "price: is required"),
        ({"cost": 10, "price": 0}, "price: must be greater than 0"),
        ({"cost": 10, "price": 20, "dozens": 3}, "give either"),
        ({}, "are required"),
        ({"cost_per_dozen": 1, "price_per_dozen": 2, "dozens": 1.5}, "dozens: must be an integer"),
    ],
)
def test_margin_rejects_bad_input(payload, message):
    with pytest.raises(ValueError, match=message):
        calculate_margin.run(payload)


def test_logistics_standard():
    result = calculate_logistics.run({"dozens": 30, "distance_km": 450})
    # 30 dozen -> 4 boxes; 36 kg of oysters + 4 x (1.2 kg box + 2 kg ice) = 48.8 kg
    assert result["boxes"] == 4
    assert result["weight_kg"] == 48.8
    assert result["costs"] == {
        "handling": 12.0,
        "packaging": 26.0,
        "transport": 54.9,
        "express_surcharge": 0.0,
    }
    assert result["total"] == 92.9
    assert result["estimated_delivery_days"] == 2


def test_logistics_express_and_minimum_transport():
    result = calculate_logistics.run({"dozens": 2, "distance_km": 10, "express": True})
    assert result["costs"]["transport"] == 15.0
    assert result["costs"]["express_surcharge"] == 32.5
    assert result["estimated_delivery_days"] == 1
    assert result["total"] == 12.0 + 6.5 + 15.0 + 32.5


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"dozens": 0, "distance_km": 10}, "dozens: must be at least 1"),
        ({"dozens": 5}, "distance_km: is required"),
        ({"dozens": 5, "distance_km": 9000}, "distance_km: must be at most 5000"),
        ({"dozens": 5, "distance_km": 10, "express": "yes"}, "express: must be true or false"),
    ],
)
def test_logistics_rejects_bad_input(payload, message):
    with pytest.raises(ValueError, match=message):
        calculate_logistics.run(payload)


ORDER = {
    "customer": "Le Bistrot",
    "items": [
        {"variety": "gillardeau", "size": 2, "dozens": 10},
        {"variety": "Fine de Claire", "size": 3, "dozens": 15},
    ],
    "delivery_km": 450,
}


def test_quote_totals():
    quote = generate_quote.run(ORDER)
    assert [line["line_total"] for line in quote["lines"]] == [380.0, 277.5]
    assert quote["subtotal"] == 657.5
    assert quote["total_dozens"] == 25
    assert quote["discount_rate"] == 0.05 and quote["discount"] == 32.88
    # Actual product weight: 10 x 1.30 kg + 15 x 1.05 kg = 28.75 kg, plus 4 packed boxes.
    assert quote["delivery"]["weight_kg"] == 41.55
    assert quote["delivery_cost"] == quote["delivery"]["total"] == 84.74
    assert quote["net_total"] == round(657.5 - 32.88 + 84.74, 2)
    assert quote["vat"] == 141.87
    assert quote["total"] == 851.23


def test_quote_id_is_stable_and_input_dependent():
    first = generate_quote.run(ORDER)["quote_id"]
    assert first == generate_quote.run(dict(ORDER))["quote_id"]
    assert first.startswith("Q-") and len(first) == 12
    assert generate_quote.run({**ORDER, "customer": "Chez Marie"})["quote_id"] != first
    assert generate_quote.run({**ORDER, "vat_rate": 0.2})["quote_id"] == first


def test_quote_without_delivery_and_large_discount():
    quote = generate_quote.run(
        {
            "customer": "Hotel",
            "items": [{"variety": "pacific_rock", "size": 4, "dozens": 60}],
            "vat_rate": 0.055,
        }
    )
    assert quote["subtotal"] == 810.0
    assert quote["discount"] == 81.0
    assert quote["delivery"] is None and quote["delivery_cost"] == 0.0
    assert quote["vat"] == 40.1
    assert quote["total"] == 769.1


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"customer": "A", "items": []}, "items: must be a non-empty list"),
        (
            {"customer": "A", "items": [{"variety": "belon", "size": 4, "dozens": 1}]},
            r"items\[0\]\.size: Belon is sold in sizes 0, 1, 2",
        ),
        (
            {"customer": "A", "items": [{"variety": "belon", "size": 1}]},
            r"items\[0\]\.dozens: is required",
        ),
        ({"items": [{"variety": "belon", "size": 1, "dozens": 1}]}, "customer: is required"),
        (
            {
                "customer": "A",
                "items": [{"variety": "belon", "size": 1, "dozens": 1}],
                "express": True,
            },
            "express: requires delivery_km",
        ),
    ],
)
def test_quote_rejects_bad_input(payload, message):
    with pytest.raises(ValueError, match=message):
        generate_quote.run(payload)
