"""scripts/eval_routing.py against a fake `skillos route`, and the labeled query set itself."""

from __future__ import annotations

import collections
import importlib.util
import json
import re
import stat
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "eval_routing.py"
QUERIES = REPO / "eval" / "routing" / "queries.jsonl"
CATALOG = REPO / "eval" / "routing" / "original-catalog.yaml"
FAKE = Path(__file__).resolve().parent / "fake_skillos.py"

spec = importlib.util.spec_from_file_location("eval_routing", SCRIPT)
eval_routing = importlib.util.module_from_spec(spec)
sys.modules["eval_routing"] = eval_routing
spec.loader.exec_module(eval_routing)

SET = [
    {
        "query": "Convert 100 USD to EUR",
        "expected": "finance/convert_currency",
        "category": "plain",
    },
    {
        "query": "How many euros is 100 dollars?",
        "expected": "finance/convert_currency",
        "category": "paraphrase",
    },
    {
        "query": "Какой сегодня курс доллара?",
        "expected": "finance/get_exchange_rates",
        "category": "russian",
    },
    {"query": "hotles in amsterdam", "expected": "travel/search_hotels", "category": "typo"},
    {"query": "Tell me a joke", "expected": None, "category": "none"},
    {"query": "Convert this PDF to Word", "expected": None, "category": "none"},
]


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A fake binary, a small query set, a skills root and a plan the fake answers from."""
    binary = tmp_path / "skillos"
    binary.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in SET), encoding="utf-8"
    )
    root = tmp_path / "root"
    for skill_id in (
        "finance/convert_currency",
        "finance/get_exchange_rates",
        "travel/search_hotels",
    ):
        domain, name = skill_id.split("/")
        (root / "metadata" / domain).mkdir(parents=True, exist_ok=True)
        (root / "metadata" / domain / f"{name}.yaml").write_text(f"id: {skill_id}\n")
    plan = tmp_path / "plan.json"
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv("FAKE_SKILLOS_PLAN", str(plan))
    monkeypatch.setenv("FAKE_SKILLOS_LOG", str(log))

    class Env:
        def __init__(self):
            self.binary, self.queries, self.root, self.plan_path, self.log = (
                binary,
                queries,
                root,
                plan,
                log,
            )

        def plan(self, **plan):
            self.plan_path.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")

        def run(self, *extra, capsys):
            argv = ["--bin", str(self.binary), "--queries", str(self.queries), *extra]
            if "--catalog" not in extra:
                argv += ["--root", str(self.root)]
            code = eval_routing.main(argv)
            out, err = capsys.readouterr()
            return code, out, err

        def calls(self):
            return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    return Env()


def answers(*pairs):
    """Answers for SET, in order: (status, skill_id) per query."""
    return {
        line["query"]: [status, skill, 0.8 if status == "selected" else 0.3]
        for line, (status, skill) in zip(SET, pairs, strict=True)
    }


PERFECT = answers(
    ("selected", "finance/convert_currency"),
    ("selected", "finance/convert_currency"),
    ("selected", "finance/get_exchange_rates"),
    ("selected", "travel/search_hotels"),
    ("no_skill", None),
    ("low_confidence", "finance/convert_currency"),
)

MIXED = answers(
    ("selected", "finance/convert_currency"),
    ("low_confidence", "finance/convert_currency"),  # right candidate, not selected: a miss
    ("selected", "finance/convert_currency"),  # wrong skill
    ("no_skill", None),
    ("no_skill", None),
    ("selected", "finance/convert_currency"),  # a none query that would run something
)


def test_perfect_routing_scores_everything(env, capsys):
    env.plan(modes={mode: {"answers": PERFECT} for mode in ("keyword", "vector", "hybrid")})
    code, out, err = env.run("--json", capsys=capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["queries"] == 6 and report["expecting_skill"] == 4
    for mode in ("keyword", "vector", "hybrid"):
        numbers = report["modes"][mode]
        assert numbers["overall_all"] == {"hits": 6, "total": 6, "accuracy": 1.0}
        assert numbers["overall_expected_skill"]["hits"] == 4
        assert numbers["categories"]["none"] == {"hits": 2, "total": 2, "accuracy": 1.0}
        assert numbers["fallback"] is False
    modes = [call["argv"][call["argv"].index("--mode") + 1] for call in env.calls()]
    # The last run is the cascade's reference: hybrid with every query embedded.
    assert modes == ["keyword", "vector", "hybrid", "hybrid"]
    assert env.calls()[-1]["argv"][-2:] == ["--keyword-decisive", "off"]
    assert report["modes"]["hybrid, all embedded"]["overall_all"]["hits"] == 6


def test_the_cascade_is_measured_against_every_query_embedded(env, capsys):
    # Keywords: the first two right and confident (0.95, 0.91), the third confident and wrong
    # (0.89), the none query selected at 0.75. Embedded hybrid: all right.
    keyword = {
        SET[0]["query"]: ["selected", "finance/convert_currency", 0.95],
        SET[1]["query"]: ["selected", "finance/convert_currency", 0.91],
        SET[2]["query"]: ["selected", "finance/convert_currency", 0.89],
        SET[4]["query"]: ["selected", "finance/convert_currency", 0.75],
    }
    configured = {**PERFECT, SET[0]["query"]: ["selected", "finance/convert_currency", 0.95, True]}
    env.plan(
        modes={
            "keyword": {"answers": keyword},
            "hybrid": {"answers": configured},
            "hybrid/off": {"answers": PERFECT},
        }
    )
    code, out, err = env.run("--modes", "keyword,hybrid", "--json", capsys=capsys)
    assert code == 0, err
    report = json.loads(out)
    # A keyword-decided answer in keyword mode is not a fallback of the hybrid run.
    assert report["modes"]["hybrid"]["fallback"] is False
    cascade = report["cascade"]
    assert cascade["reference_hits"] == 6
    rows = {row["threshold"]: row for row in cascade["thresholds"]}
    assert rows[0.90]["by_keywords"] == 2 and rows[0.90]["loss_points"] == 0
    assert rows[0.88]["by_keywords"] == 3 and rows[0.88]["hits"] == 5
    assert rows[0.70]["by_keywords"] == 4 and rows[0.70]["hits"] == 4
    # One query in six is 16.7 points: only thresholds above 0.89 stay within one point.
    assert cascade["lowest_within_one_point"] == 0.90
    assert cascade["configured"] == {"by_keywords": 1, "hits": 6, "loss_points": 0.0}
    code, out, err = env.run("--modes", "keyword,hybrid", capsys=capsys)
    assert "lowest threshold within 1 point on this set: 0.90" in out


def test_the_cli_is_called_as_documented(env, capsys):
    env.plan(modes={"keyword": {"answers": PERFECT}})
    code, _, err = env.run("--modes", "keyword", capsys=capsys)
    assert code == 0, err
    (call,) = env.calls()
    argv = call["argv"]
    assert argv[:1] == ["route"] and "--json" in argv
    assert argv[argv.index("--root") + 1] == str(env.root)
    assert argv[argv.index("--mode") + 1] == "keyword"


def test_scoring_rules(env, capsys):
    env.plan(modes={"hybrid": {"answers": MIXED}})
    code, out, err = env.run("--modes", "hybrid", "--json", "--misses", capsys=capsys)
    assert code == 0, err
    hybrid = json.loads(out)["modes"]["hybrid"]
    categories = hybrid["categories"]
    assert categories["plain"]["hits"] == 1
    assert categories["paraphrase"]["hits"] == 0  # low_confidence is a miss
    assert categories["russian"]["hits"] == 0
    assert categories["typo"]["hits"] == 0
    assert categories["none"] == {"hits": 1, "total": 2, "accuracy": 0.5}
    assert hybrid["overall_expected_skill"] == {"hits": 1, "total": 4, "accuracy": 0.25}
    assert hybrid["overall_all"]["hits"] == 2
    # The top candidate was right for the plain and the paraphrase query.
    assert hybrid["top1_candidate"] == {"hits": 2, "total": 4, "accuracy": 0.5}
    missed = {miss["query"]: miss for miss in hybrid["misses"]}
    assert set(missed) == {SET[1]["query"], SET[2]["query"], SET[3]["query"], SET[5]["query"]}
    assert missed[SET[1]["query"]]["status"] == "low_confidence"
    assert missed[SET[5]["query"]]["expected"] is None


def test_table_and_misses(env, capsys):
    env.plan(modes={"keyword": {"answers": MIXED}, "hybrid": {"answers": PERFECT}})
    code, out, err = env.run("--modes", "keyword,hybrid", "--misses", capsys=capsys)
    assert code == 0, err
    rows = {line.split("  ")[0]: line for line in out.splitlines()}
    # The third column is the cascade's reference, hybrid with every query embedded.
    assert re.search(r"keyword\s+hybrid\s+hybrid, all embedded$", rows["category"])
    assert re.search(r"1/1 100\.0%\s+1/1 100\.0%\s+1/1 100\.0%$", rows["plain"])
    assert re.search(r"1/4 25\.0%\s+4/4 100\.0%\s+4/4 100\.0%$", rows["overall (expected skill)"])
    assert re.search(r"2/6 33\.3%\s+6/6 100\.0%\s+6/6 100\.0%$", rows["overall (all)"])
    assert re.search(r"2/4 50\.0%\s+4/4 100\.0%\s+4/4 100\.0%$", rows["top-1 candidate"])
    assert "misses, keyword: 4" in out and "misses, hybrid: 0" in out
    assert "expected none, got finance/convert_currency (selected, confidence 0.800)" in out


@pytest.mark.parametrize("mode_plan", [{"fallback": True}, {"report_mode": "keyword"}])
def test_a_semantic_mode_that_fell_back_is_loud_and_fails(env, capsys, mode_plan):
    env.plan(modes={"keyword": {"answers": PERFECT}, "vector": {"answers": PERFECT, **mode_plan}})
    code, out, err = env.run("--modes", "keyword,vector", capsys=capsys)
    assert code == eval_routing.EXIT_FALLBACK
    assert "vector (FELL BACK)" in out
    assert "WARNING: mode vector FELL BACK" in err
    assert "mode keyword FELL BACK" not in err


def test_fallback_is_reported_in_json_too(env, capsys):
    env.plan(modes={"hybrid": {"answers": PERFECT, "fallback": True}})
    code, out, _ = env.run("--modes", "hybrid", "--json", capsys=capsys)
    assert code == eval_routing.EXIT_FALLBACK
    assert json.loads(out)["modes"]["hybrid"]["fallback"] is True


def test_thresholds(env, capsys):
    env.plan(modes={"keyword": {"answers": MIXED}, "hybrid": {"answers": PERFECT}})
    code, _, err = env.run(
        "--modes", "keyword,hybrid", "--min-hybrid", "0.9", "--min-keyword", "20", capsys=capsys
    )
    assert code == 0, err
    code, _, err = env.run("--modes", "keyword,hybrid", "--min-keyword", "0.5", capsys=capsys)
    assert code == eval_routing.EXIT_THRESHOLD
    assert "keyword: overall (expected skill) accuracy 25.0% is below --min-keyword 50.0%" in err
    code, _, err = env.run("--modes", "keyword,hybrid", "--min-none", "75", capsys=capsys)
    assert code == eval_routing.EXIT_THRESHOLD
    assert "keyword: none accuracy 50.0%" in err and "hybrid: none" not in err


def test_a_threshold_needs_its_mode(env, capsys):
    env.plan()
    with pytest.raises(SystemExit) as exit_info:
        env.run("--modes", "keyword", "--min-hybrid", "0.5", capsys=capsys)
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({"exit": 3}, "exited with 3"),
        ({"drop_last": True}, "5 results for 6 queries"),
        ({"reverse": True}, "out of order"),
        (
            {"modes": {"keyword": {"answers": {SET[0]["query"]: ["maybe", None, 0.1]}}}},
            "status 'maybe'",
        ),
    ],
)
def test_bad_runs_are_errors(env, capsys, plan, message):
    env.plan(**plan)
    code, _, err = env.run("--modes", "keyword", capsys=capsys)
    assert code == eval_routing.EXIT_ERROR
    assert message in err


def test_a_missing_binary_is_an_error(env, capsys):
    env.plan()
    code = eval_routing.main(
        ["--bin", str(env.root / "nope"), "--root", str(env.root), "--queries", str(env.queries)]
    )
    assert code == eval_routing.EXIT_ERROR
    assert "not found" in capsys.readouterr().err


def test_an_expected_skill_missing_from_the_root_is_warned_about(env, capsys):
    (env.root / "metadata" / "travel" / "search_hotels.yaml").unlink()
    env.plan(modes={"keyword": {"answers": PERFECT}})
    code, _, err = env.run("--modes", "keyword", capsys=capsys)
    assert code == 0
    assert "expected skills absent from the catalog: travel/search_hotels" in err


# --- --catalog ---------------------------------------------------------------------------------

KNOWN_KEYS = {"id", "name", "description", "version", "entrypoint", "tags"}
SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ENTRYPOINT = re.compile(r"^[\w-]+(\.[\w-]+)*:[A-Za-z_]\w*$")


def assert_valid_manifest(manifest: dict) -> None:
    """The rules of crates/core/src/manifest.rs for the fields the script writes."""
    assert set(manifest) <= KNOWN_KEYS, set(manifest) - KNOWN_KEYS
    domain, name = manifest["id"].split("/")
    assert SEGMENT.match(domain) and SEGMENT.match(name)
    assert isinstance(manifest["name"], str) and manifest["name"].strip()
    assert isinstance(manifest["description"], str) and manifest["description"].strip()
    assert isinstance(manifest["version"], str) and eval_routing.SEMVER.match(manifest["version"])
    assert ENTRYPOINT.match(manifest["entrypoint"])
    assert all(isinstance(tag, str) and tag.strip() for tag in manifest["tags"])


def test_catalog_becomes_a_valid_temporary_root(env, capsys):
    env.plan(modes={"keyword": {"answers": PERFECT}})
    code, out, err = env.run("--modes", "keyword", "--catalog", str(CATALOG), capsys=capsys)
    assert code == 0, err
    assert "absent from the catalog" not in err
    assert str(CATALOG) in out
    (call,) = env.calls()
    catalog = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    assert len(call["manifests"]) == len(catalog) == 16
    for item in catalog:
        domain, name = item["id"].split("/")
        manifest = call["manifests"][f"metadata/{domain}/{name}.yaml"]
        assert_valid_manifest(manifest)
        assert manifest == {
            "id": item["id"],
            "name": item["name"],
            "description": item["description"],
            "version": item["version"],
            "entrypoint": f"implementations.{domain}.{name}:run",
            "tags": item["tags"],
        }
        # The entrypoint resolves to a file that defines `run`.
        assert f"implementations/{domain}/{name}.py" in call["files"]
    root = Path(call["argv"][call["argv"].index("--root") + 1])
    assert not root.exists(), "the temporary root is removed afterwards"


def test_catalog_quirks(tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "- id: a/b\n  name: B\n  description: 'yes'\n  tags: [x]\n", encoding="utf-8"
    )
    ids = eval_routing.write_root_from_catalog(catalog, tmp_path / "root")
    assert ids == ["a/b"]
    manifest = yaml.safe_load(
        (tmp_path / "root" / "metadata" / "a" / "b.yaml").read_text(encoding="utf-8")
    )
    assert manifest["version"] == "0.1.0"
    assert_valid_manifest(manifest)
    for bad, message in [
        ("- id: a.b\n  name: B\n  description: d\n", "id must be"),
        ("- id: a/b\n  name: B\n  description: d\n  version: 1.0\n", "not SemVer"),
        ("- id: a/b\n  name: B\n", "description must be"),
        ("{}\n", "YAML list"),
    ]:
        catalog.write_text(bad, encoding="utf-8")
        with pytest.raises(eval_routing.EvalError, match=message):
            eval_routing.write_root_from_catalog(catalog, tmp_path / "other")


def test_root_and_catalog_exclude_each_other(env, capsys):
    with pytest.raises(SystemExit):
        eval_routing.main(["--root", str(env.root), "--catalog", str(CATALOG)])


# --- the labeled set ---------------------------------------------------------------------------


def test_the_query_set():
    items = eval_routing.load_set(QUERIES)
    catalog_ids = {item["id"] for item in yaml.safe_load(CATALOG.read_text(encoding="utf-8"))}
    assert len(items) >= 200
    per_category = collections.Counter(item.category for item in items)
    assert per_category["none"] >= 30
    per_skill = collections.Counter(
        (item.expected, item.category) for item in items if item.expected
    )
    assert {item.expected for item in items if item.expected} == catalog_ids
    for skill_id in catalog_ids:
        for category, minimum in (("plain", 3), ("paraphrase", 3), ("russian", 3), ("typo", 2)):
            assert per_skill[skill_id, category] >= minimum, (skill_id, category)
    for item in items:
        if item.category == "russian":
            assert re.search("[а-яё]", item.query, re.IGNORECASE), item.query


STOPWORDS = {
    "a",
    "an",
    "the",
    "for",
    "of",
    "and",
    "to",
    "into",
    "by",
    "from",
    "between",
    "with",
    "in",
    "on",
}


def test_paraphrases_avoid_the_skills_own_words():
    """A paraphrase shares no word (nor a word's first five letters) with its skill's id, name,
    description or tags in the original catalog."""

    def words(text):
        return set(re.findall(r"[a-z0-9]+", text.lower())) - STOPWORDS

    catalog = {item["id"]: item for item in yaml.safe_load(CATALOG.read_text(encoding="utf-8"))}
    clashes = []
    for item in eval_routing.load_set(QUERIES):
        if item.category != "paraphrase":
            continue
        skill = catalog[item.expected]
        own = words(skill["id"].replace("_", " ").replace("/", " ")) | words(skill["name"])
        own |= words(skill["description"]) | words(" ".join(skill.get("tags", [])))
        for word in words(item.query):
            if any(
                word == w or (len(word) >= 5 and len(w) >= 5 and word[:5] == w[:5]) for w in own
            ):
                clashes.append((item.expected, word, item.query))
    assert not clashes


def test_the_query_set_is_held_out_from_the_calibration_set():
    calibration = QUERIES.with_name("calibration.jsonl")
    if not calibration.exists():
        pytest.skip("no calibration set")

    def key(query):
        return " ".join(re.findall(r"\w+", query.lower()))

    tuned = {
        key(json.loads(line)["query"])
        for line in calibration.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    shared = [item.query for item in eval_routing.load_set(QUERIES) if key(item.query) in tuned]
    assert not shared


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"query": "# hi", "expected": null, "category": "none"}', "must not start with `#`"),
        (
            '{"query": "hi", "expected": null, "category": "plain"}',
            "category `none` goes with expected null",
        ),
        ('{"query": "hi", "expected": "a.b", "category": "plain"}', "expected must be"),
        ('{"query": "hi", "expected": null, "category": "other"}', "category must be one of"),
        ('["hi"]', "expected a JSON object"),
    ],
)
def test_bad_query_sets_are_rejected(tmp_path, line, message):
    path = tmp_path / "set.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(eval_routing.EvalError, match=re.escape(message)):
        eval_routing.load_set(path)
