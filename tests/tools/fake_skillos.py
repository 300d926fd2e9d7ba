"""A stand-in for `skillos route --root ROOT --mode MODE --json --queries FILE`.

It answers from a JSON plan named by FAKE_SKILLOS_PLAN:

    {"modes": {"<mode>": {"answers": {"<query>": ["<status>", "<skill id or null>", 0.9]},
                          "fallback": false, "report_mode": "<mode>"}},
     "default": ["no_skill", null, 0.0], "exit": 0, "drop_last": false, "reverse": false}

A run with `--keyword-decisive off` answers from the mode `<mode>/off` when the plan has one.
An answer's optional fourth item marks it as decided by keywords (`keyword_decisive`).

and appends what it was asked (argv, the root's files and manifests) to FAKE_SKILLOS_LOG.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["route"])
    parser.add_argument("--root", required=True)
    parser.add_argument("--mode", required=True)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--queries", required=True)
    parser.add_argument("--keyword-decisive")
    args = parser.parse_args()

    plan = json.loads(Path(os.environ["FAKE_SKILLOS_PLAN"]).read_text(encoding="utf-8"))
    root = Path(args.root)
    manifests = {
        str(path.relative_to(root)): yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted((root / "metadata").rglob("*.yaml"))
    }
    files = sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
    with open(os.environ["FAKE_SKILLOS_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"argv": sys.argv[1:], "files": files, "manifests": manifests}) + "\n")

    if plan.get("exit", 0):
        print("route: something went wrong", file=sys.stderr)
        return plan["exit"]
    modes = plan.get("modes", {})
    mode_plan = modes.get(args.mode, {})
    if args.keyword_decisive == "off":
        mode_plan = modes.get(f"{args.mode}/off", mode_plan)
    answers = mode_plan.get("answers", {})
    default = plan.get("default", ["no_skill", None, 0.0])
    queries = Path(args.queries).read_text(encoding="utf-8").splitlines()
    lines = []
    for query in queries:
        status, skill_id, confidence, *decisive = answers.get(query, default)
        candidates = [{"skill_id": skill_id, "score": confidence}] if skill_id else []
        lines.append(
            {
                "query": query,
                "status": status,
                "skill_id": skill_id,
                "confidence": confidence,
                "mode": mode_plan.get("report_mode", args.mode),
                "fallback": mode_plan.get("fallback", False),
                "keyword_decisive": bool(decisive and decisive[0]),
                "candidates": candidates,
            }
        )
    if plan.get("drop_last"):
        lines = lines[:-1]
    if plan.get("reverse"):
        lines.reverse()
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
