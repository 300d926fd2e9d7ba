"""Search a bundled offline document index with TF-IDF ranking (no network access)."""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache

from implementations._text import split_sentences, terms
from implementations._validation import ensure_payload, get_int, get_str
from implementations.research._corpus import DOCUMENTS, INDEX_DATE, INDEX_NAME

FIELDS = ("query", "limit")
SNIPPET_LENGTH = 200


def _weights(counts: Counter, idf: dict[str, float]) -> dict[str, float]:
    vector = {t: (1 + math.log(c)) * idf.get(t, 0.0) for t, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {t: v / norm for t, v in vector.items()} if norm else {}


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, float], list[dict[str, float]]]:
    doc_counts = [Counter(terms(d["title"]) * 2 + terms(d["text"])) for d in DOCUMENTS]
    total = len(DOCUMENTS)
    df = Counter(t for counts in doc_counts for t in counts)
    idf = {t: math.log((total + 1) / (n + 1)) + 1 for t, n in df.items()}
    return idf, [_weights(counts, idf) for counts in doc_counts]


def _snippet(text: str, query_terms: set[str]) -> str:
    sentences = split_sentences(text)
    best = max(sentences, key=lambda s: len(query_terms & set(terms(s))))
    if len(best) <= SNIPPET_LENGTH:
        return best
    return best[: SNIPPET_LENGTH - 1].rsplit(" ", 1)[0] + "…"


def run(payload: dict, ctx=None) -> dict:
    """Return up to ``limit`` documents ranked by cosine TF-IDF similarity to ``query``."""
    payload = ensure_payload(payload, FIELDS)
    query = get_str(payload, "query", max_length=500)
    limit = get_int(payload, "limit", 5, minimum=1, maximum=20)
    idf, vectors = _index()
    query_vector = _weights(Counter(terms(query)), idf)
    scored = []
    for position, vector in enumerate(vectors):
        score = sum(weight * vector.get(term, 0.0) for term, weight in query_vector.items())
        if score > 0:
            scored.append((score, position))
    scored.sort(key=lambda item: (-item[0], item[1]))
    results = []
    for score, position in scored[:limit]:
        document = DOCUMENTS[position]
        results.append(
            {
                "title": document["title"],
                "url": document["url"],
                "snippet": _snippet(document["text"], set(query_vector)),
                "score": round(score, 4),
            }
        )
    return {
        "query": query,
        "results": results,
        "count": len(results),
        "total_matches": len(scored),
        "index": {"name": INDEX_NAME, "documents": len(DOCUMENTS), "as_of": INDEX_DATE},
    }
