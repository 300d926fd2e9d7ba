"""List exchange rates for a base currency from the fixed rate table."""

from __future__ import annotations

from implementations._validation import ensure_payload, get_str_list, rounded
from implementations.finance._rates import (
    BASE_CURRENCY,
    RATES_AS_OF,
    SUPPORTED_CURRENCIES,
    cross_rate,
    normalize_code,
)

FIELDS = ("base", "symbols")


def run(payload: dict | None = None, ctx=None) -> dict:
    """Return units of each currency per one unit of ``base`` (default USD).

    ``symbols`` restricts the result to the listed currencies.
    """
    payload = ensure_payload(payload, FIELDS)
    base = (
        normalize_code(payload["base"], "base")
        if payload.get("base") is not None
        else BASE_CURRENCY
    )
    if payload.get("symbols") is None:
        symbols = [code for code in SUPPORTED_CURRENCIES if code != base]
    else:
        raw = get_str_list(payload, "symbols", max_items=len(SUPPORTED_CURRENCIES))
        if not raw:
            raise ValueError("symbols: must list at least one currency code")
        symbols = []
        for index, value in enumerate(raw):
            code = normalize_code(value, f"symbols[{index}]")
            if code not in symbols:
                symbols.append(code)
    return {
        "base": base,
        "rates": {code: rounded(cross_rate(base, code), 6) for code in symbols},
        "as_of": RATES_AS_OF,
    }
