"""Search direct flights in a fixed, deterministic sample timetable."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import ROUND_HALF_UP, Decimal

from implementations._validation import ensure_payload, get_date, get_int
from implementations.travel._places import AIRPORTS, CITIES, distance_km

FIELDS = ("origin", "destination", "date", "passengers")
CURRENCY = "EUR"
IATA_RE = re.compile(r"^[A-Za-z]{3}$")
AIRLINES = {
    "SU": "Aeroflot",
    "S7": "S7 Airlines",
    "U6": "Ural Airlines",
    "TK": "Turkish Airlines",
    "EK": "Emirates",
    "AF": "Air France",
    "BA": "British Airways",
}
DAILY = frozenset(range(7))

# (origin, destination, airline, outbound departure times, weekdays with Monday = 0).
# Every route also runs in reverse, leaving one hour after the outbound flight lands.
ROUTES: tuple[tuple[str, str, str, tuple[str, ...], frozenset[int]], ...] = (
    ("SVO", "LED", "SU", ("07:00", "12:30", "19:45"), DAILY),
    ("SVO", "AER", "SU", ("08:15", "14:40"), DAILY),
    ("SVO", "KZN", "SU", ("09:20", "18:10"), DAILY),
    ("SVO", "OVB", "S7", ("10:05", "22:50"), DAILY),
    ("SVO", "IST", "TK", ("11:50",), DAILY),
    ("SVO", "DXB", "EK", ("10:40",), DAILY),
    ("LED", "AER", "U6", ("09:00",), DAILY),
    ("LED", "KZN", "U6", ("15:30",), frozenset({0, 2, 4, 6})),
    ("LED", "IST", "TK", ("13:15",), frozenset({0, 2, 4, 6})),
    ("KZN", "AER", "U6", ("07:45",), frozenset({1, 3, 5})),
    ("AER", "IST", "TK", ("12:20",), DAILY),
    ("IST", "CDG", "TK", ("08:30", "17:05"), DAILY),
    ("IST", "LHR", "TK", ("09:45",), DAILY),
    ("IST", "DXB", "TK", ("15:20",), DAILY),
    ("IST", "JFK", "TK", ("13:30",), DAILY),
    ("CDG", "LHR", "AF", ("07:30", "12:00", "18:30"), DAILY),
    ("CDG", "JFK", "AF", ("10:30",), DAILY),
    ("LHR", "JFK", "BA", ("09:15", "16:40"), DAILY),
    ("DXB", "LHR", "EK", ("08:05",), DAILY),
    ("DXB", "JFK", "EK", ("02:35",), frozenset({0, 3, 5})),
)


def _duration_minutes(km: float) -> int:
    minutes = km / 800 * 60 + 30
    return int(round(minutes / 5) * 5)


def _local_arrival(
    origin: str, destination: str, departure: dt.datetime, minutes: int
) -> dt.datetime:
    shift = AIRPORTS[destination]["utc_offset"] - AIRPORTS[origin]["utc_offset"]
    return departure + dt.timedelta(minutes=minutes, hours=shift)


def _timetable() -> list[dict]:
    """Expand ``ROUTES`` into one entry per flight and direction."""
    flights = []
    for route_index, (origin, destination, airline, times, days) in enumerate(ROUTES):
        minutes = _duration_minutes(distance_km(origin, destination))
        for slot, time in enumerate(times):
            hours, mins = map(int, time.split(":"))
            outbound = dt.datetime(2000, 1, 3, hours, mins)
            turnaround = _local_arrival(origin, destination, outbound, minutes + 60)
            number = 100 + route_index * 10 + slot * 2
            flights.append(
                (origin, destination, f"{airline} {number}", outbound.time(), minutes, days)
            )
            flights.append(
                (destination, origin, f"{airline} {number + 1}", turnaround.time(), minutes, days)
            )
    return [
        {
            "origin": o,
            "destination": d,
            "flight_number": n,
            "departs": t,
            "minutes": m,
            "days": days,
        }
        for o, d, n, t, m, days in flights
    ]


TIMETABLE = _timetable()


def _airport(payload: dict, key: str) -> str:
    value = payload.get(key)
    if value is None:
        raise ValueError(f"{key}: is required")
    if not isinstance(value, str) or not IATA_RE.match(value.strip()):
        raise ValueError(f"{key}: must be a 3-letter IATA airport code")
    code = value.strip().upper()
    if code not in AIRPORTS:
        known = ", ".join(f"{c} ({CITIES[a['city']]['name']})" for c, a in AIRPORTS.items())
        raise ValueError(f"{key}: unknown airport {code}; known airports: {known}")
    return code


def _variation(flight_number: str, date: dt.date, salt: str) -> int:
    digest = hashlib.sha256(f"{flight_number}|{date.isoformat()}|{salt}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _fare(flight_number: str, date: dt.date, km: float) -> Decimal:
    base = Decimal(40) + Decimal(str(round(km))) * Decimal("0.09")
    factor = Decimal(85 + _variation(flight_number, date, "fare") % 46) / 100
    if date.weekday() in (4, 6):
        factor += Decimal("0.10")
    return (base * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP)


def _connections(origin: str, destination: str) -> list[str]:
    """Airports with timetable flights from ``origin`` and on to ``destination``."""
    legs = {(f["origin"], f["destination"]) for f in TIMETABLE}
    return sorted(hub for hub in AIRPORTS if (origin, hub) in legs and (hub, destination) in legs)


def _airport_info(code: str) -> dict:
    airport = AIRPORTS[code]
    return {"code": code, "name": airport["name"], "city": CITIES[airport["city"]]["name"]}


def run(payload: dict, ctx=None) -> dict:
    """List direct flights from ``origin`` to ``destination`` on ``date``.

    Fares (EUR per passenger) and free seats are derived deterministically from the
    flight number and date; times are local to each airport.
    """
    payload = ensure_payload(payload, FIELDS)
    origin = _airport(payload, "origin")
    destination = _airport(payload, "destination")
    if origin == destination:
        raise ValueError("destination: must differ from origin")
    date = get_date(payload, "date")
    passengers = get_int(payload, "passengers", 1, minimum=1, maximum=9)
    km = distance_km(origin, destination)

    results = []
    for flight in TIMETABLE:
        if flight["origin"] != origin or flight["destination"] != destination:
            continue
        if date.weekday() not in flight["days"]:
            continue
        number = flight["flight_number"]
        seats_left = 2 + _variation(number, date, "seats") % 39
        if seats_left < passengers:
            continue
        departure = dt.datetime.combine(date, flight["departs"])
        arrival = _local_arrival(origin, destination, departure, flight["minutes"])
        fare = _fare(number, date, km)
        results.append(
            {
                "flight_number": number,
                "airline": AIRLINES[number.split()[0]],
                "origin": origin,
                "destination": destination,
                "departure": departure.isoformat(timespec="minutes"),
                "arrival": arrival.isoformat(timespec="minutes"),
                "duration_minutes": flight["minutes"],
                "seats_left": seats_left,
                "price_per_passenger": float(fare),
                "total_price": float(fare * passengers),
                "currency": CURRENCY,
            }
        )
    results.sort(key=lambda f: f["departure"])
    return {
        "origin": _airport_info(origin),
        "destination": _airport_info(destination),
        "date": date.isoformat(),
        "passengers": passengers,
        "distance_km": round(km),
        "results": results,
        "count": len(results),
        "connect_via": [] if results else _connections(origin, destination),
    }
