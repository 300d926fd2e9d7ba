"""Shared fixtures: isolated import state, temporary skills roots and in-memory catalogs."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from skillos_runner.discovery import Catalog, LoadedSkill, is_async, plan_call
from skillos_runner.manifest import Manifest
from skillos_runner.sdk import declaration_of

EXAMPLE_ROOT = Path(__file__).resolve().parents[2] / "skills"


@pytest.fixture(autouse=True)
def isolated_imports() -> Iterator[None]:
    """Discovery imports skill modules into ``sys.modules`` and extends ``sys.path``; every test
    starts from and returns to the same state, so roots of different tests never collide."""
    modules = dict(sys.modules)
    path = list(sys.path)
    yield
    for name in set(sys.modules) - set(modules):
        del sys.modules[name]
    sys.path[:] = path


class RootBuilder:
    """Writes a skills root file by file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    def yaml_skill(
        self, skill_id: str, entrypoint: str, extra: str = "", *, file: str | None = None
    ) -> Path:
        body = (
            f"id: {skill_id}\nname: {skill_id.split('/')[1]}\ndescription: test skill {skill_id}\n"
            f"version: 0.1.0\nentrypoint: {entrypoint}\n" + textwrap.dedent(extra)
        )
        return self.write(file or f"metadata/{skill_id}.yaml", body)


@pytest.fixture
def root(tmp_path: Path) -> RootBuilder:
    return RootBuilder(tmp_path / "root")


def catalog_of(*functions: Callable[..., Any], **manifest_overrides: Any) -> Catalog:
    """A catalog of ``@skill`` functions defined in a test, without files or imports."""
    catalog = Catalog(Path("."))
    for function in functions:
        declaration = declaration_of(function)
        assert declaration is not None, f"{function} has no @skill"
        data = declaration.as_mapping(f"tests:{function.__name__}") | manifest_overrides
        manifest = Manifest.from_mapping(data)
        catalog.skills[manifest.id] = LoadedSkill(
            manifest, function, plan_call(function), is_async(function)
        )
    return catalog
