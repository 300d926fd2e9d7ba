"""Build a day-by-day travel plan from a fixed activity table per city."""

from __future__ import annotations

import datetime as dt

from implementations._validation import (
    ensure_payload,
    get_date,
    get_int,
    get_str,
    get_str_list,
)
from implementations.travel._places import CITIES, resolve_city

FIELDS = ("destination", "start_date", "days", "interests")
SLOTS = ("morning", "afternoon", "evening")
CATEGORIES = ("history", "art", "food", "nature", "nightlife", "shopping", "family", "relaxation")

INTEREST_SYNONYMS = {
    "architecture": "history",
    "culture": "history",
    "sightseeing": "history",
    "история": "history",
    "museum": "art",
    "museums": "art",
    "theatre": "art",
    "theater": "art",
    "музеи": "art",
    "искусство": "art",
    "cuisine": "food",
    "restaurants": "food",
    "gastronomy": "food",
    "еда": "food",
    "кухня": "food",
    "outdoors": "nature",
    "parks": "nature",
    "hiking": "nature",
    "природа": "nature",
    "bars": "nightlife",
    "music": "nightlife",
    "shops": "shopping",
    "markets": "shopping",
    "шопинг": "shopping",
    "kids": "family",
    "children": "family",
    "дети": "family",
    "beach": "relaxation",
    "spa": "relaxation",
    "relax": "relaxation",
    "отдых": "relaxation",
}

# city -> [(slot, category, activity)]
ACTIVITIES: dict[str, list[tuple[str, str, str]]] = {
    "moscow": [
        ("morning", "history", "Red Square, St Basil's Cathedral and the Kremlin"),
        ("morning", "art", "Tretyakov Gallery"),
        ("morning", "nature", "Kolomenskoye estate and riverside walk"),
        ("afternoon", "nature", "Gorky Park and the Muzeon sculpture park"),
        ("afternoon", "shopping", "GUM and Nikolskaya Street"),
        ("afternoon", "art", "Pushkin Museum of Fine Arts"),
        ("afternoon", "family", "Moscow river boat trip"),
        ("evening", "art", "Performance at the Bolshoi Theatre"),
        ("evening", "food", "Dinner at the Danilovsky Market food hall"),
        ("evening", "nightlife", "Bars around Patriarch's Ponds"),
    ],
    "saint_petersburg": [
        ("morning", "art", "State Hermitage Museum"),
        ("morning", "history", "Peter and Paul Fortress"),
        ("morning", "history", "Peterhof palace and fountains"),
        ("afternoon", "family", "Canal and river boat tour"),
        ("afternoon", "art", "State Russian Museum"),
        ("afternoon", "history", "St Isaac's Cathedral colonnade"),
        ("afternoon", "shopping", "Nevsky Prospect and Gostiny Dvor"),
        ("evening", "art", "Ballet or opera at the Mariinsky Theatre"),
        ("evening", "food", "Dinner on Rubinstein Street"),
        ("evening", "nightlife", "Watching the Neva bridges open at night"),
    ],
    "sochi": [
        ("morning", "nature", "Rosa Khutor cable car to the mountain peaks"),
        ("morning", "nature", "Sochi Arboretum"),
        ("morning", "family", "Olympic Park and Sirius"),
        ("afternoon", "relaxation", "Beach afternoon on the Black Sea"),
        ("afternoon", "nature", "Agura waterfalls hike"),
        ("afternoon", "relaxation", "Matsesta mineral spa"),
        ("evening", "nightlife", "Evening promenade along the seafront and port"),
        ("evening", "food", "Caucasian dinner with khachapuri and grilled fish"),
    ],
    "kazan": [
        ("morning", "history", "Kazan Kremlin and Kul Sharif Mosque"),
        ("morning", "art", "Temple of All Religions"),
        ("afternoon", "history", "Old Tatar Quarter"),
        ("afternoon", "shopping", "Bauman Street"),
        ("afternoon", "nature", "Raifa Monastery and forest reserve"),
        ("evening", "food", "Tatar dinner: echpochmak and chak-chak"),
        ("evening", "family", "Kazanka embankment and the Kazan Family Centre"),
    ],
    "paris": [
        ("morning", "art", "Louvre Museum"),
        ("morning", "history", "Île de la Cité and Notre-Dame"),
        ("morning", "art", "Musée d'Orsay"),
        ("afternoon", "history", "Montmartre and the Sacré-Cœur"),
        ("afternoon", "nature", "Luxembourg Gardens"),
        ("afternoon", "shopping", "Boutiques of Le Marais"),
        ("afternoon", "family", "Seine river cruise"),
        ("evening", "family", "Eiffel Tower at night"),
        ("evening", "food", "Bistro dinner in Saint-Germain"),
        ("evening", "nightlife", "Jazz club in the Latin Quarter"),
    ],
    "istanbul": [
        ("morning", "history", "Hagia Sophia and the Blue Mosque"),
        ("morning", "history", "Topkapı Palace"),
        ("afternoon", "shopping", "Grand Bazaar and Spice Bazaar"),
        ("afternoon", "nature", "Bosphorus ferry to the Asian side"),
        ("afternoon", "art", "Istanbul Modern"),
        ("evening", "food", "Meze dinner in Kadıköy"),
        ("evening", "nightlife", "Sunset at Galata Tower and İstiklal Avenue"),
    ],
}

