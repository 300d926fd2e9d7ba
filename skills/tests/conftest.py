"""Shared fixtures: import path, isolated skill data directory and the metadata contract check."""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

SKILLS_DIR = Path(__file__).resolve().parent.parent
if str(SKILLS_DIR) not in sys.path:
    sys.path.insert(0, str(SKILLS_DIR))

SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"
)
REQUIRED_FIELDS = {"id": str, "name": str, "description": str, "version": str, "entrypoint": str}
RISK_TIERS = {"low", "medium", "high", "critical"}


@pytest.fixture(autouse=True)
def skill_data_dir(tmp_path, monkeypatch) -> Path:
    """Point every skill's local data directory at a fresh temporary directory."""
    data_dir = tmp_path / "skill-data"
    monkeypatch.setenv("SKILLOS_SKILL_DATA_DIR", str(data_dir))
    return data_dir


def load_metadata(skill_id: str) -> dict:
    """Parse ``metadata/<domain>/<name>.yaml`` for ``skill_id``."""
    path = SKILLS_DIR / "metadata" / f"{skill_id}.yaml"
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    assert isinstance(data, dict), f"{path} must be a mapping"
    return data


def resolve_entrypoint(entrypoint: str):
    """Import ``module.path:function`` and return the function."""
    module_name, _, attribute = entrypoint.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def validator(schema: dict) -> jsonschema.Draft202012Validator:
    """A draft 2020-12 validator that also checks ``format`` (dates)."""
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def check_contract(skill_id: str) -> dict:
    """Validate a skill's metadata and run its schema examples end to end."""
    meta = load_metadata(skill_id)
    for field, kind in REQUIRED_FIELDS.items():
        assert isinstance(meta.get(field), kind) and meta[field].strip(), f"{skill_id}: {field}"
    assert meta["id"] == skill_id
    assert SEMVER_RE.match(meta["version"]) and meta["version"] == "0.1.0"
    domain, name = skill_id.split("/")
    assert meta["entrypoint"] == f"implementations.{domain}.{name}:run"
    assert isinstance(meta["tags"], list) and domain in meta["tags"]
    assert all(isinstance(tag, str) and tag == tag.strip().lower() for tag in meta["tags"])
    assert meta["risk_tier"] in RISK_TIERS
    assert isinstance(meta["cost_estimate"], float) and 0 < meta["cost_estimate"] <= 2.0
    assert isinstance(meta["timeout_seconds"], (int, float)) and meta["timeout_seconds"] > 0
    assert isinstance(meta["retryable"], bool)
    assert isinstance(meta["required_permissions"], list)
    assert all(re.fullmatch(r"[a-z]+:(read|write)", p) for p in meta["required_permissions"])

    run = resolve_entrypoint(meta["entrypoint"])
    assert callable(run)
    input_validator = validator(meta["input_schema"])
    output_validator = validator(meta["output_schema"])
    examples = meta["input_schema"].get("examples")
    assert examples, f"{skill_id}: input_schema needs at least one example"
    for example in examples:
        input_validator.validate(example)
        output = run(json.loads(json.dumps(example)))
        output_validator.validate(json.loads(json.dumps(output, ensure_ascii=False)))
    return meta


@pytest.fixture
def contract():
    """The metadata/schema contract check as a callable taking a skill id."""
    return check_contract


@pytest.fixture
def metadata():
    """Loader for a skill's parsed metadata YAML."""
    return load_metadata
