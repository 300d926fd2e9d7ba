"""Hot reload: a changed root is noticed, its modules are imported afresh, and nothing else is
forgotten."""

from __future__ import annotations

import os
import sys
import time

from conftest import RootBuilder

from skillos_runner.reload import Watch, forget_modules

IMPL = "def run(payload):\n    return {'version': %d}\n"


def bump(path) -> None:
    """Moves a file's modification time on, as an editor saving it a second later would."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_a_changed_implementation_is_imported_afresh(root: RootBuilder) -> None:
    code = root.write("implementations/a/b.py", IMPL % 1)
    root.yaml_skill("a/b", "implementations.a.b:run")
    watch = Watch(root.root, [], interval=1)
    first = watch.load()
    assert first.skills["a/b"].function({}) == {"version": 1}
    assert not watch.changed(), "nothing changed yet"

    code.write_text(IMPL % 2)
    bump(code)
    assert not watch.changed(), "a change counts once the files are quiet for an interval"
    assert watch.changed()
    assert not watch.changed(), "a change counts once"
    assert watch.load().skills["a/b"].function({}) == {"version": 2}


def test_new_and_removed_skills_are_noticed(root: RootBuilder) -> None:
    root.write("implementations/a/b.py", IMPL % 1)
    manifest = root.yaml_skill("a/b", "implementations.a.b:run")
    watch = Watch(root.root, [], interval=1)
    root.yaml_skill("a/c", "implementations.a.b:run")
    assert not watch.changed() and watch.changed()
    assert sorted(watch.load().skills) == ["a/b", "a/c"]
    manifest.unlink()
    assert not watch.changed() and watch.changed()
    assert sorted(watch.load().skills) == ["a/c"]


def test_only_the_watched_places_are_forgotten(root: RootBuilder) -> None:
    root.write("implementations/a/b.py", IMPL % 1)
    root.yaml_skill("a/b", "implementations.a.b:run")
    Watch(root.root, [], interval=1).load()
    assert "implementations.a.b" in sys.modules
    forgotten = forget_modules([root.root / "implementations"])
    assert {"implementations", "implementations.a", "implementations.a.b"} <= set(forgotten)
    assert "json" in sys.modules and "skillos_runner.reload" in sys.modules


def test_a_walk_ignores_bytecode(root: RootBuilder) -> None:
    root.write("implementations/a/b.py", IMPL % 1)
    watch = Watch(root.root, [], interval=1)
    root.write("implementations/a/__pycache__/b.cpython-311.pyc", "x")
    time.sleep(0.01)
    assert not watch.changed()