GENERIC: list[tuple[str, str, str]] = [
    ("morning", "history", "Walking tour of the historic centre of {city}"),
    ("morning", "art", "Main art or history museum of {city}"),
    ("morning", "nature", "Morning in the largest park of {city}"),
    ("morning", "food", "Breakfast at a local café and neighbourhood stroll"),
    ("afternoon", "food", "Lunch at a food market and a local tasting"),
    ("afternoon", "shopping", "Explore the main shopping street"),
    ("afternoon", "family", "Hop-on hop-off bus or boat tour of {city}"),
    ("afternoon", "relaxation", "Free afternoon to rest"),
    ("evening", "food", "Dinner at a restaurant serving regional cuisine"),
    ("evening", "nightlife", "Live music or a local bar"),
    ("evening", "nature", "Sunset from a viewpoint over {city}"),
]


def _interests(raw: list[str]) -> tuple[list[str], list[str]]:
    matched, unmatched = [], []
    for interest in raw:
        key = interest.lower()
        category = key if key in CATEGORIES else INTEREST_SYNONYMS.get(key)
        if category is None:
            unmatched.append(interest)
        elif category not in matched:
            matched.append(category)
    return matched, unmatched


def _pick(options, used: set[int], slot: str, interests: list[str]) -> int | None:
    free = [i for i, (s, _, _) in enumerate(options) if s == slot and i not in used]
    preferred = [i for i in free if options[i][1] in interests]
    if preferred:
        return min(preferred, key=lambda i: (interests.index(options[i][1]), i))
    return free[0] if free else None


def run(payload: dict, ctx=None) -> dict:
    """Plan ``days`` days in ``destination`` starting on ``start_date``.

    Each day has a morning, afternoon and evening activity. Activities matching
    ``interests`` come first; cities without a table get a generic plan.
    """
    payload = ensure_payload(payload, FIELDS)
    destination = get_str(payload, "destination", max_length=100)
    start = get_date(payload, "start_date")
    days = get_int(payload, "days", minimum=1, maximum=14)
    interests, unmatched = _interests(get_str_list(payload, "interests", [], max_items=10))

    city = resolve_city(destination)
    name = CITIES[city]["name"] if city else destination
    table = ACTIVITIES.get(city, [])
    used: set[int] = set()
    used_generic: set[int] = set()
    plan = []
    for offset in range(days):
        date = start + dt.timedelta(days=offset)
        activities = []
        for slot in SLOTS:
            index = _pick(table, used, slot, interests)
            if index is not None:
                used.add(index)
                _, category, title = table[index]
            else:
                generic = _pick(GENERIC, used_generic, slot, interests)
                if generic is None:
                    used_generic = {i for i in used_generic if GENERIC[i][0] != slot}
                    generic = _pick(GENERIC, used_generic, slot, interests)
                used_generic.add(generic)
                _, category, title = GENERIC[generic]
                title = title.format(city=name)
            activities.append(
                {
                    "slot": slot,
                    "activity": title,
                    "category": category,
                    "matches_interest": category in interests,
                }
            )
        plan.append(
            {
                "day": offset + 1,
                "date": date.isoformat(),
                "weekday": date.strftime("%A"),
                "activities": activities,
            }
        )
    return {
        "destination": name,
        "curated_activities": bool(table),
        "start_date": start.isoformat(),
        "end_date": (start + dt.timedelta(days=days - 1)).isoformat(),
        "days": days,
        "interests": interests,
        "unmatched_interests": unmatched,
        "plan": plan,
    }
