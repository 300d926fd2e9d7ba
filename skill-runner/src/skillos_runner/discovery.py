"""Finding the skills of a skills root and checking, before anything runs, that each can be called.

Sources, in order of precedence:

1. every ``metadata/**/*.yaml`` / ``*.yml`` manifest (sorted by path); its ``entrypoint``
   module is resolved as a file under the root (``implementations.finance.convert_currency``
   is ``<root>/implementations/finance/convert_currency.py``), falling back to a normal import
   for modules of installed packages;
2. ``@skill`` functions defined in the modules imported for step 1, in every ``*.py`` under
   ``<root>/skills_local/`` and in the files and directories passed explicitly (``--module``).

Nothing else is imported. The predecessor imported every file under ``implementations/`` to find
decorated functions, which ran the top-level code of helper modules and tests for nothing;
here only code that was asked for runs. Every failure concerns one skill: it is recorded as a
:class:`Problem` and the other skills are served.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from skillos.runner.v1 import runner_service_pb2

from .manifest import Manifest, ManifestError
from .sdk import declaration_of

METADATA_DIR = "metadata"
LOCAL_SKILLS_DIR = "skills_local"


@dataclass(frozen=True)
class Problem:
    """A skill (or file) that is not served, and why."""

    source: str
    message: str
    skill_id: str | None = None

    def __str__(self) -> str:
        subject = f"{self.skill_id} ({self.source})" if self.skill_id else self.source
        return f"{subject}: {self.message}"


class SignatureError(TypeError):
    """A function that cannot be called as a skill."""


@dataclass(frozen=True)
class CallPlan:
    """How to hand ``payload`` and ``ctx`` to one function, decided once at start."""

    payload_keyword: bool
    wants_ctx: bool

    def arguments(self, payload: Any, ctx: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args: tuple[Any, ...] = () if self.payload_keyword else (payload,)
        kwargs: dict[str, Any] = {"payload": payload} if self.payload_keyword else {}
        if self.wants_ctx:
            kwargs["ctx"] = ctx
        return args, kwargs


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def plan_call(function: Callable[..., Any]) -> CallPlan:
    """Checks that ``function`` takes a payload and at most a ``ctx`` besides; raises
    :class:`SignatureError` otherwise.

    The payload goes to a parameter named ``payload`` when there is one, else to the first
    positional parameter; ``ctx`` is passed only to a parameter of that name. Any other
    parameter must have a default, because nothing else is ever passed.
    """
    if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
        raise SignatureError("generator functions cannot be skills; return the value instead")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as error:
        raise SignatureError(f"its signature cannot be read: {error}") from error
    parameters = list(signature.parameters.values())
    named = signature.parameters.get("payload")
    first = parameters[0] if parameters else None

    if named is not None and named.kind is not inspect.Parameter.VAR_KEYWORD:
        if named.kind is inspect.Parameter.POSITIONAL_ONLY and named is not first:
            raise SignatureError("a positional-only `payload` must be the first parameter")
        payload_keyword = named.kind is not inspect.Parameter.POSITIONAL_ONLY
        payload_name: str | None = "payload"
    elif first is not None and first.kind in _POSITIONAL and first.name != "ctx":
        payload_keyword, payload_name = False, first.name
    elif first is not None and first.kind is inspect.Parameter.VAR_POSITIONAL:
        payload_keyword, payload_name = False, None
    else:
        raise SignatureError(
            "it must accept the payload: as its first positional parameter or as `payload`"
        )

    ctx = signature.parameters.get("ctx")
    if ctx is not None and ctx.kind is inspect.Parameter.POSITIONAL_ONLY:
        raise SignatureError("`ctx` must not be positional-only; it is passed by name")
    wants_ctx = ctx is not None and ctx.kind not in _VARIADIC

    required = [
        parameter.name
        for parameter in parameters
        if parameter.name not in (payload_name, "ctx")
        and parameter.kind not in _VARIADIC
        and parameter.default is inspect.Parameter.empty
    ]
    if required:
        names = ", ".join(f"`{name}`" for name in required)
        raise SignatureError(
            f"parameter(s) {names} have no default; a skill receives only the payload and `ctx`"
        )
    return CallPlan(payload_keyword=payload_keyword, wants_ctx=wants_ctx)


def is_async(function: Callable[..., Any]) -> bool:
    """Whether calling ``function`` gives a coroutine, also for objects with an async
    ``__call__`` (which ``iscoroutinefunction`` does not look into)."""
    call = getattr(type(function), "__call__", None)  # noqa: B004 - not a callable() test
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(call)


class ModuleLoader:
    """Imports skill modules by file path under an import base (normally the skills root).

    Resolving by path rather than through ``sys.path`` lets module names contain ``-`` or start
    with a digit, and makes the root's copy win over a same-named installed package. Missing
    parent packages are created as namespace packages, so a module's absolute imports of its
    siblings (``from implementations._validation import ...``) resolve inside the root. A
    module whose top-level code fails is removed from ``sys.modules``, so nothing half-imported
    is left behind.
    """

    def load_name(self, dotted: str, base: Path) -> ModuleType:
        """Imports ``dotted`` from ``base``, or as an installed module when no such file exists."""
        parts = dotted.split(".")
        if not all(parts):
            raise ImportError(f"{dotted!r} is not a module path")
        stem = base.joinpath(*parts)
        for candidate, package in (
            (stem.with_name(stem.name + ".py"), False),
            (stem / "__init__.py", True),
        ):
            if candidate.is_file():
                return self._load(dotted, candidate, base, package=package)
        try:
            return importlib.import_module(dotted)
        except ImportError as error:
            raise ImportError(
                f"module {dotted} not found: no {stem.relative_to(base)}.py under {base} "
                f"and no installed module of that name ({error})"
            ) from error

    def load_file(self, path: Path, base: Path) -> ModuleType:
        """Imports the file ``path`` under the module name of its path relative to ``base``."""
        relative = path.relative_to(base).with_suffix("")
        parts = list(relative.parts)
        package = parts[-1] == "__init__"
        if package:
            parts.pop()
        if not parts:
            raise ImportError(f"{path} has no module name relative to {base}")
        return self._load(".".join(parts), path, base, package=package)

    def _load(self, name: str, path: Path, base: Path, *, package: bool) -> ModuleType:
        path = path.resolve()
        existing = sys.modules.get(name)
        if existing is not None:
            existing_file = getattr(existing, "__file__", None)
            if existing_file and Path(existing_file).resolve() == path:
                return existing
            raise ImportError(
                f"module name {name} is already taken by {existing_file or 'a built-in module'}"
            )
        parent, _, child = name.rpartition(".")
        parent_module = self._ensure_package(parent, base) if parent else None
        spec = importlib.util.spec_from_file_location(
            name, path, submodule_search_locations=[str(path.parent)] if package else None
        )
        if spec is None or spec.loader is None:
            raise ImportError(f"{path} cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as error:
            sys.modules.pop(name, None)
            raise ImportError(
                f"importing {name} ({path}) failed: {type(error).__name__}: {error}"
            ) from error
        if parent_module is not None:
            setattr(parent_module, child, module)
        return module

    def _ensure_package(self, name: str, base: Path) -> ModuleType:
        existing = sys.modules.get(name)
        if existing is not None:
            return existing
        directory = base.joinpath(*name.split("."))
        init = directory / "__init__.py"
        if init.is_file():
            return self._load(name, init, base, package=True)
        parent, _, child = name.rpartition(".")
        parent_module = self._ensure_package(parent, base) if parent else None
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(directory)]
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        if parent_module is not None:
            setattr(parent_module, child, module)
        return module


def resolve_attribute(module: ModuleType, qualified: str) -> Any:
    """``module.<qualified>`` where ``qualified`` may be dotted (``Class.method``)."""
    target: Any = module
    for part in qualified.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise AttributeError(
                f"module {module.__name__} has no attribute {qualified!r}"
            ) from None
    return target


@dataclass(frozen=True)
class LoadedSkill:
    """A skill ready to run: its manifest, its function and how to call it."""

    manifest: Manifest
    function: Callable[..., Any]
    plan: CallPlan
    is_async: bool


@dataclass
class Catalog:
    """The result of discovery: the skills to serve and what was skipped."""

    root: Path
    skills: dict[str, LoadedSkill] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def manifests(self) -> list[runner_service_pb2.SkillManifest]:
        return [loaded.manifest.to_proto() for loaded in self.skills.values()]

    def _add(self, manifest: Manifest, function: Any, source: str) -> None:
        if not callable(function):
            self.problems.append(
                Problem(source, f"{manifest.entrypoint} is not callable", manifest.id)
            )
            return
        try:
            plan = plan_call(function)
        except SignatureError as error:
            self.problems.append(Problem(source, f"{manifest.entrypoint}: {error}", manifest.id))
            return
        self.skills[manifest.id] = LoadedSkill(manifest, function, plan, is_async(function))


def _python_files(directory: Path) -> Iterator[Path]:
    """``*.py`` files under ``directory``, sorted, except helpers (``_name.py``) and hidden dirs."""
    for path in sorted(directory.rglob("*.py")):
        relative = path.relative_to(directory).parts
        if path.name.startswith("_") or any(part.startswith(".") for part in relative):
            continue
        yield path


def _module_sources(root: Path, extra: Sequence[Path]) -> Iterator[tuple[Path, Path]]:
    """(file, import base) of every module scanned for ``@skill`` besides the manifests' own."""
    local = root / LOCAL_SKILLS_DIR
    if local.is_dir():
        for path in _python_files(local):
            yield path, root
    for given in extra:
        given = given.resolve()
        if given.is_dir():
            base = root if given.is_relative_to(root) else given
            for path in _python_files(given):
                yield path, base
        else:
            yield given, root if given.is_relative_to(root) else given.parent


