"""Return the oyster supplier's price list, optionally filtered by variety and size."""

from __future__ import annotations

from implementations._validation import ensure_payload, get_int
from implementations.oysters._catalog import (
    CURRENCY,
    SUPPLIER,
    VALID_FROM,
    entries,
    resolve_variety,
)

FIELDS = ("variety", "size")


def run(payload: dict | None = None, ctx=None) -> dict:
    """List price-list rows (EUR per dozen); filter by ``variety`` and/or calibre ``size``."""
    payload = ensure_payload(payload, FIELDS)
    variety = resolve_variety(payload["variety"]) if payload.get("variety") is not None else None
    size = get_int(payload, "size", None, minimum=0, maximum=5)
    items = [
        row
        for row in entries()
        if (variety is None or row["variety"] == variety) and (size is None or row["size"] == size)
    ]
    return {
        "supplier": SUPPLIER,
        "currency": CURRENCY,
        "valid_from": VALID_FROM,
        "items": items,
        "count": len(items),
    }
