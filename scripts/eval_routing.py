"""Routing evaluation: how often `skillos route` picks the expected skill for a labeled query set.

For each mode (keyword, vector, hybrid by default) the script runs

    skillos route --root ROOT --mode MODE --json --queries FILE

once, with FILE holding one query per line, and reads one JSON object per line back, in query
order: `query`, `status` (`selected`, `low_confidence` or `no_skill`), `skill_id` (the top
candidate or null), `confidence`, `mode`, `fallback` and `candidates`.

Scoring:
- a query that expects a skill is a hit when the status is `selected` and `skill_id` is the
  expected skill (a `low_confidence` or `no_skill` answer is a miss);
- a query that expects no skill (`expected: null`) is a hit when the status is not `selected`
  (nothing would run);
- "top-1 candidate" counts queries that expect a skill whose `skill_id` is the expected skill,
  whatever the status: what the ranking alone gets right, before the confidence threshold.

`--catalog FILE` evaluates a catalog YAML list (items with id, name, description, version, tags)
instead of a skills root: the script writes a temporary root from it.

The cascade: in hybrid mode the server answers by keywords alone when they select a skill with
at least the confidence `routing.keyword_decisive` (the query is then not embedded). With both
keyword and hybrid among the modes, the script also runs hybrid with every query embedded
(`--keyword-decisive off`), reports the cascade's accuracy and the share of queries it answers
by keywords at each threshold, and names the lowest threshold that stays within one point of
that reference on this set. The shipped threshold is the highest such value over the sets
`make eval-routing` runs.

Exit status: 0 for a report (it is not a gate); 1 when a `--min-*` threshold is not met; 2 for a
usage error or a failed run; 3 when a mode asked as vector or hybrid reports `fallback: true` (its
numbers would be keyword numbers).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

CATEGORIES = ("plain", "paraphrase", "russian", "typo", "none")
STATUSES = ("selected", "low_confidence", "no_skill")
OVERALL_EXPECTED = "overall (expected skill)"
OVERALL_ALL = "overall (all)"
TOP1_CANDIDATE = "top-1 candidate"
SEMANTIC_MODES = ("vector", "hybrid")
# The skill id rule of the manifests: `domain/name`, ASCII letters, digits, `_` and `-`.
SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)

EXIT_THRESHOLD = 1
# Cascade thresholds tried, and the most accuracy (points of "overall (all)") it may cost.
CASCADE_THRESHOLDS = (0.70, 0.75, 0.80, 0.85, 0.88, 0.90, 0.92, 0.95, 0.97, 0.99)
CASCADE_MAX_LOSS = 1.0
EMBEDDED = "hybrid, all embedded"
EXIT_ERROR = 2
EXIT_FALLBACK = 3


class EvalError(Exception):
    """A problem that stops the evaluation (bad input, a failed or malformed run)."""


@dataclass(frozen=True)
class Item:
    query: str
    expected: str | None
    category: str


@dataclass
class Tally:
    hits: int = 0
    total: int = 0

    def add(self, hit: bool) -> None:
        self.total += 1
        self.hits += int(hit)

    @property
    def accuracy(self) -> float | None:
        return self.hits / self.total if self.total else None

    def cell(self) -> str:
        if not self.total:
            return "-"
        return f"{self.hits}/{self.total} {100 * self.hits / self.total:.1f}%"

    def as_json(self) -> dict:
        return {"hits": self.hits, "total": self.total, "accuracy": self.accuracy}


@dataclass
class ModeResult:
    mode: str
    rows: dict[str, Tally] = field(default_factory=dict)
    top1_candidate: Tally = field(default_factory=Tally)
    fallback: bool = False
    reported_modes: set[str] = field(default_factory=set)
    misses: list[dict] = field(default_factory=list)


# --- the labeled set -------------------------------------------------------------------------


def load_set(path: Path) -> list[Item]:
    """Reads the JSONL query set, checking every line."""
    items: list[Item] = []
    seen: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise EvalError(f"cannot read {path}: {error}") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            raise EvalError(f"{where}: not JSON: {error}") from error
        if not isinstance(raw, dict):
            raise EvalError(f"{where}: expected a JSON object")
        query, expected, category = raw.get("query"), raw.get("expected"), raw.get("category")
        if not isinstance(query, str) or not query.strip() or "\n" in query or "\r" in query:
            raise EvalError(f"{where}: query must be a non-empty single-line string")
        if query.strip().startswith("#"):
            raise EvalError(f"{where}: a query must not start with `#` (the CLI skips such lines)")
        if category not in CATEGORIES:
            raise EvalError(f"{where}: category must be one of {', '.join(CATEGORIES)}")
        if expected is not None and not (isinstance(expected, str) and is_skill_id(expected)):
            raise EvalError(f"{where}: expected must be a `domain/name` skill id or null")
        if (category == "none") != (expected is None):
            raise EvalError(f"{where}: category `none` goes with expected null, and only with it")
        if query in seen:
            raise EvalError(f"{where}: duplicate query {query!r}")
        seen.add(query)
        items.append(Item(query=query, expected=expected, category=category))
    if not items:
        raise EvalError(f"{path}: no queries")
    return items


def is_skill_id(value: str) -> bool:
    parts = value.split("/")
    return len(parts) == 2 and all(SEGMENT.match(part) for part in parts)


# --- catalog -> temporary skills root --------------------------------------------------------


def write_root_from_catalog(catalog: Path, root: Path) -> list[str]:
    """Writes `<root>/metadata/<domain>/<name>.yaml` (and a stub `run` per skill) for every
    catalog item; returns the skill ids."""
    import yaml  # only needed here

    try:
        items = yaml.safe_load(catalog.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise EvalError(f"cannot read catalog {catalog}: {error}") from error
    if not isinstance(items, list) or not items:
        raise EvalError(f"{catalog}: expected a non-empty YAML list of skills")
    ids: list[str] = []
    for index, item in enumerate(items):
        where = f"{catalog}: item {index}"
        if not isinstance(item, dict):
            raise EvalError(f"{where}: expected a mapping")
        skill_id = item.get("id")
        if not isinstance(skill_id, str) or not is_skill_id(skill_id):
            raise EvalError(f"{where}: id must be `domain/name` (ASCII letters, digits, `_`, `-`)")
        if skill_id in ids:
            raise EvalError(f"{where}: duplicate id {skill_id}")
        for key in ("name", "description"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise EvalError(f"{where} ({skill_id}): {key} must be a non-empty string")
        version = str(item.get("version", "0.1.0"))
        if not SEMVER.match(version):
            raise EvalError(f"{where} ({skill_id}): version {version!r} is not SemVer 2.0")
        tags = item.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
            raise EvalError(f"{where} ({skill_id}): tags must be a list of non-empty strings")
        domain, name = skill_id.split("/")
        manifest = {
            "id": skill_id,
            "name": item["name"],
            "description": item["description"],
            "version": version,
            "entrypoint": f"implementations.{domain}.{name}:run",
            "tags": tags,
        }
        path = root / "metadata" / domain / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        # A stub implementation, so that the root also passes entrypoint checks.
        package = root / "implementations" / domain
        package.mkdir(parents=True, exist_ok=True)
        for init in (root / "implementations" / "__init__.py", package / "__init__.py"):
            init.touch()
        (package / f"{name}.py").write_text(
            f'"""{skill_id}: stub written by eval_routing.py (routing only)."""\n\n\n'
            "def run(payload: dict, ctx=None) -> dict:\n"
            f'    return {{"skill": "{skill_id}"}}\n',
            encoding="utf-8",
        )
        ids.append(skill_id)
    return ids


def root_skill_ids(root: Path) -> list[str]:
    """The ids declared under `<root>/metadata` (best effort: only to warn about missing skills)."""
    import yaml

    ids = []
    for path in sorted((root / "metadata").rglob("*.y*ml")):
        try:
            manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(manifest, dict) and isinstance(manifest.get("id"), str):
            ids.append(manifest["id"])
    return ids


# --- running the CLI -------------------------------------------------------------------------


def run_mode(
    binary: str,
    root: Path,
    mode: str,
    queries_file: Path,
    items: list[Item],
    timeout: float,
    extra: tuple[str, ...] = (),
) -> list[dict]:
    command = [
        binary,
        "route",
        "--root",
        str(root),
        "--mode",
        mode,
        "--json",
        "--queries",
        str(queries_file),
        *extra,
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, encoding="utf-8"
        )
    except FileNotFoundError as error:
        raise EvalError(
            f"{binary}: not found (build it with `make build`, or pass --bin)"
        ) from error
    except subprocess.TimeoutExpired as error:
        raise EvalError(f"`{' '.join(command)}` did not finish in {timeout:g} s") from error
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-20:])
        raise EvalError(f"`{' '.join(command)}` exited with {result.returncode}:\n{tail}")
    records = []
    for number, line in enumerate(result.stdout.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise EvalError(
                f"mode {mode}: output line {number} is not JSON: {line[:200]!r}"
            ) from error
        if not isinstance(record, dict):
            raise EvalError(f"mode {mode}: output line {number} is not a JSON object")
        records.append(record)
    if len(records) != len(items):
        raise EvalError(f"mode {mode}: {len(records)} results for {len(items)} queries")
    for index, (record, item) in enumerate(zip(records, items, strict=True)):
        check_record(mode, index, record, item)
    return records


def check_record(mode: str, index: int, record: dict, item: Item) -> None:
    where = f"mode {mode}: result {index + 1}"
    if str(record.get("query", "")).strip() != item.query.strip():
        raise EvalError(
            f"{where} is for {record.get('query')!r}, expected {item.query!r} (results out of order?)"
        )
    if record.get("status") not in STATUSES:
        raise EvalError(
            f"{where}: status {record.get('status')!r} is not one of {', '.join(STATUSES)}"
        )
    skill_id = record.get("skill_id")
    if skill_id is not None and not isinstance(skill_id, str):
        raise EvalError(f"{where}: skill_id must be a string or null")
    if record["status"] == "selected" and not skill_id:
        raise EvalError(f"{where}: status selected without a skill_id")
    confidence = record.get("confidence")
    if confidence is not None and not isinstance(confidence, int | float):
        raise EvalError(f"{where}: confidence must be a number")


# --- scoring ---------------------------------------------------------------------------------


def score(mode: str, items: list[Item], records: list[dict]) -> ModeResult:
    result = ModeResult(mode=mode)
    result.rows = {name: Tally() for name in (*CATEGORIES, OVERALL_EXPECTED, OVERALL_ALL)}
    for item, record in zip(items, records, strict=True):
        status, got = record["status"], record.get("skill_id")
        if record.get("fallback") is True:
            result.fallback = True
        # A hybrid answer the keywords decided alone reports keyword mode: not a fallback.
        if isinstance(record.get("mode"), str) and record.get("keyword_decisive") is not True:
            result.reported_modes.add(record["mode"])
        if item.expected is None:
            hit = status != "selected"
        else:
            hit = status == "selected" and got == item.expected
            result.rows[OVERALL_EXPECTED].add(hit)
            result.top1_candidate.add(got == item.expected)
        result.rows[item.category].add(hit)
        result.rows[OVERALL_ALL].add(hit)
        if not hit:
            result.misses.append(
                {
                    "query": item.query,
                    "category": item.category,
                    "expected": item.expected,
                    "got": got,
                    "status": status,
                    "confidence": record.get("confidence"),
                }
            )
    return result


def fell_back(result: ModeResult) -> bool:
    """A vector or hybrid run that answered with another mode (the keyword fallback)."""
    if result.mode not in SEMANTIC_MODES:
        return False
    return result.fallback or bool(result.reported_modes - {result.mode})


# --- the cascade -----------------------------------------------------------------------------


def hit(item: Item, record: dict) -> bool:
    if item.expected is None:
        return record["status"] != "selected"
    return record["status"] == "selected" and record.get("skill_id") == item.expected


def cascade_report(
    items: list[Item], keyword: list[dict], embedded: list[dict], configured: list[dict] | None
) -> dict:
    """What answering by keywords at each threshold would cost against every query embedded."""
    reference = sum(hit(i, r) for i, r in zip(items, embedded, strict=True))
    rows = []
    for threshold in CASCADE_THRESHOLDS:
        hits = decided = 0
        for item, by_keywords, full in zip(items, keyword, embedded, strict=True):
            if (
                by_keywords["status"] == "selected"
                and (by_keywords.get("confidence") or 0) >= threshold
            ):
                decided += 1
                hits += hit(item, by_keywords)
            else:
                hits += hit(item, full)
        loss = 100 * (reference - hits) / len(items)
        rows.append(
            {"threshold": threshold, "by_keywords": decided, "hits": hits, "loss_points": loss}
        )
    # The lowest threshold from which every higher one also stays within the allowed loss.
    lowest = None
    for row in reversed(rows):
        if row["loss_points"] > CASCADE_MAX_LOSS:
            break
        lowest = row["threshold"]
    report: dict = {
        "queries": len(items),
        "reference_hits": reference,
        "thresholds": rows,
        "lowest_within_one_point": lowest,
    }
    if configured is not None:
        hits = sum(hit(i, r) for i, r in zip(items, configured, strict=True))
        report["configured"] = {
            "by_keywords": sum(1 for r in configured if r.get("keyword_decisive") is True),
            "hits": hits,
            "loss_points": 100 * (reference - hits) / len(items),
        }
    return report


def print_cascade(report: dict) -> None:
    total = report["queries"]
    print()
    print(
        f"cascade (hybrid answered by keywords when they select with confidence >= t), against "
        f"every query embedded: {report['reference_hits']}/{total}"
    )
    print("  t      by keywords   overall (all)   loss")
    for row in report["thresholds"]:
        print(
            f"  {row['threshold']:.2f}   {row['by_keywords']:>4} {100 * row['by_keywords'] / total:5.1f}%"
            f"   {row['hits']:>4}/{total} {100 * row['hits'] / total:5.1f}%   {row['loss_points']:.1f}"
        )
    lowest = report["lowest_within_one_point"]
    shown = f"{lowest:.2f}" if lowest is not None else "none"
    print(f"lowest threshold within {CASCADE_MAX_LOSS:g} point on this set: {shown}")
    if "configured" in report:
        configured = report["configured"]
        print(
            f"as configured: {configured['by_keywords']}/{total} by keywords, "
            f"loss {configured['loss_points']:.1f} points"
        )


# --- thresholds ------------------------------------------------------------------------------


def threshold(text: str) -> float:
    """A minimum accuracy: a fraction (0.8) or a percentage (80)."""
    try:
        value = float(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from error
    if value > 1:
        value /= 100
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be within 0..1 (or 0..100 %)")
    return value


def check_thresholds(args: argparse.Namespace, results: dict[str, ModeResult]) -> list[str]:
    failures = []
    for option, mode in (("min_hybrid", "hybrid"), ("min_keyword", "keyword")):
        minimum = getattr(args, option)
        if minimum is None:
            continue
        accuracy = results[mode].rows[OVERALL_EXPECTED].accuracy or 0.0
        if accuracy < minimum:
            failures.append(
                f"{mode}: {OVERALL_EXPECTED} accuracy {100 * accuracy:.1f}% is below "
                f"--min-{mode} {100 * minimum:.1f}%"
            )
    if args.min_none is not None:
        for mode, result in results.items():
            tally = result.rows["none"]
            if not tally.total:
                continue
            accuracy = tally.accuracy or 0.0
            if accuracy < args.min_none:
                failures.append(
                    f"{mode}: none accuracy {100 * accuracy:.1f}% is below "
                    f"--min-none {100 * args.min_none:.1f}%"
                )
    return failures


# --- reporting -------------------------------------------------------------------------------


def print_table(results: dict[str, ModeResult], items: list[Item], target: str) -> None:
    expecting = sum(1 for item in items if item.expected is not None)
    print(
        f"routing eval on {target}: {len(items)} queries "
        f"({expecting} expect a skill, {len(items) - expecting} expect none)"
    )
    label_width = max(len(OVERALL_EXPECTED), len(TOP1_CANDIDATE)) + 2
    headers = [
        f"{mode} (FELL BACK)" if fell_back(result) else mode for mode, result in results.items()
    ]
    cells = {
        name: [result.rows[name].cell() for result in results.values()]
        for name in next(iter(results.values())).rows
    }
    cells[TOP1_CANDIDATE] = [result.top1_candidate.cell() for result in results.values()]
    widths = [
        max(len(header), *(len(row[i]) for row in cells.values())) + 2
        for i, header in enumerate(headers)
    ]

    def line(label: str, values: list[str]) -> str:
        return (
            label.ljust(label_width)
            + "".join(v.rjust(w) for v, w in zip(values, widths, strict=True))
        ).rstrip()

    print(line("category", headers))
    for name in (*CATEGORIES, OVERALL_EXPECTED, OVERALL_ALL):
        print(line(name, cells[name]))
    print()
    print(line(TOP1_CANDIDATE, cells[TOP1_CANDIDATE]))
    print("  (queries that expect a skill whose top candidate is that skill, whatever the status)")


def print_misses(results: dict[str, ModeResult]) -> None:
    for mode, result in results.items():
        print()
        print(f"misses, {mode}: {len(result.misses)}")
        for miss in result.misses:
            confidence = miss["confidence"]
            shown = f"{confidence:.3f}" if isinstance(confidence, int | float) else "-"
            print(
                f"  [{miss['category']}] {miss['query']!r}\n"
                f"      expected {miss['expected'] or 'none'}, got {miss['got'] or 'none'} "
                f"({miss['status']}, confidence {shown})"
            )


def json_report(
    results: dict[str, ModeResult],
    items: list[Item],
    target: dict,
    misses: bool,
    failures: list[str],
) -> dict:
    modes = {}
    for mode, result in results.items():
        entry = {
            "categories": {name: result.rows[name].as_json() for name in CATEGORIES},
            "overall_expected_skill": result.rows[OVERALL_EXPECTED].as_json(),
            "overall_all": result.rows[OVERALL_ALL].as_json(),
            "top1_candidate": result.top1_candidate.as_json(),
            "fallback": fell_back(result),
        }
        if misses:
            entry["misses"] = result.misses
        modes[mode] = entry
    return {
        **target,
        "queries": len(items),
        "expecting_skill": sum(1 for item in items if item.expected is not None),
        "modes": modes,
        "threshold_failures": failures,
    }


def warn_fallback(mode: str) -> None:
    bar = "!" * 78
    print(
        f"\n{bar}\n"
        f"!! WARNING: mode {mode} FELL BACK to keyword routing (`fallback: true` or another mode\n"
        f"!! reported): the {mode} numbers above are keyword numbers, not {mode} numbers.\n"
        f"{bar}",
        file=sys.stderr,
    )


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bin", default="target/debug/skillos", help="the skillos binary (default: %(default)s)"
    )
    parser.add_argument(
        "--root", default=None, help="the skills root to evaluate (default: skills)"
    )
    parser.add_argument(
        "--catalog",
        default=None,
        type=Path,
        help="evaluate this catalog YAML list instead of a root",
    )
    parser.add_argument(
        "--queries",
        default=Path(__file__).resolve().parent.parent / "eval" / "routing" / "queries.jsonl",
        type=Path,
        help="the labeled query set, JSONL (default: eval/routing/queries.jsonl)",
    )
    parser.add_argument(
        "--modes", default="keyword,vector,hybrid", help="comma-separated (default: %(default)s)"
    )
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--misses", action="store_true", help="list the misses of each mode")
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds per mode run (default: %(default)s)"
    )
    parser.add_argument(
        "--min-hybrid", type=threshold, help="minimum hybrid overall (expected skill) accuracy"
    )
    parser.add_argument(
        "--min-keyword", type=threshold, help="minimum keyword overall (expected skill) accuracy"
    )
    parser.add_argument(
        "--min-none", type=threshold, help="minimum accuracy on `none` queries, in every mode run"
    )
    args = parser.parse_args(argv)
    args.modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not args.modes:
        parser.error("--modes is empty")
    if len(set(args.modes)) != len(args.modes):
        parser.error("--modes lists a mode twice")
    if args.catalog is not None and args.root is not None:
        parser.error("--root and --catalog exclude each other")
    for option, mode in (("min_hybrid", "hybrid"), ("min_keyword", "keyword")):
        if getattr(args, option) is not None and mode not in args.modes:
            parser.error(f"--min-{mode} needs {mode} in --modes")
    return args


def evaluate(
    args: argparse.Namespace, items: list[Item], root: Path, known_ids: list[str]
) -> tuple[dict[str, ModeResult], dict | None]:
    missing = sorted({item.expected for item in items if item.expected} - set(known_ids))
    if missing:
        print(
            f"warning: expected skills absent from the catalog: {', '.join(missing)}",
            file=sys.stderr,
        )
    results: dict[str, ModeResult] = {}
    with tempfile.TemporaryDirectory(prefix="skillos-eval-") as work:
        queries_file = Path(work) / "queries.txt"
        queries_file.write_text("".join(f"{item.query}\n" for item in items), encoding="utf-8")
        runs: dict[str, list[dict]] = {}
        for mode in args.modes:
            runs[mode] = run_mode(args.bin, root, mode, queries_file, items, args.timeout)
            results[mode] = score(mode, items, runs[mode])
        cascade = None
        if "keyword" in runs and "hybrid" in runs:
            off = ("--keyword-decisive", "off")
            embedded = run_mode(args.bin, root, "hybrid", queries_file, items, args.timeout, off)
            results[EMBEDDED] = score("hybrid", items, embedded)
            cascade = cascade_report(items, runs["keyword"], embedded, runs["hybrid"])
    return results, cascade


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        items = load_set(args.queries)
        if args.catalog is not None:
            with tempfile.TemporaryDirectory(prefix="skillos-catalog-") as tmp:
                root = Path(tmp)
                ids = write_root_from_catalog(args.catalog, root)
                results, cascade = evaluate(args, items, root, ids)
            target = {"catalog": str(args.catalog)}
        else:
            root = Path(args.root or "skills")
            if not (root / "metadata").is_dir():
                raise EvalError(f"{root}: not a skills root (no metadata/ folder)")
            results, cascade = evaluate(args, items, root, root_skill_ids(root))
            target = {"root": str(root)}
    except EvalError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR

    failures = check_thresholds(args, results)
    if args.json:
        report = json_report(results, items, target, args.misses, failures)
        if cascade is not None:
            report["cascade"] = cascade
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_table(results, items, next(iter(target.values())))
        if cascade is not None:
            print_cascade(cascade)
        if args.misses:
            print_misses(results)

    fallen = [mode for mode, result in results.items() if fell_back(result)]
    for mode in fallen:
        warn_fallback(mode)
    if fallen:
        return EXIT_FALLBACK
    for failure in failures:
        print(f"threshold not met: {failure}", file=sys.stderr)
    return EXIT_THRESHOLD if failures else 0


if __name__ == "__main__":
    sys.exit(main())
