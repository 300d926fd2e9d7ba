"""`make bench`: what one query embedding costs in the runner's process, by batch size and length.

Embeds the queries of eval/routing/queries.jsonl with the runner's embedder (`--model`, default
e5) in batches of 1, 4, 16 and 64, and texts of 2 to 60 words one at a time, and prints the wall
and CPU time per query. It is the ceiling of routing by new queries in the default mode: a
server cannot route new queries faster than its runners embed them (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from skillos_runner.embedding import load_embedder

QUERIES = Path(__file__).resolve().parent.parent / "eval" / "routing" / "queries.jsonl"
BATCHES = (1, 4, 16, 64)
LENGTHS = (2, 10, 60)


def per_query(embed, texts: list[str], batch: int) -> tuple[float, float]:
    """Milliseconds of wall and CPU time per text, embedding `texts` in batches of `batch`."""
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(texts), batch):
        embed(texts[start : start + batch])
    count = len(texts)
    return (time.perf_counter() - wall) * 1000 / count, (time.process_time() - cpu) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="e5", help="e5 or use (default: %(default)s)")
    parser.add_argument("--queries", type=int, default=128, help="queries per batch size")
    args = parser.parse_args()
    embedder = load_embedder(args.model)
    queries = [
        json.loads(line)["query"]
        for line in QUERIES.read_text(encoding="utf-8").splitlines()
        if line
    ]
    texts = queries[: args.queries]
    embedder.embed(texts[:4])  # warm up
    print(f"| {embedder.model} | batch | wall ms/query | CPU ms/query |")
    print("|---|---:|---:|---:|")
    for batch in BATCHES:
        wall, cpu = per_query(embedder.embed, texts, batch)
        print(f"| evaluation queries | {batch} | {wall:.2f} | {cpu:.2f} |")
    for words in LENGTHS:
        text = " ".join(["word"] * words)
        wall, cpu = per_query(embedder.embed, [text] * 20, 1)
        print(f"| {words} words | 1 | {wall:.2f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
