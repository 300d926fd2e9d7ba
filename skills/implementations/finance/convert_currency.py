"""Convert an amount between currencies using the fixed rate table."""

from __future__ import annotations

from implementations._validation import ensure_payload, get_decimal, money, rounded
from implementations.finance._rates import RATES_AS_OF, cross_rate, normalize_code

FIELDS = ("amount", "from", "to")


def run(payload: dict, ctx=None) -> dict:
    """Convert ``amount`` from currency ``from`` to currency ``to``.

    Returns the converted amount rounded to cents and the cross rate used.
    """
    payload = ensure_payload(payload, FIELDS)
    amount = get_decimal(payload, "amount", minimum=0)
    source = normalize_code(payload.get("from"), "from")
    target = normalize_code(payload.get("to"), "to")
    rate = cross_rate(source, target)
    return {
        "amount": money(amount),
        "from": source,
        "to": target,
        "converted": money(amount * rate),
        "rate": rounded(rate, 6),
        "rates_as_of": RATES_AS_OF,
    }
