"""Check a supplier profile against structured tender eligibility requirements."""

from __future__ import annotations

from decimal import Decimal

from implementations._validation import (
    ensure_payload,
    get_decimal,
    get_str,
    get_str_list,
)

FIELDS = ("requirements", "supplier")
REQUIREMENT_FIELDS = ("kind", "value", "id", "description")
KINDS = ("license", "certificate", "experience_years", "turnover")
LIST_FIELDS = {"license": "licenses", "certificate": "certificates"}
MAX_REQUIREMENTS = 100


def _normalize(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


def _parse_requirement(raw: object, index: int) -> dict:
    field = f"requirements[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{field}: must be an object with kind and value")
    unknown = sorted(set(raw) - set(REQUIREMENT_FIELDS))
    if unknown:
        raise ValueError(f"{field}: unknown field(s) {', '.join(unknown)}")
    try:
        kind = get_str(raw, "kind", choices=KINDS)
        if kind in LIST_FIELDS:
            value = get_str(raw, "value", max_length=300)
        else:
            value = get_decimal(raw, "value", minimum=0)
        req_id = get_str(raw, "id", None, max_length=100)
        description = get_str(raw, "description", None, max_length=1000)
    except ValueError as exc:
        raise ValueError(f"{field}.{exc}") from None
    return {"kind": kind, "value": value, "id": req_id, "description": description}


def _parse_supplier(raw: object) -> dict:
    if not isinstance(raw, dict):
        raise ValueError(
            "supplier: must be an object (licenses, certificates, experience_years, turnover)"
        )
    try:
        return {
            "licenses": get_str_list(raw, "licenses", None, max_items=200, max_length=300),
            "certificates": get_str_list(raw, "certificates", None, max_items=200, max_length=300),
            "experience_years": get_decimal(raw, "experience_years", None, minimum=0),
            "turnover": get_decimal(raw, "turnover", None, minimum=0),
        }
    except ValueError as exc:
        raise ValueError(f"supplier.{exc}") from None


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _check(requirement: dict, supplier: dict) -> dict:
    kind, required = requirement["kind"], requirement["value"]
    if kind in LIST_FIELDS:
        held = supplier[LIST_FIELDS[kind]]
        if held is None:
            return {
                "required": required,
                "actual": None,
                "met": False,
                "reason": f"supplier profile lists no {LIST_FIELDS[kind]}",
            }
        match = next((item for item in held if _normalize(required) in _normalize(item)), None)
        if match is None:
            return {
                "required": required,
                "actual": held,
                "met": False,
                "reason": f"no {kind} matching {required!r}",
            }
        return {
            "required": required,
            "actual": match,
            "met": True,
            "reason": f"{kind} {match!r} held",
        }
    actual = supplier[kind]
    if actual is None:
        return {
            "required": _number(required),
            "actual": None,
            "met": False,
            "reason": f"supplier profile has no {kind}",
        }
    met = actual >= required
    comparison = "meets" if met else "is below"
    return {
        "required": _number(required),
        "actual": _number(actual),
        "met": met,
        "reason": f"{kind} {_number(actual)} {comparison} the minimum {_number(required)}",
    }


def run(payload: dict, ctx=None) -> dict:
    """Evaluate each requirement ``{kind, value}`` against ``supplier``.

    Kinds: ``license`` and ``certificate`` (text that must appear in one of the supplier's
    ``licenses``/``certificates``, case-insensitive), ``experience_years`` and ``turnover``
    (minimums compared with the supplier's values). The supplier is eligible when every
    requirement is met.
    """
    payload = ensure_payload(payload, FIELDS)
    raw_requirements = payload.get("requirements")
    if not isinstance(raw_requirements, list) or not raw_requirements:
        raise ValueError("requirements: must be a non-empty list of {kind, value}")
    if len(raw_requirements) > MAX_REQUIREMENTS:
        raise ValueError(f"requirements: at most {MAX_REQUIREMENTS} items")
    requirements = [_parse_requirement(raw, i) for i, raw in enumerate(raw_requirements)]
    if payload.get("supplier") is None:
        raise ValueError("supplier: is required")
    supplier = _parse_supplier(payload["supplier"])

    results = []
    for index, requirement in enumerate(requirements):
        outcome = _check(requirement, supplier)
        results.append(
            {
                "index": index,
                "id": requirement["id"],
                "kind": requirement["kind"],
                "description": requirement["description"],
                **outcome,
            }
        )
    failed = [r for r in results if not r["met"]]
    return {
        "eligible": not failed,
        "total": len(results),
        "met_count": len(results) - len(failed),
        "failed_count": len(failed),
        "results": results,
        "unmet": [r["reason"] for r in failed],
    }
