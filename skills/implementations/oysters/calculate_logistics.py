"""Refrigerated shipping estimate for live oysters from a fixed tariff."""

from __future__ import annotations

import math
from decimal import Decimal

from implementations._validation import (
    ensure_payload,
    get_bool,
    get_decimal,
    get_int,
    money,
    rounded,
)

FIELDS = ("dozens", "distance_km", "express")
CURRENCY = "EUR"

AVERAGE_WEIGHT_PER_DOZEN_KG = Decimal("1.20")
DOZENS_PER_BOX = 8
BOX_TARE_KG = Decimal("1.20")
ICE_PER_BOX_KG = Decimal("2.00")

HANDLING_FEE = Decimal("12.00")
PACKAGING_PER_BOX = Decimal("6.50")
TRANSPORT_PER_KG_KM = Decimal("0.0025")
MINIMUM_TRANSPORT = Decimal("15.00")
EXPRESS_SHARE = Decimal("0.50")
EXPRESS_FLAT = Decimal("25.00")
MAX_DISTANCE_KM = Decimal("5000")


def _delivery_days(distance_km: Decimal, express: bool) -> int:
    if express:
        return 1 if distance_km <= 1200 else 2
    if distance_km <= 300:
        return 1
    return 2 if distance_km <= 1200 else 3


def estimate(
    dozens: int,
    distance_km: Decimal,
    express: bool = False,
    product_weight_kg: Decimal | None = None,
) -> dict:
    """Shipping estimate; ``product_weight_kg`` defaults to an average per dozen."""
    if product_weight_kg is None:
        product_weight_kg = AVERAGE_WEIGHT_PER_DOZEN_KG * dozens
    boxes = math.ceil(dozens / DOZENS_PER_BOX)
    weight = product_weight_kg + boxes * (BOX_TARE_KG + ICE_PER_BOX_KG)
    handling = HANDLING_FEE
    packaging = PACKAGING_PER_BOX * boxes
    transport = max(weight * distance_km * TRANSPORT_PER_KG_KM, MINIMUM_TRANSPORT)
    express_fee = transport * EXPRESS_SHARE + EXPRESS_FLAT if express else Decimal(0)
    costs = {
        "handling": money(handling),
        "packaging": money(packaging),
        "transport": money(transport),
        "express_surcharge": money(express_fee),
    }
    return {
        "dozens": dozens,
        "distance_km": rounded(distance_km, 1),
        "express": express,
        "boxes": boxes,
        "weight_kg": rounded(weight, 2),
        "estimated_delivery_days": _delivery_days(distance_km, express),
        "currency": CURRENCY,
        "costs": costs,
        "total": money(sum((Decimal(str(v)) for v in costs.values()), Decimal(0))),
    }


def run(payload: dict, ctx=None) -> dict:
    """Estimate boxes, gross weight (with ice packaging), delivery time and cost."""
    payload = ensure_payload(payload, FIELDS)
    dozens = get_int(payload, "dozens", minimum=1, maximum=10000)
    distance = get_decimal(payload, "distance_km", minimum=0, maximum=MAX_DISTANCE_KM)
    express = get_bool(payload, "express", False)
    return estimate(dozens, distance, express)
