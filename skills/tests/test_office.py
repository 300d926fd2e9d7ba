"""Tests for the office skills."""

from __future__ import annotations

import pytest

from implementations.office import coffee_break

SKILLS = ["office/coffee_break"]


@pytest.mark.parametrize("skill_id", SKILLS)
def test_contract(contract, skill_id):
    contract(skill_id)


def test_same_seed_gives_same_suggestion():
    assert coffee_break.run({"seed": 42}) == coffee_break.run({"seed": 42})


def test_suggestion_fits_the_mood():
    result = coffee_break.run({"mood": "stressed", "seed": 3})
    assert result["drink"] in coffee_break.DRINKS["stressed"]
    assert result["tip"] in coffee_break.TIPS["stressed"]
    assert result["duration_minutes"] == coffee_break.DEFAULT_MINUTES["stressed"] == 10
    assert result["message"].startswith(f"Take a 10-minute break with a {result['drink']}.")


def test_minutes_override_and_mood_case():
    result = coffee_break.run({"mood": "Tired", "minutes": 25, "seed": 1})
    assert result["mood"] == "tired"
    assert result["duration_minutes"] == 25


def test_seeds_vary_the_choice():
    drinks = {coffee_break.run({"seed": seed})["drink"] for seed in range(40)}
    assert len(drinks) > 1


def test_no_payload_uses_current_minute():
    result = coffee_break.run(None)
    assert 0 <= result["seed"] < 24 * 60
    assert result["mood"] == "neutral"


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"mood": "angry"}, "mood: must be one of"),
        ({"minutes": 0}, "minutes: must be at least 1"),
        ({"minutes": 90}, "minutes: must be at most 60"),
        ({"seed": "abc"}, "seed: must be an integer"),
        ("tea please", "payload: must be a JSON object"),
    ],
)
def test_rejects_bad_input(payload, message):
    with pytest.raises(ValueError, match=message):
        coffee_break.run(payload)
