"""Search hotels in a fixed sample inventory and price a stay."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from implementations._validation import (
    ensure_payload,
    get_date,
    get_decimal,
    get_int,
    get_str,
    money,
)
from implementations.travel._places import CITIES, city_names, resolve_city

FIELDS = ("city", "check_in", "check_out", "guests", "max_price", "min_stars")
CURRENCY = "EUR"
MAX_NIGHTS = 30
WEEKEND_SURCHARGE = Decimal("1.15")
WEEKEND_NIGHTS = (4, 5)

# (city, name, stars, rating out of 10, district, nightly rate per room in EUR,
#  guests per room, amenities)
# fmt: off
HOTELS: tuple[tuple, ...] = (
    ("moscow", "Hotel Zaryadye Garden", 5, 9.2, "Kitay-Gorod", "240", 2, ("wifi", "spa", "restaurant")),
    ("moscow", "Arbat Lane Hotel", 4, 8.7, "Arbat", "135", 2, ("wifi", "breakfast")),
    ("moscow", "Tverskaya Budget Rooms", 3, 8.0, "Tverskoy", "70", 3, ("wifi",)),
    ("saint_petersburg", "Nevsky Embankment Hotel", 5, 9.1, "Central", "210", 2, ("wifi", "spa", "breakfast")),
    ("saint_petersburg", "Fontanka House", 4, 8.8, "Fontanka", "120", 2, ("wifi", "breakfast")),
    ("saint_petersburg", "Vasilievsky Hostel & Rooms", 2, 8.2, "Vasileostrovsky", "45", 4, ("wifi", "kitchen")),
    ("sochi", "Black Sea Resort", 5, 9.0, "Khostinsky", "260", 3, ("wifi", "pool", "beach", "spa")),
    ("sochi", "Kurortny Prospekt Hotel", 4, 8.4, "Central", "130", 2, ("wifi", "pool", "breakfast")),
    ("sochi", "Krasnaya Polyana Chalet", 4, 8.9, "Krasnaya Polyana", "150", 4, ("wifi", "ski storage", "sauna")),
    ("kazan", "Kremlin View Hotel", 4, 8.9, "Vakhitovsky", "110", 2, ("wifi", "breakfast")),
    ("kazan", "Bauman Street Inn", 3, 8.3, "Vakhitovsky", "60", 2, ("wifi",)),
    ("novosibirsk", "Ob River Hotel", 4, 8.5, "Zheleznodorozhny", "95", 2, ("wifi", "breakfast", "gym")),
    ("istanbul", "Bosphorus Terrace Hotel", 5, 9.3, "Beşiktaş", "280", 2, ("wifi", "spa", "sea view")),
    ("istanbul", "Sultanahmet Courtyard", 4, 8.8, "Fatih", "125", 3, ("wifi", "breakfast")),
    ("istanbul", "Galata Loft Rooms", 3, 8.4, "Beyoğlu", "75", 2, ("wifi",)),
    ("dubai", "Marina Sands Hotel", 5, 9.0, "Dubai Marina", "320", 3, ("wifi", "pool", "beach")),
    ("dubai", "Deira Creek Hotel", 3, 8.1, "Deira", "85", 2, ("wifi", "pool")),
    ("paris", "Hôtel Rive Gauche", 4, 8.9, "Saint-Germain", "230", 2, ("wifi", "breakfast")),
    ("paris", "Montmartre Petit Hôtel", 3, 8.5, "Montmartre", "140", 2, ("wifi",)),
    ("london", "Southbank Riverside Hotel", 4, 8.7, "Southwark", "250", 2, ("wifi", "gym")),
    ("london", "Camden Guest House", 3, 8.0, "Camden", "130", 3, ("wifi", "breakfast")),
    ("new_york", "Midtown Skyline Hotel", 4, 8.6, "Midtown", "290", 2, ("wifi", "gym")),
    ("new_york", "Brooklyn Bridge Inn", 3, 8.4, "Brooklyn", "180", 4, ("wifi", "breakfast")),
)
# fmt: on


def run(payload: dict, ctx=None) -> dict:
    """Hotels in ``city`` for ``check_in``..``check_out`` with the total price of the stay.

    Rooms are added as needed for ``guests``; Friday and Saturday nights cost 15% more.
    ``max_price`` caps the nightly rate per room and ``min_stars`` the category.
    """
    payload = ensure_payload(payload, FIELDS)
    city_input = get_str(payload, "city", max_length=100)
    check_in = get_date(payload, "check_in")
    check_out = get_date(payload, "check_out")
    nights = (check_out - check_in).days
    if nights < 1:
        raise ValueError("check_out: must be after check_in")
    if nights > MAX_NIGHTS:
        raise ValueError(f"check_out: stays are limited to {MAX_NIGHTS} nights")
    guests = get_int(payload, "guests", 1, minimum=1, maximum=20)
    max_price = get_decimal(payload, "max_price", None, minimum=0, exclusive_minimum=True)
    min_stars = get_int(payload, "min_stars", None, minimum=1, maximum=5)

    city = resolve_city(city_input)
    dates = [check_in + dt.timedelta(days=i) for i in range(nights)]
    weekend_nights = sum(1 for d in dates if d.weekday() in WEEKEND_NIGHTS)
    results = []
    for hotel_city, name, stars, rating, district, rate, capacity, amenities in HOTELS:
        if hotel_city != city:
            continue
        nightly = Decimal(rate)
        if max_price is not None and nightly > max_price:
            continue
        if min_stars is not None and stars < min_stars:
            continue
        rooms = math.ceil(guests / capacity)
        per_room = (
            nightly * (nights - weekend_nights) + nightly * WEEKEND_SURCHARGE * weekend_nights
        )
        total = per_room * rooms
        results.append(
            {
                "name": name,
                "city": CITIES[city]["name"],
                "district": district,
                "stars": stars,
                "rating": rating,
                "amenities": list(amenities),
                "price_per_night": money(nightly),
                "rooms": rooms,
                "guests_per_room": capacity,
                "total_price": money(total),
                "average_per_night": money(total / nights),
                "currency": CURRENCY,
            }
        )
    results.sort(key=lambda h: (h["total_price"], h["name"]))
    response = {
        "city": CITIES[city]["name"] if city else city_input,
        "check_in": check_in.isoformat(),
        "check_out": check_out.isoformat(),
        "nights": nights,
        "weekend_nights": weekend_nights,
        "guests": guests,
        "results": results,
        "count": len(results),
    }
    if city is None:
        response["note"] = f"No hotels for {city_input!r}; known cities: {', '.join(city_names())}"
    return response
