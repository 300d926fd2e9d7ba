"""Profit, margin and markup for an oyster sale."""

from __future__ import annotations

from decimal import Decimal

from implementations._validation import (
    ensure_payload,
    get_decimal,
    get_int,
    money,
    rounded,
)

TOTAL_FIELDS = ("cost", "price")
PER_DOZEN_FIELDS = ("cost_per_dozen", "price_per_dozen", "dozens")


def run(payload: dict, ctx=None) -> dict:
    """Compute profit, margin (% of revenue) and markup (% of cost).

    Give either totals ``{cost, price}`` or unit prices
    ``{cost_per_dozen, price_per_dozen, dozens}``.
    """
    payload = ensure_payload(payload, TOTAL_FIELDS + PER_DOZEN_FIELDS)
    uses_totals = any(payload.get(k) is not None for k in TOTAL_FIELDS)
    uses_units = any(payload.get(k) is not None for k in PER_DOZEN_FIELDS)
    if uses_totals and uses_units:
        raise ValueError(
            "payload: give either cost and price, or cost_per_dozen, price_per_dozen and dozens"
        )
    if not uses_totals and not uses_units:
        raise ValueError(
            "payload: cost and price (or cost_per_dozen, price_per_dozen, dozens) are required"
        )
    dozens = None
    if uses_totals:
        cost = get_decimal(payload, "cost", minimum=0)
        revenue = get_decimal(payload, "price", minimum=0, exclusive_minimum=True)
    else:
        dozens = get_int(payload, "dozens", minimum=1, maximum=100000)
        cost = get_decimal(payload, "cost_per_dozen", minimum=0) * dozens
        revenue = (
            get_decimal(payload, "price_per_dozen", minimum=0, exclusive_minimum=True) * dozens
        )
    profit = revenue - cost
    margin = profit / revenue * 100
    markup = profit / cost * 100 if cost > 0 else None
    result = {
        "cost": money(cost),
        "revenue": money(revenue),
        "profit": money(profit),
        "margin_percent": rounded(margin, 2),
        "markup_percent": rounded(markup, 2) if markup is not None else None,
        "profitable": profit > 0,
    }
    if dozens is not None:
        result["dozens"] = dozens
        result["profit_per_dozen"] = money(profit / Decimal(dozens))
    return result
