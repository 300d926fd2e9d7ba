"""What skill code sees: the ``@skill`` decorator, the ``ctx`` object and :class:`SkillError`."""

from __future__ import annotations

import datetime as _dt
import functools
import inspect
import logging
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from skillos.runner.v1 import runner_service_pb2
from skillos.v1 import execution_pb2

from .convert import timestamp

F = TypeVar("F", bound=Callable[..., Any])

#: Attribute under which ``@skill`` stores its :class:`SkillDeclaration` on the function.
DECLARATION_ATTRIBUTE = "__skillos_skill__"
#: Parent of the per-skill loggers handed to skills as ``ctx.logger``.
SKILL_LOGGER = "skillos_runner.skill"
#: Longest log or progress text sent to the server; keeps every message far below the stream's
#: message limit whatever a skill writes.
MAX_TEXT_CHARS = 16 * 1024

Sink = Callable[[runner_service_pb2.AttachRequest], None]


@dataclass(frozen=True)
class SkillDeclaration:
    """The metadata ``@skill`` attaches to a function, validated later by discovery."""

    id: str
    name: str
    description: str
    version: str
    tags: tuple[str, ...]
    input_schema: Mapping[str, Any] | None
    output_schema: Mapping[str, Any] | None
    retryable: bool
    timeout_seconds: float | None

    def as_mapping(self, entrypoint: str) -> dict[str, Any]:
        """The declaration in manifest form, so it is validated like a YAML file."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "entrypoint": entrypoint,
            "tags": list(self.tags),
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "retryable": self.retryable,
            "timeout_seconds": self.timeout_seconds,
        }


@overload
def skill(function: F, /) -> F: ...


@overload
def skill(
    function: None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    version: str = "1.0.0",
    tags: Sequence[str] | None = None,
    id: str | None = None,
    input_schema: Mapping[str, Any] | None = None,
    output_schema: Mapping[str, Any] | None = None,
    retryable: bool = False,
    timeout_seconds: float | None = None,
) -> Callable[[F], F]: ...


def skill(
    function: F | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    version: str = "1.0.0",
    tags: Sequence[str] | None = None,
    id: str | None = None,
    input_schema: Mapping[str, Any] | None = None,
    output_schema: Mapping[str, Any] | None = None,
    retryable: bool = False,
    timeout_seconds: float | None = None,
) -> F | Callable[[F], F]:
    """Declares a function as a skill without a YAML file (``@skill`` or ``@skill(...)``).

    The id is ``local/<name>`` unless ``id`` is given; the name defaults to the function's name
    and the description to its docstring. The function is returned unchanged, so calling it
    directly (in tests, say) behaves exactly as before decoration. Nothing is validated here:
    a bad declaration must not break the import of its module, so discovery reports it and
    skips that one skill.
    """

    def decorate(target: F) -> F:
        skill_name = name if name is not None else target.__name__
        declaration = SkillDeclaration(
            id=id if id is not None else f"local/{skill_name}",
            name=skill_name,
            description=description if description is not None else inspect.getdoc(target) or "",
            version=version,
            tags=tuple(tags or ()),
            input_schema=input_schema,
            output_schema=output_schema,
            retryable=retryable,
            timeout_seconds=timeout_seconds,
        )
        setattr(target, DECLARATION_ATTRIBUTE, declaration)
        return target

    return decorate(function) if function is not None else decorate


def declaration_of(obj: object) -> SkillDeclaration | None:
    """The ``@skill`` declaration carried by ``obj``, if any."""
    declaration = getattr(obj, DECLARATION_ATTRIBUTE, None)
    return declaration if isinstance(declaration, SkillDeclaration) else None


class SkillError(Exception):
    """Raise it from a skill to fail with your own error code and retry class.

    ``code`` is a stable machine-readable code (e.g. ``invalid_currency``); ``retryable`` says
    whether the same payload may succeed later. Other exceptions are mapped by type (see the
    README).
    """

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


_LOG_LEVELS = (
    (logging.ERROR, execution_pb2.LOG_LEVEL_ERROR),
    (logging.WARNING, execution_pb2.LOG_LEVEL_WARNING),
    (logging.INFO, execution_pb2.LOG_LEVEL_INFO),
)


def _wire_level(levelno: int) -> int:
    for threshold, level in _LOG_LEVELS:
        if levelno >= threshold:
            return level
    return execution_pb2.LOG_LEVEL_DEBUG


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"


class _ForwardToServer(logging.Handler):
    """Sends the records of ``ctx.logger`` to the server.

    One handler sits on the parent of all skill loggers; each record carries the context it
    came from (put there by :class:`_ContextLogger`), so no per-invocation logger or handler is
    ever created and nothing leaks between invocations.
    """

    def emit(self, record: logging.LogRecord) -> None:
        context = getattr(record, "skillos_context", None)
        if isinstance(context, Context):
            context._forward_log(record)


_skill_logger = logging.getLogger(SKILL_LOGGER)
_skill_logger.addHandler(_ForwardToServer())
# Skill lines at INFO reach the server even when the runner's own log level is quieter.
if _skill_logger.level == logging.NOTSET:
    _skill_logger.setLevel(logging.INFO)


class _ContextLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """``ctx.logger``: a logger whose lines also reach the server as ``LogEntry`` messages."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(kwargs.get("extra") or {}), **(self.extra or {})}
        return msg, kwargs


