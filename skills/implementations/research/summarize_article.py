"""Extractive summary of an article: the most representative sentences and keywords."""

from __future__ import annotations

import math
from collections import Counter

from implementations._text import (
    content_words,
    detect_language,
    split_sentences,
    stem,
    words,
)
from implementations._validation import ensure_payload, get_int, get_str

FIELDS = ("text", "max_sentences")
MAX_TEXT_LENGTH = 200_000
KEYWORD_COUNT = 8


def _keywords(stem_counts: Counter, surface: dict[str, Counter]) -> list[str]:
    ranked = sorted(stem_counts.items(), key=lambda item: (-item[1], item[0]))
    return [surface[s].most_common(1)[0][0] for s, count in ranked[:KEYWORD_COUNT] if count > 1]


def run(payload: dict, ctx=None) -> dict:
    """Pick up to ``max_sentences`` sentences with the highest word-frequency score.

    Stop words (English and Russian) are ignored; sentences are returned in their
    original order. Works on any script.
    """
    payload = ensure_payload(payload, FIELDS)
    text = get_str(payload, "text", max_length=MAX_TEXT_LENGTH)
    max_sentences = get_int(payload, "max_sentences", 3, minimum=1, maximum=20)

    sentences = split_sentences(text)
    sentence_terms = [[stem(w) for w in content_words(s)] for s in sentences]
    stem_counts: Counter = Counter()
    surface: dict[str, Counter] = {}
    for word in content_words(text):
        key = stem(word)
        stem_counts[key] += 1
        surface.setdefault(key, Counter())[word] += 1

    top = max(stem_counts.values(), default=1)
    scores = []
    for index, terms in enumerate(sentence_terms):
        weight = sum(stem_counts[t] / top for t in terms)
        scores.append((weight / math.sqrt(len(terms)) if terms else 0.0, index))
    chosen = sorted(
        index for _, index in sorted(scores, key=lambda s: (-s[0], s[1]))[:max_sentences]
    )
    key_points = [sentences[i] for i in chosen]
    return {
        "summary": " ".join(key_points),
        "key_points": key_points,
        "keywords": _keywords(stem_counts, surface),
        "word_count": len(words(text)),
        "sentence_count": len(sentences),
        "language": detect_language(text),
    }
