"""Cities and airports known to the travel skills."""

from __future__ import annotations

import math

CITIES: dict[str, dict] = {
    "moscow": {"name": "Moscow", "country": "Russia", "aliases": ("москва", "msk", "мск")},
    "saint_petersburg": {
        "name": "Saint Petersburg",
        "country": "Russia",
        "aliases": (
            "st petersburg",
            "st. petersburg",
            "petersburg",
            "spb",
            "санкт-петербург",
            "петербург",
            "спб",
        ),
    },
    "sochi": {"name": "Sochi", "country": "Russia", "aliases": ("сочи",)},
    "kazan": {"name": "Kazan", "country": "Russia", "aliases": ("казань",)},
    "novosibirsk": {"name": "Novosibirsk", "country": "Russia", "aliases": ("новосибирск",)},
    "istanbul": {"name": "Istanbul", "country": "Türkiye", "aliases": ("стамбул",)},
    "dubai": {"name": "Dubai", "country": "United Arab Emirates", "aliases": ("дубай",)},
    "paris": {"name": "Paris", "country": "France", "aliases": ("париж",)},
    "london": {"name": "London", "country": "United Kingdom", "aliases": ("лондон",)},
    "new_york": {
        "name": "New York",
        "country": "United States",
        "aliases": ("nyc", "new york city", "нью-йорк"),
    },
}

# UTC offsets are standard time; daylight saving time is not modelled.
AIRPORTS: dict[str, dict] = {
    "SVO": {
        "name": "Sheremetyevo",
        "city": "moscow",
        "lat": 55.972,
        "lon": 37.415,
        "utc_offset": 3,
    },
    "LED": {
        "name": "Pulkovo",
        "city": "saint_petersburg",
        "lat": 59.800,
        "lon": 30.262,
        "utc_offset": 3,
    },
    "AER": {
        "name": "Sochi International",
        "city": "sochi",
        "lat": 43.450,
        "lon": 39.957,
        "utc_offset": 3,
    },
    "KZN": {
        "name": "Kazan International",
        "city": "kazan",
        "lat": 55.606,
        "lon": 49.279,
        "utc_offset": 3,
    },
    "OVB": {
        "name": "Tolmachevo",
        "city": "novosibirsk",
        "lat": 55.013,
        "lon": 82.651,
        "utc_offset": 7,
    },
    "IST": {
        "name": "Istanbul Airport",
        "city": "istanbul",
        "lat": 41.262,
        "lon": 28.742,
        "utc_offset": 3,
    },
    "DXB": {
        "name": "Dubai International",
        "city": "dubai",
        "lat": 25.253,
        "lon": 55.366,
        "utc_offset": 4,
    },
    "CDG": {
        "name": "Charles de Gaulle",
        "city": "paris",
        "lat": 49.010,
        "lon": 2.548,
        "utc_offset": 1,
    },
    "LHR": {"name": "Heathrow", "city": "london", "lat": 51.470, "lon": -0.454, "utc_offset": 0},
    "JFK": {
        "name": "John F. Kennedy International",
        "city": "new_york",
        "lat": 40.640,
        "lon": -73.779,
        "utc_offset": -5,
    },
}


def resolve_city(value: str) -> str | None:
    """City key for a name or alias (case-insensitive, English or Russian), else ``None``."""
    wanted = " ".join(value.strip().lower().replace("_", " ").split())
    for key, info in CITIES.items():
        if wanted in (key.replace("_", " "), info["name"].lower(), *info["aliases"]):
            return key
    return None


def city_names() -> list[str]:
    """Display names of all known cities."""
    return [info["name"] for info in CITIES.values()]


def distance_km(origin: str, destination: str) -> float:
    """Great-circle distance between two airports."""
    a, b = AIRPORTS[origin], AIRPORTS[destination]
    lat1, lon1, lat2, lon2 = map(math.radians, (a["lat"], a["lon"], b["lat"], b["lon"]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))
