"""Running one invocation: calling the skill within its deadline and turning the outcome into an
``InvokeResult``.

Synchronous skills run in a thread pool so that CPU-bound or blocking code never stalls the
event loop that carries the stream (and with it heartbeats and other invocations); coroutine
skills run on the loop itself. A thread cannot be interrupted, so when a synchronous skill
outlives its deadline or is cancelled the runner stops waiting for it, sets ``ctx.cancelled``
and drops whatever it produces later.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2
from skillos.runner.v1 import runner_service_pb2
from skillos.v1 import execution_pb2

from .convert import duration_to_seconds, seconds_to_duration, struct_to_dict, to_value
from .discovery import LoadedSkill
from .sdk import Context, Sink, SkillError

log = logging.getLogger(__name__)

PERMANENT = execution_pb2.ERROR_CLASS_PERMANENT
RETRYABLE = execution_pb2.ERROR_CLASS_RETRYABLE
#: Exceptions that mean the payload itself is wrong, so a retry cannot succeed.
INPUT_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, KeyError)


@dataclass(frozen=True)
class Outcome:
    """What a skill produced: exactly one of an encoded output and an error."""

    output: struct_pb2.Value | None = None
    error: runner_service_pb2.SkillError | None = None


def skill_error(
    code: str, message: str, *, retryable: bool = False, runner_failure: bool = False
) -> runner_service_pb2.SkillError:
    return runner_service_pb2.SkillError(
        error_class=RETRYABLE if retryable else PERMANENT,
        code=code,
        message=message,
        runner_failure=runner_failure,
    )


def error_for_exception(error: BaseException, retryable: bool) -> runner_service_pb2.SkillError:
    """Maps an exception raised by a skill to the error reported for it.

    :class:`SkillError` says itself what it is. ``ValueError``, ``TypeError`` and ``KeyError``
    mean bad input, which no retry fixes. Anything else may be transient (a network hiccup, a
    busy database), but it is only worth retrying when the skill is idempotent, which is what
    the manifest's ``retryable`` declares.
    """
    if isinstance(error, SkillError):
        return skill_error(error.code, error.message, retryable=error.retryable)
    message = str(error) or type(error).__name__
    if isinstance(error, INPUT_ERRORS):
        return skill_error(type(error).__name__, message)
    return skill_error(type(error).__name__, message, retryable=retryable)


def encode(result: Any) -> Outcome:
    """The skill's return value as an Outcome; a value JSON cannot hold is the skill's error."""
    try:
        return Outcome(output=to_value(result))
    except (TypeError, ValueError, RecursionError) as error:
        message = f"the skill returned a value that is not JSON: {error}"
        return Outcome(error=skill_error("INVALID_OUTPUT", message))


def _failure(error: BaseException, retryable: bool, skill_id: str) -> Outcome:
    if isinstance(error, (SkillError, *INPUT_ERRORS)):
        log.info("%s failed: %s: %s", skill_id, type(error).__name__, error)
    else:
        log.warning("%s raised", skill_id, exc_info=error)
    return Outcome(error=error_for_exception(error, retryable))


def _time_left(invoke: runner_service_pb2.Invoke) -> float | None:
    """Seconds the attempt may take, measured on this machine's clock.

    ``timeout`` is relative and so immune to clock skew between runner and server; the absolute
    ``deadline`` is the fallback for servers that do not send it.
    """
    if invoke.HasField("timeout"):
        return max(0.0, duration_to_seconds(invoke.timeout))
    if invoke.HasField("deadline"):
        deadline = invoke.deadline.ToDatetime(_dt.timezone.utc)
        return max(0.0, (deadline - _dt.datetime.now(_dt.timezone.utc)).total_seconds())
    return None


async def _within(call: Coroutine[Any, Any, Outcome], seconds: float | None) -> Outcome:
    """Awaits ``call`` in the current task, raising ``asyncio.TimeoutError`` after ``seconds``.

    ``asyncio.timeout`` (Python 3.11+) only arms a timer; ``asyncio.wait_for`` runs the call in
    a task of its own, which costs about as much as a fast skill does.
    """
    if seconds is None:
        return await call
    if _TIMEOUT is None:  # Python 3.10
        return await asyncio.wait_for(call, seconds)
    async with _TIMEOUT(seconds):
        return await call


_TIMEOUT = getattr(asyncio, "timeout", None)

#: A synchronous skill runs on the event loop itself once this many calls in a row each took
#: less than ``inline_under`` seconds (its own time, without the hop): handing a call to a
#: thread and back costs more than such a skill does (about half a fast skill's rate). A call
#: on the loop that takes over ``SLOW_FACTOR`` times that sends it back to the thread pool,
#: where it must prove itself again; so a skill that turns slow blocks the loop once, for that
#: call. (The margin keeps a fast skill on the loop through the odd pause of a busy machine.)
FAST_CALLS_TO_INLINE = 32
SLOW_FACTOR = 10
#: The default of ``inline_under``: 1 ms.
INLINE_UNDER = 0.001


def _context(
    invoke: runner_service_pb2.Invoke, time_left: float | None, sink: Sink | None
) -> Context:
    """The ``ctx`` of an invocation."""
    deadline = None
    if time_left is not None:
        deadline = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=time_left)
    principal = invoke.principal
    return Context(
        execution_id=invoke.execution_id,
        attempt=invoke.attempt,
        skill_id=invoke.skill_id,
        skill_version=invoke.skill_version,
        principal=principal.subject,
        tenant=invoke.tenant_id,
        deadline=deadline,
        roles=tuple(principal.roles),
        attributes=dict(principal.attributes),
        traceparent=invoke.traceparent,
        tracestate=invoke.tracestate,
        model_tier=invoke.model_tier,
        job_id=invoke.job_id,
        step_key=invoke.step_key,
        _sink=sink,
    )


class _Pace:
    """How a synchronous skill has been running: its streak of fast calls."""

    __slots__ = ("fast_calls",)

    def __init__(self) -> None:
        self.fast_calls = 0


class Executor:
    """Runs invocations of the discovered skills, at most ``concurrency`` at a time.

    Async skills run on the event loop; synchronous ones in a thread pool, except those that
    have proven fast (see ``FAST_CALLS_TO_INLINE``); ``inline_under=0`` keeps every synchronous
    skill in the pool.
    """

    def __init__(
        self,
        skills: Mapping[str, LoadedSkill],
        concurrency: int,
        inline_under: float = INLINE_UNDER,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._skills = skills
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="skill")
        self._slots = asyncio.Semaphore(concurrency)
        self._busy_threads = 0
        self._busy_lock = threading.Lock()
        self._inline_under = inline_under
        self._paces: dict[str, _Pace] = {}

    @property
    def busy_threads(self) -> int:
        """Synchronous skills still running, including ones the runner stopped waiting for."""
        with self._busy_lock:
            return self._busy_threads

    def replace(self, skills: Mapping[str, LoadedSkill]) -> None:
        """Serves ``skills`` from the next call on (calls in flight keep their functions)."""
        self._skills = skills
        self._paces.clear()

    def close(self) -> None:
        """Releases the pool without waiting: abandoned skill threads must not block exit."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def execute(
        self,
        invoke: runner_service_pb2.Invoke,
        sink: Sink | None,
        max_result_bytes: int,
    ) -> runner_service_pb2.InvokeResult:
        """Runs one attempt and returns its result; raises ``CancelledError`` when cancelled.

        ``sink`` receives the attempt's progress and log messages (from any thread).
        """
        loop = asyncio.get_running_loop()
        received = loop.time()
        time_left = _time_left(invoke)
        skill = self._skills.get(invoke.skill_id)
        if skill is None:
            message = f"this runner does not host {invoke.skill_id}"
            error = skill_error("SKILL_NOT_FOUND", message, runner_failure=True)
            return self._result(invoke, Outcome(error=error), 0.0, max_result_bytes)
        ctx = _context(invoke, time_left, sink)
        payload = struct_to_dict(invoke.payload)
        retryable = skill.manifest.retryable

        async with self._slots:
            started = time.monotonic()
            remaining = (
                None if time_left is None else max(0.0, time_left - (loop.time() - received))
            )
            try:
                outcome = await _within(self._call(skill, payload, ctx), remaining)
            except asyncio.TimeoutError:
                ctx._cancel()
                message = f"the skill did not finish within its deadline ({time_left:.3f} s)"
                log.warning("%s (execution %s): %s", invoke.skill_id, invoke.execution_id, message)
                outcome = Outcome(
                    error=skill_error("DEADLINE_EXCEEDED", message, retryable=retryable)
                )
            except asyncio.CancelledError:
                ctx._cancel()
                raise
            duration = time.monotonic() - started
        return self._result(invoke, outcome, duration, max_result_bytes)

    async def _call(self, skill: LoadedSkill, payload: dict[str, Any], ctx: Context) -> Outcome:
        args, kwargs = skill.plan.arguments(payload, ctx)
        retryable = skill.manifest.retryable
        skill_id = skill.manifest.id
        if skill.is_async:
            # SystemExit must be caught here, inside the awaiting coroutine: asyncio re-raises it
            # out of the event loop if it reaches a task boundary, which would stop the runner.
            try:
                result = await skill.function(*args, **kwargs)
            except (Exception, SystemExit) as error:
                return _failure(error, retryable, skill_id)
            return encode(result)
        if self.runs_inline(skill_id):
            return self._call_inline(skill, args, kwargs)
        loop = asyncio.get_running_loop()
        outcome, took = await loop.run_in_executor(
            self._pool, self._call_in_thread, skill.function, args, kwargs, retryable, skill_id
        )
        pace = self._paces.setdefault(skill_id, _Pace())
        pace.fast_calls = pace.fast_calls + 1 if took < self._inline_under else 0
        return outcome

    def _call_inline(
        self, skill: LoadedSkill, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Outcome:
        """Calls a proven-fast sync skill on the event loop; one that turns slow goes back to
        the thread pool."""
        skill_id = skill.manifest.id
        outcome, took = self._call_in_thread(
            skill.function, args, kwargs, skill.manifest.retryable, skill_id
        )
        if took > self._inline_under * SLOW_FACTOR:
            log.info(
                "%s took %.1f ms on the event loop: back to the thread pool", skill_id, took * 1000
            )
            self._paces[skill_id].fast_calls = 0
        return outcome

    def try_inline(
        self,
        invoke: runner_service_pb2.Invoke,
        sink: Sink | None,
        max_result_bytes: int,
    ) -> runner_service_pb2.InvokeResult | None:
        """The result of an invocation that can run on the event loop at once, or None.

        That is a synchronous skill that has proven fast, with time left and a free slot: it
        runs right here, with no task, timer or thread of its own (each of which costs about
        as much as such a skill). Anything else goes through :meth:`execute`.
        """
        skill = self._skills.get(invoke.skill_id)
        if skill is None or skill.is_async or self._slots.locked():
            return None
        if not self.runs_inline(skill.manifest.id):
            return None
        time_left = _time_left(invoke)
        if time_left is not None and time_left <= 0:
            return None
        ctx = _context(invoke, time_left, sink)
        args, kwargs = skill.plan.arguments(struct_to_dict(invoke.payload), ctx)
        started = time.monotonic()
        outcome = self._call_inline(skill, args, kwargs)
        return self._result(invoke, outcome, time.monotonic() - started, max_result_bytes)

    def runs_inline(self, skill_id: str) -> bool:
        """Whether the next call of ``skill_id`` runs on the event loop."""
        pace = self._paces.get(skill_id)
        return (
            self._inline_under > 0 and pace is not None and pace.fast_calls >= FAST_CALLS_TO_INLINE
        )

    def _call_in_thread(
        self,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        retryable: bool,
        skill_id: str,
    ) -> tuple[Outcome, float]:
        """Calls a sync skill and encodes its output (off the loop when in a thread: a large
        output takes a while); the outcome, and the seconds the call and encoding took."""
        started = time.perf_counter()
        with self._busy_lock:
            self._busy_threads += 1
        try:
            try:
                result = function(*args, **kwargs)
            except (Exception, SystemExit) as error:
                outcome = _failure(error, retryable, skill_id)
            else:
                outcome = encode(result)
            return outcome, time.perf_counter() - started
        finally:
            with self._busy_lock:
                self._busy_threads -= 1

    @staticmethod
    def _result(
        invoke: runner_service_pb2.Invoke, outcome: Outcome, duration: float, max_result_bytes: int
    ) -> runner_service_pb2.InvokeResult:
        result = runner_service_pb2.InvokeResult(
            execution_id=invoke.execution_id,
            attempt=invoke.attempt,
            usage=execution_pb2.Usage(duration=seconds_to_duration(duration)),
        )
        if outcome.output is not None:
            size = outcome.output.ByteSize()
            if max_result_bytes > 0 and size > max_result_bytes:
                message = (
                    f"the output is {size} bytes; the server accepts at most {max_result_bytes}"
                )
                log.warning("%s (execution %s): %s", invoke.skill_id, invoke.execution_id, message)
                # A runner failure, not the skill's: the server fails the call with
                # RESOURCE_EXHAUSTED (RESULT_TOO_LARGE) rather than recording a skill error.
                result.error.CopyFrom(skill_error("RESULT_TOO_LARGE", message, runner_failure=True))
            else:
                result.output.CopyFrom(outcome.output)
        else:
            result.error.CopyFrom(outcome.error or skill_error("UNCAUGHT_EXCEPTION", "no outcome"))
        return result