def _manifest_files(root: Path) -> list[Path]:
    metadata = root / METADATA_DIR
    if not metadata.is_dir():
        return []
    return sorted(
        path for path in metadata.rglob("*") if path.suffix in (".yaml", ".yml") and path.is_file()
    )


def discover(root: Path, modules: Iterable[Path] = ()) -> Catalog:
    """Loads every skill of ``root`` (plus ``@skill`` functions of ``modules``)."""
    root = root.resolve()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    catalog = Catalog(root)
    loader = ModuleLoader()
    scanned: dict[str, tuple[ModuleType, str]] = {}
    claimed: dict[str, str] = {}

    for path in _manifest_files(root):
        source = path.relative_to(root).as_posix()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            catalog.problems.append(Problem(source, f"cannot read the manifest: {error}"))
            continue
        try:
            manifest = Manifest.from_mapping(data, source)
        except ManifestError as error:
            skill_id = (
                data.get("id")
                if isinstance(data, dict) and isinstance(data.get("id"), str)
                else None
            )
            catalog.problems.append(Problem(source, f"invalid manifest: {error}", skill_id))
            continue
        if manifest.id in claimed:
            message = f"duplicate id, already defined by {claimed[manifest.id]}"
            catalog.problems.append(Problem(source, message, manifest.id))
            continue
        claimed[manifest.id] = source
        try:
            module = loader.load_name(manifest.module, root)
            function = resolve_attribute(module, manifest.function)
        except (ImportError, AttributeError) as error:
            catalog.problems.append(Problem(source, str(error), manifest.id))
            continue
        scanned.setdefault(module.__name__, (module, source))
        catalog._add(manifest, function, source)

    for path, base in _module_sources(root, list(modules)):
        source = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        if str(base) not in sys.path:
            sys.path.append(str(base))
        try:
            module = loader.load_file(path, base)
        except ImportError as error:
            catalog.problems.append(Problem(source, str(error)))
            continue
        scanned.setdefault(module.__name__, (module, source))

    for module, source in scanned.values():
        _add_declared(catalog, module, source, claimed)
    return catalog


def _add_declared(
    catalog: Catalog, module: ModuleType, source: str, claimed: dict[str, str]
) -> None:
    """Adds the ``@skill`` functions defined in ``module`` (not those it merely imports)."""
    module_file = getattr(module, "__file__", None) or source
    for attribute, value in list(vars(module).items()):
        declaration = declaration_of(value)
        if declaration is None or getattr(value, "__module__", None) != module.__name__:
            continue
        entrypoint = f"{module.__name__}:{attribute}"
        try:
            manifest = Manifest.from_mapping(declaration.as_mapping(entrypoint))
        except ManifestError as error:
            catalog.problems.append(Problem(source, f"@skill {attribute}: {error}", declaration.id))
            continue
        existing = catalog.skills.get(manifest.id)
        if existing is not None and existing.function is value:
            continue
        if manifest.id in claimed:
            message = f"@skill {attribute} is shadowed by {claimed[manifest.id]}, which wins"
            catalog.problems.append(Problem(source, message, manifest.id))
            continue
        claimed[manifest.id] = f"{module_file}:{attribute}"
        catalog._add(manifest, value, source)
