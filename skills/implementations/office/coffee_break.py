"""Suggest a coffee break: a drink, a duration and a tip, chosen deterministically."""

from __future__ import annotations

import datetime as dt
import hashlib

from implementations._validation import ensure_payload, get_int, get_str

FIELDS = ("minutes", "mood", "seed")
MOODS = ("tired", "stressed", "focused", "social", "neutral")

DRINKS: dict[str, tuple[str, ...]] = {
    "tired": ("double espresso", "americano", "cold brew", "flat white"),
    "stressed": ("chamomile tea", "decaf latte", "rooibos tea", "warm oat milk cocoa"),
    "focused": ("espresso", "green tea", "cortado", "matcha latte"),
    "social": ("cappuccino", "latte", "mocha", "chai latte"),
    "neutral": ("cappuccino", "americano", "flat white", "green tea", "filter coffee"),
}

DEFAULT_MINUTES = {"tired": 15, "stressed": 10, "focused": 5, "social": 20, "neutral": 10}

TIPS: dict[str, tuple[str, ...]] = {
    "tired": (
        "Step outside for a few minutes of daylight; it helps more than a second cup.",
        "Drink a glass of water with your coffee; tiredness is often mild dehydration.",
        "Walk up and down a flight of stairs before you sit back down.",
    ),
    "stressed": (
        "Try box breathing: inhale 4 s, hold 4 s, exhale 4 s, hold 4 s, four rounds.",
        "Leave your phone at the desk and give the break your full attention.",
        "Write down the one thing worrying you most, then close the notebook.",
    ),
    "focused": (
        "Keep it short and note where you stopped so you can resume instantly.",
        "Look at something at least 6 metres away for 20 seconds to rest your eyes.",
        "Stretch your neck and wrists while the coffee brews.",
    ),
    "social": (
        "Invite a colleague you have not talked to this week.",
        "Ask someone what they are working on; you may learn a shortcut.",
        "Bring a snack to share at the coffee machine.",
    ),
    "neutral": (
        "Stand up and stretch before you head to the coffee machine.",
        "Refill your water bottle on the way back.",
        "Take the long way to the kitchen for a few extra steps.",
    ),
}


def _pick(options: tuple[str, ...], seed: int, salt: str) -> str:
    digest = hashlib.sha256(f"{seed}:{salt}".encode()).digest()
    return options[int.from_bytes(digest[:8], "big") % len(options)]


def run(payload: dict | None = None, ctx=None) -> dict:
    """Suggest a break for an optional ``mood`` and length in ``minutes``.

    The choice is a function of ``seed``; without it the current UTC minute of the day
    is used, so repeated calls within the same minute agree.
    """
    payload = ensure_payload(payload, FIELDS)
    mood = get_str(payload, "mood", "neutral", max_length=20).lower()
    if mood not in MOODS:
        raise ValueError(f"mood: must be one of {', '.join(MOODS)}")
    minutes = get_int(payload, "minutes", DEFAULT_MINUTES[mood], minimum=1, maximum=60)
    if payload.get("seed") is None:
        now = dt.datetime.now(dt.timezone.utc)
        seed = now.hour * 60 + now.minute
    else:
        seed = get_int(payload, "seed")
    drink = _pick(DRINKS[mood], seed, f"drink:{mood}")
    tip = _pick(TIPS[mood], seed, f"tip:{mood}")
    return {
        "drink": drink,
        "duration_minutes": minutes,
        "mood": mood,
        "tip": tip,
        "seed": seed,
        "message": f"Take a {minutes}-minute break with a {drink}. {tip}",
    }
