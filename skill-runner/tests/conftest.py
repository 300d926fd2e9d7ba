"""Shared fixtures: isolated import state, temporary skills roots and in-memory catalogs."""

from __future__ import annotations

import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skillos_runner.discovery import Catalog, LoadedSkill, is_async, plan_call
from skillos_runner.embedding import Embedder, Kind, load_embedder
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


class FakeEmbedder(Embedder):
    """A tiny deterministic model: the vector of a text is the one-hot of its length (mod 4).

    ``gate`` (when set) makes every call wait until it is opened; ``calls`` records the kind
    and the thread of each call; ``fail`` makes calls raise."""

    name = "fake"
    model = "fake-embedder"
    dimension = 4
    max_batch_size = 8

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[list[str], Kind, str]] = []
        self.gate: threading.Event | None = None
        self.fail: Exception | None = None

    def _encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        self.calls.append((texts, kind, threading.current_thread().name))
        if self.gate is not None:
            assert self.gate.wait(10), "the gate was never opened"
        if self.fail is not None:
            raise self.fail
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        out[np.arange(len(texts)), [len(text) % self.dimension for text in texts]] = 1.0
        return out


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


_MODELS: dict[str, Embedder] = {}


def real_embedder(name: str) -> Embedder:
    """The real model ``name`` (``e5`` or ``use``), loaded once per test session."""
    if name not in _MODELS:
        _MODELS[name] = load_embedder(name)
    return _MODELS[name]
