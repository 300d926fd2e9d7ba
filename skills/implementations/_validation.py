"""Input validation helpers shared by the example skills.

Every helper raises ``ValueError`` with a message of the form ``"<field>: <problem>"``.
A field is required unless a ``default`` is given; an absent or ``null`` optional field
yields the default (``None`` included) without further checks.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

_MISSING = object()
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CENT = Decimal("0.01")


def ensure_payload(payload: Any, allowed: Iterable[str]) -> dict:
    """Return the payload as a dict (``None`` becomes ``{}``) and reject unknown keys."""
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise ValueError("payload: must be a JSON object")
    unknown = sorted(set(payload) - set(allowed))
    if unknown:
        raise ValueError(
            f"payload: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    return payload


def _get(payload: dict, key: str, default: Any) -> Any:
    value = payload.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise ValueError(f"{key}: is required")
        return default
    return value


def get_decimal(
    payload: dict,
    key: str,
    default: Any = _MISSING,
    *,
    minimum: Decimal | int | None = None,
    maximum: Decimal | int | None = None,
    exclusive_minimum: bool = False,
) -> Decimal | None:
    """Read a number (int, float or numeric string) as a finite ``Decimal``."""
    value = _get(payload, key, default)
    if value is None:
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{key}: must be a number")
    else:
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{key}: must be a number, got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{key}: must be a finite number")
    if minimum is not None:
        if exclusive_minimum and number <= minimum:
            raise ValueError(f"{key}: must be greater than {minimum}")
        if not exclusive_minimum and number < minimum:
            raise ValueError(f"{key}: must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{key}: must be at most {maximum}")
    return number


def get_int(
    payload: dict,
    key: str,
    default: Any = _MISSING,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """Read an integer (a float with no fractional part is accepted)."""
    value = _get(payload, key, default)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{key}: must be an integer")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ValueError(f"{key}: must be an integer")
    if minimum is not None and value < minimum:
        raise ValueError(f"{key}: must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{key}: must be at most {maximum}")
    return value


def get_bool(payload: dict, key: str, default: Any = _MISSING) -> bool | None:
    """Read a JSON boolean."""
    value = _get(payload, key, default)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ValueError(f"{key}: must be true or false")
    return value


def get_str(
    payload: dict,
    key: str,
    default: Any = _MISSING,
    *,
    max_length: int = 200,
    choices: Iterable[str] | None = None,
) -> str | None:
    """Read a non-empty string, stripped of surrounding whitespace."""
    value = _get(payload, key, default)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key}: must be a string")
    value = value.strip()
    if not value:
        raise ValueError(f"{key}: must not be empty")
    if len(value) > max_length:
        raise ValueError(f"{key}: must be at most {max_length} characters")
    if choices is not None:
        options = list(choices)
        if value not in options:
            raise ValueError(f"{key}: must be one of {', '.join(options)}")
    return value


def get_str_list(
    payload: dict,
    key: str,
    default: Any = _MISSING,
    *,
    max_items: int = 50,
    max_length: int = 200,
) -> list[str] | None:
    """Read a list of non-empty strings."""
    value = _get(payload, key, default)
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(f"{key}: must be a list of strings")
    if len(value) > max_items:
        raise ValueError(f"{key}: must have at most {max_items} items")
    items = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{key}[{index}]: must be a non-empty string")
        if len(item) > max_length:
            raise ValueError(f"{key}[{index}]: must be at most {max_length} characters")
        items.append(item.strip())
    return items


def parse_date(value: Any, key: str) -> _dt.date:
    """Parse a ``YYYY-MM-DD`` calendar date."""
    if not isinstance(value, str) or not _DATE_RE.match(value.strip()):
        raise ValueError(f"{key}: must be a date in YYYY-MM-DD format")
    try:
        return _dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{key}: {value!r} is not a valid calendar date") from None


def get_date(payload: dict, key: str, default: Any = _MISSING) -> _dt.date | None:
    """Read a ``YYYY-MM-DD`` date field."""
    value = _get(payload, key, default)
    if value is None:
        return None
    if isinstance(value, _dt.date):
        return value
    return parse_date(value, key)


def money(value: Decimal) -> float:
    """Round half-up to cents and return a JSON-friendly float."""
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def rounded(value: Decimal, places: int) -> float:
    """Round half-up to ``places`` decimals and return a float."""
    return float(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
