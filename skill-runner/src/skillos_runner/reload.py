"""Hot reload: the runner notices changed skills on disk and serves the new set.

:class:`Watch` polls a fingerprint of what discovery reads (the manifests under ``metadata/``,
the code under ``implementations/`` and ``skills_local/``, and the ``--module`` paths): the
name, size and modification time of each file. Polling, not inotify, so it works the same on
every platform and on network file systems, at the cost of a directory walk per interval;
only those folders are walked, never a virtualenv elsewhere in the root.

On a change, the modules loaded from those places are dropped from ``sys.modules`` and the root
is discovered again, so a changed implementation is imported afresh for the next call; the
runner then registers the new set on a new stream and lets the old one finish its calls.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .discovery import LOCAL_SKILLS_DIR, METADATA_DIR, Catalog, discover

#: Folders of the root that discovery reads.
WATCHED_DIRS = (METADATA_DIR, "implementations", LOCAL_SKILLS_DIR)

Fingerprint = tuple[tuple[str, int, int], ...]


class Watch:
    """What to watch for one root, and how to load it again."""

    def __init__(self, root: Path, modules: Sequence[Path], interval: float) -> None:
        if interval <= 0:
            raise ValueError("the watch interval must be positive")
        self.root = root.resolve()
        self.modules = [module.resolve() for module in modules]
        self.interval = interval
        self._places = [self.root / name for name in WATCHED_DIRS] + self.modules
        #: What the last poll saw, and what the served set was loaded from.
        self._seen = self._loaded = self.fingerprint()

    def fingerprint(self) -> Fingerprint:
        files: list[tuple[str, int, int]] = []
        for place in self._places:
            if place.is_file():
                paths = [place]
            elif place.is_dir():
                paths = [
                    Path(directory) / name
                    for directory, folders, names in os.walk(place)
                    for name in names
                    if not name.endswith((".pyc", ".pyo"))
                    and "__pycache__" not in Path(directory).parts
                ]
            else:
                continue
            for path in paths:
                try:
                    stat = path.stat()
                except OSError:
                    continue
                files.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(sorted(files))

    def changed(self) -> bool:
        """True once per change, when the files have stayed as they are for one interval (so a
        save in several writes, or several files saved together, is one change)."""
        current = self.fingerprint()
        if current != self._seen:
            self._seen = current
            return False
        if current == self._loaded:
            return False
        self._loaded = current
        return True

    def load(self) -> Catalog:
        """The root discovered again, the modules of the watched places imported afresh
        (only those: a virtualenv inside the root keeps its modules)."""
        forget_modules(self._places)
        return discover(self.root, self.modules)


def forget_modules(places: Sequence[Path]) -> list[str]:
    """Drops from ``sys.modules`` every module loaded from under ``places`` (files or folders),
    including the namespace packages made for their folders; returns their names."""

    def inside(path: str | None) -> bool:
        if not path:
            return False
        resolved = Path(path).resolve()
        return any(resolved == place or resolved.is_relative_to(place) for place in places)

    forgotten = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        locations = list(getattr(module, "__path__", None) or [])
        if inside(file) or (file is None and locations and all(map(inside, locations))):
            del sys.modules[name]
            forgotten.append(name)
    return forgotten
