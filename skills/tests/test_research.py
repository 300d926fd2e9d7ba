"""Tests for the research skills."""

from __future__ import annotations

import pytest

from implementations.research import summarize_article, web_search
from implementations.research._corpus import DOCUMENTS

SKILLS = ["research/summarize_article", "research/web_search"]

ARTICLE = (
    "Oysters are filter feeders that clean the water of their bays. "
    "A single adult oyster can filter up to fifty litres of water a day. "
    "Oyster farming therefore supports both coastal economies and water quality. "
    "The weather was pleasant on the day of our visit. "
    "Farmers move young oysters between tidal beds as the oysters grow. "
    "Many restaurants now buy oysters directly from farmers."
)


@pytest.mark.parametrize("skill_id", SKILLS)
def test_contract(contract, skill_id):
    contract(skill_id)


def test_summary_picks_representative_sentences_in_order():
    result = summarize_article.run({"text": ARTICLE, "max_sentences": 2})
    assert result["key_points"] == [
        "A single adult oyster can filter up to fifty litres of water a day.",
        "Farmers move young oysters between tidal beds as the oysters grow.",
    ]
    assert result["summary"] == " ".join(result["key_points"])
    assert "The weather was pleasant on the day of our visit." not in result["summary"]
    assert result["keywords"][:2] == ["oysters", "water"]
    assert result["word_count"] == 64
    assert result["sentence_count"] == 6
    assert result["language"] == "en"


def test_summary_russian_text():
    text = (
        "Устрицы — морские двустворчатые моллюски. Вчера шёл дождь. "
        "Фермеры выращивают устрицы в садках, и устрицы растут три года. "
        "Ресторан купил устрицы у фермеров."
    )
    result = summarize_article.run({"text": text, "max_sentences": 1})
    assert result["key_points"] == [
        "Фермеры выращивают устрицы в садках, и устрицы растут три года."
    ]
    assert result["keywords"][0] == "устрицы"
    assert result["language"] == "ru"


def test_summary_of_short_text_keeps_everything():
    result = summarize_article.run({"text": "Only one sentence here."})
    assert result["key_points"] == ["Only one sentence here."]


@pytest.mark.parametrize(
    "payload, message",
    [
        ({}, "text: is required"),
        ({"text": "   "}, "text: must not be empty"),
        ({"text": "Hi.", "max_sentences": 0}, "max_sentences: must be at least 1"),
        ({"text": 42}, "text: must be a string"),
    ],
)
def test_summary_rejects_bad_input(payload, message):
    with pytest.raises(ValueError, match=message):
        summarize_article.run(payload)


def test_search_ranks_relevant_document_first():
    result = web_search.run({"query": "oyster shipping temperature", "limit": 3})
    assert result["results"][0]["title"] == "Oyster"
    assert result["results"][0]["url"] == "https://en.wikipedia.org/wiki/Oyster"
    assert "shipping" in result["results"][0]["snippet"]
    scores = [r["score"] for r in result["results"]]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert result["index"]["documents"] == len(DOCUMENTS) == 21


def test_search_in_russian():
    result = web_search.run({"query": "закупки по 44-ФЗ"})
    assert result["results"][0]["title"].startswith("Федеральный закон № 44-ФЗ")


def test_search_limit_and_no_matches():
    assert web_search.run({"query": "travel guide", "limit": 2})["count"] == 2
    empty = web_search.run({"query": "the and of"})
    assert empty["results"] == [] and empty["total_matches"] == 0


@pytest.mark.parametrize(
    "payload, message",
    [({}, "query: is required"), ({"query": "x", "limit": 100}, "limit: must be at most 20")],
)
def test_search_rejects_bad_input(payload, message):
    with pytest.raises(ValueError, match=message):
        web_search.run(payload)