@dataclass(frozen=True, eq=False)
class Context:
    """The ``ctx`` argument of a skill: who and what the invocation is for.

    ``execution_id`` is stable across attempts, so a skill with side effects can use it as its
    idempotency key. ``cancelled`` turns true when the server cancels the attempt or its
    deadline passes; a synchronous skill cannot be interrupted, so long loops should check it.
    """

    execution_id: str
    attempt: int
    skill_id: str
    skill_version: str
    principal: str
    tenant: str
    deadline: _dt.datetime | None
    roles: tuple[str, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    traceparent: str = ""
    tracestate: str = ""
    model_tier: str = ""
    job_id: str = ""
    #: The flow step this run is (``<flow run id>:<step path>``), stable across the step's
    #: attempts and a re-dispatch after a server crash; empty outside flows.
    step_key: str = ""
    _sink: Sink | None = field(default=None, repr=False)
    #: Set once (from the event loop) and read from the skill's thread: a plain attribute is
    #: enough for that, and costs far less per invocation than a ``threading.Event``.
    _cancelled: bool = field(default=False, repr=False)

    @functools.cached_property
    def logger(self) -> logging.LoggerAdapter:  # type: ignore[type-arg]
        """A logger whose lines also reach the server; made on first use, as most skills
        never log."""
        base = logging.getLogger(f"{SKILL_LOGGER}.{self.skill_id.replace('/', '.')}")
        return _ContextLogger(base, {"skillos_context": self})

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def time_left(self) -> float | None:
        """Seconds until the deadline (negative once passed), None without a deadline."""
        if self.deadline is None:
            return None
        return (self.deadline - _dt.datetime.now(_dt.timezone.utc)).total_seconds()

    def progress(self, message: str, percent: float | None = None) -> None:
        """Reports progress of this invocation to the server (``percent`` is clamped to 0-100)."""
        update = runner_service_pb2.Progress(
            execution_id=self.execution_id, attempt=self.attempt, message=_clip(str(message))
        )
        if percent is not None:
            update.percent = min(100.0, max(0.0, float(percent)))
        self._send(runner_service_pb2.AttachRequest(progress=update))

    def _forward_log(self, record: logging.LogRecord) -> None:
        entry = runner_service_pb2.LogEntry(
            execution_id=self.execution_id,
            attempt=self.attempt,
            level=_wire_level(record.levelno),
            message=_clip(record.getMessage().rstrip("\n")),
            time=timestamp(_dt.datetime.fromtimestamp(record.created, _dt.timezone.utc)),
        )
        self._send(runner_service_pb2.AttachRequest(log=entry))

    def _send(self, request: runner_service_pb2.AttachRequest) -> None:
        """Nothing more is sent for an attempt once it is cancelled or timed out."""
        if self._sink is not None and not self._cancelled:
            self._sink(request)

    def _cancel(self) -> None:
        object.__setattr__(self, "_cancelled", True)
