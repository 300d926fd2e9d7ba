"""Build a customer quote for an oyster order from the supplier price list."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from implementations._validation import (
    ensure_payload,
    get_bool,
    get_decimal,
    get_int,
    get_str,
    money,
)
from implementations.oysters._catalog import (
    CURRENCY,
    VALID_FROM,
    VARIETIES,
    WEIGHT_PER_DOZEN_KG,
    price_per_dozen,
    resolve_variety,
)
from implementations.oysters.calculate_logistics import MAX_DISTANCE_KM, estimate

FIELDS = ("customer", "items", "delivery_km", "express", "vat_rate")
ITEM_FIELDS = ("variety", "size", "dozens")
DEFAULT_VAT_RATE = Decimal("0.20")
# (minimum total dozens, discount rate), checked from the largest tier down.
VOLUME_DISCOUNTS = ((50, Decimal("0.10")), (20, Decimal("0.05")))
MAX_ITEMS = 50


def _discount_rate(total_dozens: int) -> Decimal:
    for threshold, rate in VOLUME_DISCOUNTS:
        if total_dozens >= threshold:
            return rate
    return Decimal(0)


def _parse_items(raw: object) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise ValueError("items: must be a non-empty list of {variety, size, dozens}")
    if len(raw) > MAX_ITEMS:
        raise ValueError(f"items: at most {MAX_ITEMS} lines per quote")
    items = []
    for index, item in enumerate(raw):
        field = f"items[{index}]"
        if not isinstance(item, dict):
            raise ValueError(f"{field}: must be an object with variety, size and dozens")
        unknown = sorted(set(item) - set(ITEM_FIELDS))
        if unknown:
            raise ValueError(f"{field}: unknown field(s) {', '.join(unknown)}")
        variety = resolve_variety(item.get("variety"), f"{field}.variety")
        try:
            size = get_int(item, "size", minimum=0, maximum=5)
            dozens = get_int(item, "dozens", minimum=1, maximum=10000)
        except ValueError as exc:
            raise ValueError(f"{field}.{exc}") from None
        unit = price_per_dozen(variety, size, f"{field}.size")
        items.append({"variety": variety, "size": size, "dozens": dozens, "unit": unit})
    return items


def _canonical(number: Decimal) -> str:
    return format(number.normalize(), "f")


def _quote_id(normalized: dict) -> str:
    canonical = json.dumps(normalized, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "Q-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:10].upper()


def run(payload: dict, ctx=None) -> dict:
    """Price each line, apply the volume discount, add delivery and VAT.

    The quote id is derived from the normalized request, so the same order always
    gets the same id.
    """
    payload = ensure_payload(payload, FIELDS)
    customer = get_str(payload, "customer", max_length=200)
    items = _parse_items(payload.get("items"))
    delivery_km = get_decimal(payload, "delivery_km", None, minimum=0, maximum=MAX_DISTANCE_KM)
    express = get_bool(payload, "express", False)
    vat_rate = get_decimal(payload, "vat_rate", DEFAULT_VAT_RATE, minimum=0, maximum=1)
    if express and delivery_km is None:
        raise ValueError("express: requires delivery_km")

    lines = []
    subtotal = Decimal(0)
    product_weight = Decimal(0)
    for item in items:
        line_total = item["unit"] * item["dozens"]
        subtotal += line_total
        product_weight += WEIGHT_PER_DOZEN_KG[item["size"]] * item["dozens"]
        lines.append(
            {
                "variety": item["variety"],
                "name": VARIETIES[item["variety"]]["name"],
                "size": item["size"],
                "dozens": item["dozens"],
                "unit_price": money(item["unit"]),
                "line_total": money(line_total),
            }
        )
    total_dozens = sum(item["dozens"] for item in items)
    discount_rate = _discount_rate(total_dozens)
    discount = Decimal(str(money(subtotal * discount_rate)))
    delivery = None
    delivery_cost = Decimal(0)
    if delivery_km is not None:
        delivery = estimate(total_dozens, delivery_km, express, product_weight)
        delivery_cost = Decimal(str(delivery["total"]))
    net = subtotal - discount + delivery_cost
    vat = Decimal(str(money(net * vat_rate)))

    normalized = {
        "customer": customer,
        "items": [[i["variety"], i["size"], i["dozens"]] for i in items],
        "delivery_km": _canonical(delivery_km) if delivery_km is not None else None,
        "express": express,
        "vat_rate": _canonical(vat_rate),
        "price_list": VALID_FROM,
    }
    return {
        "quote_id": _quote_id(normalized),
        "customer": customer,
        "currency": CURRENCY,
        "price_list_valid_from": VALID_FROM,
        "lines": lines,
        "total_dozens": total_dozens,
        "subtotal": money(subtotal),
        "discount_rate": float(discount_rate),
        "discount": money(discount),
        "delivery": delivery,
        "delivery_cost": money(delivery_cost),
        "net_total": money(net),
        "vat_rate": float(vat_rate),
        "vat": money(vat),
        "total": money(net + vat),
    }
