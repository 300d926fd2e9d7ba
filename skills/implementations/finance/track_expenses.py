"""Record expenses in a local JSON ledger and report them by category and period.

The ledger is ``expenses.json`` in the directory named by ``SKILLOS_SKILL_DATA_DIR``
(default ``~/.local/share/skillos/skill-data``). Writes are atomic (temporary file plus
``os.replace``) and serialized with an advisory ``fcntl`` lock on ``expenses.json.lock``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from implementations._validation import (
    CENT,
    ensure_payload,
    get_date,
    get_decimal,
    get_int,
    get_str,
    money,
)

DATA_DIR_ENV = "SKILLOS_SKILL_DATA_DIR"
DEFAULT_DATA_DIR = Path("~/.local/share/skillos/skill-data")
LEDGER_FILE = "expenses.json"
ACTIONS = ("add", "list", "summary")
FIELDS = {
    "add": ("action", "amount", "category", "date", "note"),
    "list": ("action", "category", "from_date", "to_date", "limit"),
    "summary": ("action", "category", "from_date", "to_date"),
}
MAX_AMOUNT = Decimal("1000000000")


def ledger_path() -> Path:
    """Location of the ledger file, resolved from the environment."""
    configured = os.environ.get(DATA_DIR_ENV, "").strip()
    directory = Path(configured) if configured else DEFAULT_DATA_DIR
    return directory.expanduser() / LEDGER_FILE


@contextlib.contextmanager
def _locked(path: Path, exclusive: bool) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _read(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"expense ledger {path.name} is not valid JSON: {exc}") from None
    expenses = data.get("expenses") if isinstance(data, dict) else None
    if not isinstance(expenses, list):
        raise RuntimeError(f"expense ledger {path.name} has no 'expenses' list")
    return expenses


def _write(path: Path, expenses: list[dict]) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=".expenses-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"version": 1, "expenses": expenses}, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _category(payload: dict, required: bool) -> str | None:
    if not required and payload.get("category") is None:
        return None
    return get_str(payload, "category", max_length=64).lower()


def _filters(payload: dict) -> tuple[str | None, dt.date | None, dt.date | None]:
    category = _category(payload, required=False)
    from_date = get_date(payload, "from_date", None)
    to_date = get_date(payload, "to_date", None)
    if from_date and to_date and from_date > to_date:
        raise ValueError("from_date: must not be later than to_date")
    return category, from_date, to_date


def _select(expenses: list[dict], category, from_date, to_date) -> list[dict]:
    selected = []
    for entry in expenses:
        day = dt.date.fromisoformat(entry["date"])
        if category is not None and entry["category"] != category:
            continue
        if from_date is not None and day < from_date:
            continue
        if to_date is not None and day > to_date:
            continue
        selected.append(entry)
    selected.sort(key=lambda e: (e["date"], e["id"]))
    return selected


def _amount(entry: dict) -> Decimal:
    return Decimal(str(entry["amount"]))


def _period(from_date, to_date) -> dict:
    return {
        "from_date": from_date.isoformat() if from_date else None,
        "to_date": to_date.isoformat() if to_date else None,
    }


def _add(payload: dict) -> dict:
    amount = get_decimal(payload, "amount", minimum=0, exclusive_minimum=True, maximum=MAX_AMOUNT)
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if amount <= 0:
        raise ValueError("amount: must be at least 0.01")
    category = _category(payload, required=True)
    day = get_date(payload, "date", dt.datetime.now(dt.timezone.utc).date())
    note = get_str(payload, "note", None, max_length=500) if payload.get("note") else None
    path = ledger_path()
    with _locked(path, exclusive=True):
        expenses = _read(path)
        next_id = max((int(e["id"]) for e in expenses), default=0) + 1
        entry = {
            "id": next_id,
            "date": day.isoformat(),
            "category": category,
            "amount": float(amount),
            "note": note,
        }
        expenses.append(entry)
        _write(path, expenses)
    return {"action": "add", "expense": entry, "ledger_size": len(expenses)}


def _list(payload: dict) -> dict:
    category, from_date, to_date = _filters(payload)
    limit = get_int(payload, "limit", None, minimum=1, maximum=1000)
    path = ledger_path()
    with _locked(path, exclusive=False):
        selected = _select(_read(path), category, from_date, to_date)
    total = sum((_amount(e) for e in selected), Decimal(0))
    shown = selected[-limit:] if limit else selected
    return {
        "action": "list",
        "category": category,
        **_period(from_date, to_date),
        "expenses": shown,
        "count": len(selected),
        "total": money(total),
    }


def _summary(payload: dict) -> dict:
    category, from_date, to_date = _filters(payload)
    path = ledger_path()
    with _locked(path, exclusive=False):
        selected = _select(_read(path), category, from_date, to_date)
    totals: dict[str, Decimal] = {}
    counts: dict[str, int] = {}
    for entry in selected:
        totals[entry["category"]] = totals.get(entry["category"], Decimal(0)) + _amount(entry)
        counts[entry["category"]] = counts.get(entry["category"], 0) + 1
    return {
        "action": "summary",
        "category": category,
        **_period(from_date, to_date),
        "by_category": {
            name: {"total": money(totals[name]), "count": counts[name]} for name in sorted(totals)
        },
        "count": len(selected),
        "total": money(sum(totals.values(), Decimal(0))),
    }


def run(payload: dict, ctx=None) -> dict:
    """Dispatch on ``action``: ``add`` an expense, ``list`` expenses or ``summary`` totals."""
    if not isinstance(payload, dict):
        raise ValueError("payload: must be a JSON object")
    action = get_str(payload, "action", choices=ACTIONS)
    payload = ensure_payload(payload, FIELDS[action])
    handler = {"add": _add, "list": _list, "summary": _summary}[action]
    return handler(payload)
