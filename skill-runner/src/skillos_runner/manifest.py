"""Skill manifests: the metadata of one skill, validated, and its form on the wire.

Both sources of skills (YAML files under ``metadata/`` and ``@skill`` declarations) end up as a
:class:`Manifest`, so they are validated by the same rules. The rules are stricter than the
predecessor's where the server would refuse the skill anyway (ids are ``domain/name`` of letters,
digits, ``_`` and ``-``): refusing at start names the file, whereas the server's rejection only
names the id.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from skillos.runner.v1 import runner_service_pb2
from skillos.v1 import skill_pb2

from .convert import dict_to_struct, seconds_to_duration, yaml_to_json

SKILL_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*/[A-Za-z0-9][A-Za-z0-9_-]*")
SEMVER_RE = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
ENTRYPOINT_RE = re.compile(r"[^\s:]+:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
RISK_TIERS: Mapping[str, int] = {
    "low": skill_pb2.RISK_TIER_LOW,
    "medium": skill_pb2.RISK_TIER_MEDIUM,
    "high": skill_pb2.RISK_TIER_HIGH,
    "critical": skill_pb2.RISK_TIER_CRITICAL,
}
REQUIRED_TEXT_FIELDS = ("id", "name", "description", "version", "entrypoint")


class ManifestError(ValueError):
    """A manifest that cannot be served; the message lists every problem as ``field: problem``."""


def skill_id_problem(value: object) -> str | None:
    """Why ``value`` is not a valid skill id, or None when it is one."""
    if not isinstance(value, str):
        return "must be a string"
    if not SKILL_ID_RE.fullmatch(value):
        return (
            f"{value!r} is not `domain/name` (letters, digits, `_` and `-`, "
            "each part starting with a letter or digit)"
        )
    return None


@dataclass(frozen=True)
class Manifest:
    """One skill's metadata, as registered with the server."""

    id: str
    name: str
    description: str
    version: str
    entrypoint: str
    tags: tuple[str, ...] = ()
    input_schema: Mapping[str, Any] | None = None
    output_schema: Mapping[str, Any] | None = None
    cost_estimate: float | None = None
    risk_tier: str | None = None
    required_permissions: tuple[str, ...] = ()
    timeout_seconds: float | None = None
    retryable: bool = False
    deprecated: bool = False
    deprecation_reason: str | None = None
    replacement_id: str | None = None
    #: Path of the YAML file relative to the skills root; empty for ``@skill`` declarations.
    source_path: str = ""

    @property
    def module(self) -> str:
        return self.entrypoint.partition(":")[0]

    @property
    def function(self) -> str:
        return self.entrypoint.partition(":")[2]

    @classmethod
    def from_mapping(cls, data: object, source_path: str = "") -> Manifest:
        """Validates a parsed YAML mapping; raises :class:`ManifestError` listing every problem."""
        if not isinstance(data, Mapping):
            raise ManifestError("the manifest must be a YAML mapping")
        problems: list[str] = []

        def text(key: str, *, required: bool) -> str | None:
            value = data.get(key)
            if value is None:
                if required:
                    problems.append(f"{key}: is required")
                return None
            if not isinstance(value, str):
                problems.append(f"{key}: must be a string, not {type(value).__name__}")
                return None
            return value

        def strings(key: str) -> tuple[str, ...]:
            value = data.get(key)
            if value is None:
                return ()
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                problems.append(f"{key}: must be a list of strings")
                return ()
            return tuple(value)

        def number(key: str) -> float | None:
            value = data.get(key)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"{key}: must be a number")
                return None
            if not math.isfinite(value) or value < 0:
                problems.append(f"{key}: must be a finite number of at least 0")
                return None
            return float(value)

        def flag(key: str) -> bool:
            value = data.get(key, False)
            if not isinstance(value, bool):
                problems.append(f"{key}: must be true or false")
                return False
            return value

        def schema(key: str) -> Mapping[str, Any] | None:
            value = data.get(key)
            if value is None:
                return None
            if not isinstance(value, Mapping):
                problems.append(f"{key}: must be a mapping (a JSON Schema object)")
                return None
            try:
                return yaml_to_json(value, key)
            except ValueError as error:
                problems.append(str(error))
                return None

        values = {key: text(key, required=True) for key in REQUIRED_TEXT_FIELDS}
        skill_id, version, entrypoint = values["id"], values["version"], values["entrypoint"]
        if skill_id is not None and (problem := skill_id_problem(skill_id)):
            problems.append(f"id: {problem}")
        if version is not None and not SEMVER_RE.fullmatch(version):
            problems.append(f"version: {version!r} is not a SemVer 2.0 version such as 0.1.0")
        if entrypoint is not None and not ENTRYPOINT_RE.fullmatch(entrypoint):
            problems.append(f"entrypoint: {entrypoint!r} is not `module.path:function`")

        risk_tier = text("risk_tier", required=False)
        if risk_tier is not None and risk_tier not in RISK_TIERS:
            problems.append(f"risk_tier: must be one of {', '.join(RISK_TIERS)}")
        mode = data.get("execution_mode", "local")
        if mode != "local":
            problems.append(
                f"execution_mode: {mode!r} is not supported by this runner (only local)"
            )
        timeout = number("timeout_seconds")
        if timeout == 0:
            problems.append("timeout_seconds: must be greater than 0")

        deprecated = flag("deprecated")
        reason = text("deprecation_reason", required=False)
        replacement = text("replacement_id", required=False)
        if replacement is not None:
            replacement = replacement.strip()
            if problem := skill_id_problem(replacement):
                problems.append(f"replacement_id: {problem}")
        if deprecated and not (reason or replacement):
            problems.append("deprecated: needs deprecation_reason or replacement_id")

        tags = strings("tags")
        input_schema = schema("input_schema")
        output_schema = schema("output_schema")
        cost_estimate = number("cost_estimate")
        required_permissions = strings("required_permissions")
        retryable = flag("retryable")
        if problems:
            raise ManifestError("; ".join(problems))
        return cls(
            id=str(skill_id),
            name=str(values["name"]),
            description=str(values["description"]),
            version=str(version),
            entrypoint=str(entrypoint),
            tags=tags,
            input_schema=input_schema,
            output_schema=output_schema,
            cost_estimate=cost_estimate,
            risk_tier=risk_tier,
            required_permissions=required_permissions,
            timeout_seconds=timeout,
            retryable=retryable,
            deprecated=deprecated,
            deprecation_reason=reason,
            replacement_id=replacement,
            source_path=source_path,
        )

    def to_proto(self) -> runner_service_pb2.SkillManifest:
        """The manifest as sent in ``Register.skills``."""
        message = runner_service_pb2.SkillManifest(
            id=self.id,
            name=self.name,
            description=self.description,
            version=self.version,
            tags=self.tags,
            entrypoint=self.entrypoint,
            risk_tier=RISK_TIERS.get(self.risk_tier or "", skill_pb2.RISK_TIER_UNSPECIFIED),
            required_permissions=self.required_permissions,
            retryable=self.retryable,
            deprecated=self.deprecated,
            deprecation_reason=self.deprecation_reason or "",
            replacement_id=self.replacement_id or "",
            source_path=self.source_path,
        )
        if self.input_schema is not None:
            message.input_schema.CopyFrom(dict_to_struct(self.input_schema))
        if self.output_schema is not None:
            message.output_schema.CopyFrom(dict_to_struct(self.output_schema))
        if self.cost_estimate is not None:
            message.cost_estimate = self.cost_estimate
        if self.timeout_seconds is not None:
            message.timeout.CopyFrom(seconds_to_duration(self.timeout_seconds))
        return message
