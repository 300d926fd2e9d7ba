"""Fixed exchange-rate table shared by the finance skills.

Rates are units of each currency per one US dollar, as of ``RATES_AS_OF``.
"""

from __future__ import annotations

from decimal import Decimal

BASE_CURRENCY = "USD"
RATES_AS_OF = "2026-11-01"

USD_RATES: dict[str, Decimal] = {
    "USD": Decimal("1"),
    "EUR": Decimal("0.92"),
    "GBP": Decimal("0.79"),
    "JPY": Decimal("151.20"),
    "RUB": Decimal("92.50"),
    "CNY": Decimal("7.12"),
    "CHF": Decimal("0.88"),
    "CAD": Decimal("1.37"),
    "AUD": Decimal("1.52"),
    "INR": Decimal("84.10"),
    "KZT": Decimal("485.00"),
    "TRY": Decimal("34.30"),
}

SUPPORTED_CURRENCIES = tuple(sorted(USD_RATES))


def normalize_code(value: object, field: str) -> str:
    """Validate a supported ISO 4217 code (case-insensitive) and return it upper-cased."""
    if value is None:
        raise ValueError(f"{field}: is required")
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field}: must be a 3-letter currency code")
    code = value.strip().upper()
    if code not in USD_RATES:
        raise ValueError(
            f"{field}: unsupported currency {value!r}; supported: {', '.join(SUPPORTED_CURRENCIES)}"
        )
    return code


def cross_rate(source: str, target: str) -> Decimal:
    """Units of ``target`` per one unit of ``source`` (unrounded)."""
    return USD_RATES[target] / USD_RATES[source]
