#!/usr/bin/env python3
"""Fit the routing confidence calibration (Platt scaling) on a labeled calibration set.

For each mode it runs `skillos route --json --queries` over the calibration queries and fits
`confidence = 1 / (1 + exp(-(bias + a * score + b * margin + c * similarity)))` by logistic
regression, where `score` is the top candidate's fused score, `margin` its lead over the
runner-up and `similarity` its raw embedding similarity (absent in keyword mode). Queries that
the root's out-of-scope requests turn away before the confidence is looked at are left out. A query
counts as a positive when its top candidate is the expected skill; every query that should
match nothing is a negative. The coefficients make one threshold (0.5: "more likely right than
wrong") mean the same in every mode. The calibration set is kept apart from the evaluation set
(eval/routing/queries.jsonl), so the reported accuracy is measured on queries the fit never saw.

Prints the `[routing.calibration]` TOML table; `--json` prints the coefficients as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

MODES = ("keyword", "vector", "hybrid")


def features(
    binary: str, root: str, mode: str, queries: list[str]
) -> list[tuple[str | None, float, float, float, bool]]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(queries) + "\n")
        path = handle.name
    # Scores and ranking do not depend on the calibration, so the current one is fine here.
    # Every hybrid query is embedded: the cascade would answer some by keyword scores.
    out = subprocess.run(
        [
            binary,
            "route",
            "--root",
            root,
            "--mode",
            mode,
            "--json",
            "--max-candidates",
            "2",
            "--keyword-decisive",
            "off",
            "--queries",
            path,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    Path(path).unlink()
    rows = []
    for line in out.splitlines():
        decision = json.loads(line)
        if decision.get("fallback"):
            sys.exit(
                f"{mode}: routing fell back to keyword ranking ({decision.get('fallback_reason')})"
            )
        candidates = decision["candidates"]
        top = candidates[0]["score"] if candidates else 0.0
        second = candidates[1]["score"] if len(candidates) > 1 else 0.0
        similarity = (candidates[0].get("similarity") or 0.0) if candidates else 0.0
        # Queries the out-of-scope requests already turned away never reach the confidence.
        gated = decision.get("out_of_scope") is not None
        rows.append(
            (
                candidates[0]["skill_id"] if candidates else None,
                top,
                top - second,
                similarity,
                gated,
            )
        )
    return rows


def fit(samples: list[tuple[float, float, float, int]], ridge: float = 1e-3) -> list[float]:
    """Logistic regression by Newton's method (iteratively reweighted least squares)."""
    import numpy as np

    x = np.array([[1.0, score, margin, similarity] for score, margin, similarity, _ in samples])
    y = np.array([label for *_, label in samples], dtype=float)
    w = np.zeros(4)
    penalty = ridge * np.diag([0.0, 1.0, 1.0, 1.0])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (p - y) + penalty @ w
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(4)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return [round(float(v), 3) for v in w]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default="target/debug/skillos")
    parser.add_argument("--root", default="skills")
    parser.add_argument("--queries", default="eval/routing/calibration.jsonl")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    labeled = [
        json.loads(line)
        for line in Path(args.queries).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    queries = [item["query"] for item in labeled]
    result = {}
    for mode in args.modes.split(","):
        rows = features(args.bin, args.root, mode, queries)
        samples = []
        for item, (top_id, score, margin, similarity, gated) in zip(labeled, rows, strict=True):
            if gated:
                continue
            label = 1 if item["expected"] is not None and top_id == item["expected"] else 0
            samples.append((score, margin, similarity, label))
        result[mode] = fit(samples)
        positives = sum(label for *_, label in samples)
        print(
            f"{mode}: {positives}/{len(samples)} top candidates right -> {result[mode]}",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(result))
    else:
        print("[routing.calibration]")
        for mode, coefficients in result.items():
            print(f"{mode} = [{', '.join(str(c) for c in coefficients)}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
