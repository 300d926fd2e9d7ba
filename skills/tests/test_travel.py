"""Tests for the travel skills."""

from __future__ import annotations

import pytest

from implementations.travel import build_itinerary, search_flights, search_hotels

SKILLS = ["travel/search_flights", "travel/search_hotels", "travel/build_itinerary"]


@pytest.mark.parametrize("skill_id", SKILLS)
def test_contract(contract, skill_id):
    contract(skill_id)


def test_flights_moscow_to_saint_petersburg():
    result = search_flights.run(
        {"origin": "svo", "destination": "LED", "date": "2030-06-07", "passengers": 2}
    )
    assert result["origin"] == {"code": "SVO", "name": "Sheremetyevo", "city": "Moscow"}
    assert [f["flight_number"] for f in result["results"]] == ["SU 100", "SU 102", "SU 104"]
    first = result["results"][0]
    assert first["departure"] == "2030-06-07T07:00"
    assert first["arrival"] == "2030-06-07T08:15"
    assert first["duration_minutes"] == 75
    assert first["total_price"] == first["price_per_passenger"] * 2
    assert result["connect_via"] == []


def test_flights_are_deterministic():
    payload = {"origin": "CDG", "destination": "JFK", "date": "2030-03-10"}
    assert search_flights.run(payload) == search_flights.run(payload)


def test_flight_arrival_uses_local_times():
    result = search_flights.run({"origin": "LHR", "destination": "JFK", "date": "2030-03-11"})
    flight = result["results"][0]
    assert flight["departure"] == "2030-03-11T09:15"
    # 09:15 London + 7 h 25 min flight - 5 h time difference = 11:40 New York
    assert flight["duration_minutes"] == 445
    assert flight["arrival"] == "2030-03-11T11:40"


def test_flights_weekday_schedule_and_connections():
    route = {"origin": "KZN", "destination": "AER"}
    assert search_flights.run({**route, "date": "2030-06-04"})["count"] == 1  # Tuesday
    assert search_flights.run({**route, "date": "2030-06-03"})["count"] == 0  # Monday
    indirect = search_flights.run({"origin": "JFK", "destination": "SVO", "date": "2030-06-07"})
    assert indirect["results"] == []
    assert indirect["connect_via"] == ["DXB", "IST"]


@pytest.mark.parametrize(
    "payload, message",
    [
        (
            {"origin": "SVO", "destination": "XYZ", "date": "2030-01-01"},
            "destination: unknown airport XYZ",
        ),
        (
            {"origin": "Moscow", "destination": "LED", "date": "2030-01-01"},
            "origin: must be a 3-letter IATA",
        ),
        ({"origin": "SVO", "destination": "svo", "date": "2030-01-01"}, "destination: must differ"),
        (
            {"origin": "SVO", "destination": "LED", "date": "01/02/2030"},
            "date: must be a date in YYYY-MM-DD",
        ),
        (
            {"origin": "SVO", "destination": "LED", "date": "2030-01-01", "passengers": 10},
            "passengers: must be at most 9",
        ),
    ],
)
def test_flights_reject_bad_input(payload, message):
    with pytest.raises(ValueError, match=message):
        search_flights.run(payload)


def test_hotels_price_the_stay():
    # Wed 5 -> Sat 8 June 2030: Wednesday, Thursday and Friday nights; Friday costs 15% more.
    result = search_hotels.run(
        {"city": "spb", "check_in": "2030-06-05", "check_out": "2030-06-08", "guests": 3}
    )
    assert result["city"] == "Saint Petersburg"
    assert (result["nights"], result["weekend_nights"]) == (3, 1)
    by_name = {h["name"]: h for h in result["results"]}
    hostel = by_name["Vasilievsky Hostel & Rooms"]
    assert hostel["rooms"] == 1 and hostel["total_price"] == 45 * 2 + 45 * 1.15
    fontanka = by_name["Fontanka House"]
    assert fontanka["rooms"] == 2 and fontanka["total_price"] == (120 * 2 + 138) * 2
    totals = [h["total_price"] for h in result["results"]]
    assert totals == sorted(totals)


def test_hotels_filters_and_russian_city_name():
    result = search_hotels.run(
        {"city": "Казань", "check_in": "2030-06-03", "check_out": "2030-06-04", "max_price": 100}
    )
    assert [h["name"] for h in result["results"]] == ["Bauman Street Inn"]
    starred = search_hotels.run(
        {"city": "Moscow", "check_in": "2030-06-03", "check_out": "2030-06-04", "min_stars": 5}
    )
    assert [h["stars"] for h in starred["results"]] == [5]


def test_hotels_unknown_city_returns_no_results_with_note():
    result = search_hotels.run(
        {"city": "Atlantis", "check_in": "2030-06-03", "check_out": "2030-06-05"}
    )
    assert result["results"] == [] and "known cities" in result["note"]


@pytest.mark.parametrize(
    "payload, message",
    [
        (
            {"city": "Paris", "check_in": "2030-06-05", "check_out": "2030-06-05"},
            "check_out: must be after check_in",
        ),
        (
            {"city": "Paris", "check_in": "2030-06-01", "check_out": "2030-08-01"},
            "limited to 30 nights",
        ),
        ({"city": "Paris", "check_in": "2030-06-01"}, "check_out: is required"),
        (
            {"city": "Paris", "check_in": "2030-06-01", "check_out": "2030-06-02", "guests": 0},
            "guests: must be at least 1",
        ),
    ],
)
def test_hotels_reject_bad_input(payload, message):
    with pytest.raises(ValueError, match=message):
        search_hotels.run(payload)


def test_itinerary_prefers_interests_without_repeats():
    result = build_itinerary.run(
        {
            "destination": "Paris",
            "start_date": "2030-06-01",
            "days": 2,
            "interests": ["museums", "food", "golf"],
        }
    )
    assert result["interests"] == ["art", "food"]
    assert result["unmatched_interests"] == ["golf"]
    assert result["end_date"] == "2030-06-02"
    day1, day2 = result["plan"]
    assert (day1["weekday"], day1["date"]) == ("Saturday", "2030-06-01")
    assert [a["activity"] for a in day1["activities"]] == [
        "Louvre Museum",
        "Montmartre and the Sacré-Cœur",
        "Bistro dinner in Saint-Germain",
    ]
    assert day2["activities"][0]["activity"] == "Musée d'Orsay"
    titles = [a["activity"] for day in result["plan"] for a in day["activities"]]
    assert len(titles) == len(set(titles)) == 6


def test_itinerary_generic_destination_and_long_trip():
    result = build_itinerary.run({"destination": "Tromsø", "start_date": "2030-01-10", "days": 6})
    assert result["curated_activities"] is False
    assert (
        result["plan"][0]["activities"][0]["activity"]
        == "Walking tour of the historic centre of Tromsø"
    )
    assert len(result["plan"]) == 6
    assert all(len(day["activities"]) == 3 for day in result["plan"])


@pytest.mark.parametrize(
    "payload, message",
    [
        (
            {"destination": "Paris", "start_date": "2030-06-01", "days": 0},
            "days: must be at least 1",
        ),
        (
            {"destination": "Paris", "start_date": "2030-06-01", "days": 15},
            "days: must be at most 14",
        ),
        ({"destination": "Paris", "start_date": "June 1", "days": 2}, "start_date: must be a date"),
        (
            {"destination": "Paris", "start_date": "2030-06-01", "days": 2, "interests": "art"},
            "interests: must be a list",
        ),
    ],
)
def test_itinerary_rejects_bad_input(payload, message):
    with pytest.raises(ValueError, match=message):
        build_itinerary.run(payload)
