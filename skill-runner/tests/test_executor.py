"""Execution: ctx injection, deadlines, cancellation, error mapping and the result size limit."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from conftest import catalog_of
from google.protobuf import json_format
from skillos.runner.v1 import runner_service_pb2 as pb
from skillos.v1 import execution_pb2

from skillos_runner import Context, SkillError, skill
from skillos_runner.convert import dict_to_struct, seconds_to_duration
from skillos_runner.executor import Executor

T = TypeVar("T")
NO_LIMIT = 4 * 1024 * 1024


def run(coroutine: Awaitable[T]) -> T:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def invoke(
    skill_id: str,
    payload: dict[str, Any] | None = None,
    *,
    timeout: float | None = 5.0,
    attempt: int = 1,
) -> pb.Invoke:
    message = pb.Invoke(
        execution_id="exec-1",
        attempt=attempt,
        skill_id=skill_id,
        skill_version="1.0.0",
        payload=dict_to_struct(payload or {}),
        principal=pb.Principal(
            subject="alice", roles=["analyst"], attributes={"department": "ops"}
        ),
        tenant_id="acme",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        step_key="run-1:poll[2].check",
    )
    if timeout is not None:
        message.timeout.CopyFrom(seconds_to_duration(timeout))
    return message


def execute(
    *functions: Callable[..., Any],
    request: pb.Invoke,
    sink: Callable[[pb.AttachRequest], None] | None = None,
    max_result_bytes: int = NO_LIMIT,
    **overrides: Any,
) -> pb.InvokeResult:
    executor = Executor(catalog_of(*functions, **overrides).skills, concurrency=4)
    try:
        return run(executor.execute(request, sink, max_result_bytes))
    finally:
        executor.close()


def output_of(result: pb.InvokeResult) -> Any:
    assert result.WhichOneof("outcome") == "output", result
    return json_format.MessageToDict(result.output)


def test_payload_and_ctx_reach_the_skill() -> None:
    seen: dict[str, Any] = {}

    @skill
    def capture(payload, ctx):
        seen["payload"] = payload
        seen["ctx"] = ctx
        return {"ok": True}

    before = dt.datetime.now(dt.timezone.utc)
    result = execute(
        capture, request=invoke("local/capture", {"n": 5, "x": 1.5, "items": [1, 2]}, attempt=2)
    )

    assert output_of(result) == {"ok": True}
    assert result.execution_id == "exec-1" and result.attempt == 2
    assert result.usage.HasField("duration")
    assert seen["payload"] == {"n": 5, "x": 1.5, "items": [1, 2]}
    assert isinstance(seen["payload"]["n"], int)
    ctx: Context = seen["ctx"]
    assert (ctx.execution_id, ctx.attempt, ctx.skill_id) == ("exec-1", 2, "local/capture")
    assert (ctx.principal, ctx.tenant, ctx.roles) == ("alice", "acme", ("analyst",))
    assert ctx.attributes == {"department": "ops"}
    assert ctx.traceparent.startswith("00-0af7")
    assert ctx.step_key == "run-1:poll[2].check"
    assert ctx.deadline is not None
    assert before + dt.timedelta(seconds=4) < ctx.deadline < before + dt.timedelta(seconds=6)
    assert not ctx.cancelled


def test_a_skill_without_ctx_gets_only_the_payload() -> None:
    @skill
    def add(numbers):
        return sum(numbers["values"])

    assert output_of(execute(add, request=invoke("local/add", {"values": [1, 2, 3]}))) == 6


def test_returning_nothing_gives_json_null() -> None:
    @skill
    def nothing(payload):
        return None

    result = execute(nothing, request=invoke("local/nothing"))

    assert result.HasField("output") and result.output.WhichOneof("kind") == "null_value"


def test_logs_and_progress_are_forwarded() -> None:
    sent: list[pb.AttachRequest] = []

    @skill
    def chatty(payload, ctx):
        ctx.logger.info("working on %s", payload["item"])
        ctx.logger.debug("not forwarded at the default level")
        ctx.progress("half way", percent=50)
        ctx.progress("unknown")
        ctx.logger.error("careful")
        return "done"

    execute(chatty, request=invoke("local/chatty", {"item": "x"}), sink=sent.append)

    logs = [request.log for request in sent if request.HasField("log")]
    assert [(entry.message, entry.level) for entry in logs] == [
        ("working on x", execution_pb2.LOG_LEVEL_INFO),
        ("careful", execution_pb2.LOG_LEVEL_ERROR),
    ]
    assert all(entry.execution_id == "exec-1" and entry.attempt == 1 for entry in logs)
    assert logs[0].time.seconds > 0
    progress = [request.progress for request in sent if request.HasField("progress")]
    assert [(p.message, p.HasField("percent")) for p in progress] == [
        ("half way", True),
        ("unknown", False),
    ]
    assert progress[0].percent == 50


def test_skill_log_lines_also_reach_the_runner_log(caplog: pytest.LogCaptureFixture) -> None:
    @skill
    def noisy(payload, ctx):
        ctx.logger.warning("visible locally")

    with caplog.at_level(logging.INFO):
        execute(noisy, request=invoke("local/noisy"), sink=lambda request: None)

    assert any(record.getMessage() == "visible locally" for record in caplog.records)


def test_async_skills_run_on_the_loop() -> None:
    @skill
    async def later(payload, ctx):
        await asyncio.sleep(0.01)
        ctx.progress("slept")
        return {"thread": threading.current_thread().name}

    result = execute(later, request=invoke("local/later"))

    assert output_of(result) == {"thread": "MainThread"}


def test_sync_skills_run_off_the_loop() -> None:
    @skill
    def where(payload):
        return threading.current_thread().name

    assert output_of(execute(where, request=invoke("local/where"))).startswith("skill")


@pytest.mark.parametrize(
    "error", [ValueError("amount: must be at least 0"), TypeError("bad type"), KeyError("amount")]
)
def test_input_errors_are_permanent(error: Exception) -> None:
    @skill(retryable=True)
    def fails(payload):
        raise error

    result = execute(fails, request=invoke("local/fails"))

    assert result.error.error_class == execution_pb2.ERROR_CLASS_PERMANENT
    assert result.error.code == type(error).__name__
    assert result.error.message == str(error)
    assert not result.error.runner_failure


@pytest.mark.parametrize(
    ("retryable", "expected"),
    [
        (True, execution_pb2.ERROR_CLASS_RETRYABLE),
        (False, execution_pb2.ERROR_CLASS_PERMANENT),
    ],
)
def test_other_errors_follow_the_manifest(retryable: bool, expected: int) -> None:
    @skill(retryable=retryable)
    def flaky(payload):
        raise ConnectionError("upstream unavailable")

    result = execute(flaky, request=invoke("local/flaky"))

    assert (result.error.error_class, result.error.code) == (expected, "ConnectionError")
    assert result.error.message == "upstream unavailable"


def test_skill_error_sets_its_own_code_and_class() -> None:
    @skill
    async def custom(payload):
        raise SkillError("invalid_currency", "XYZ is not supported", retryable=True)

    result = execute(custom, request=invoke("local/custom"))

    assert result.error.code == "invalid_currency"
    assert result.error.message == "XYZ is not supported"
    assert result.error.error_class == execution_pb2.ERROR_CLASS_RETRYABLE


@pytest.mark.parametrize("asynchronous", [False, True])
def test_sys_exit_in_a_skill_does_not_stop_the_runner(asynchronous: bool) -> None:
    if asynchronous:

        @skill
        async def leave(payload):
            sys.exit(3)
    else:

        @skill
        def leave(payload):
            sys.exit(3)

    result = execute(leave, request=invoke("local/leave"))

    assert result.error.code == "SystemExit"


def test_output_must_be_json() -> None:
    @skill
    def odd(payload):
        return {"when": dt.date(2026, 1, 1)}

    result = execute(odd, request=invoke("local/odd"))

    assert result.error.code == "INVALID_OUTPUT"
    assert "date is not JSON serializable" in result.error.message


def test_nan_is_not_json() -> None:
    @skill
    def nan(payload):
        return float("nan")

    assert execute(nan, request=invoke("local/nan")).error.code == "INVALID_OUTPUT"


def test_an_output_over_the_limit_becomes_result_too_large() -> None:
    @skill
    def big(payload):
        return "x" * payload["size"]

    small = execute(big, request=invoke("local/big", {"size": 100}), max_result_bytes=1000)
    large = execute(big, request=invoke("local/big", {"size": 2000}), max_result_bytes=1000)

    assert output_of(small) == "x" * 100
    assert large.error.code == "RESULT_TOO_LARGE"
    assert large.error.runner_failure, (
        "an oversized result is the runner's failure, not the skill's"
    )
    assert large.error.error_class == execution_pb2.ERROR_CLASS_PERMANENT
    assert "at most 1000" in large.error.message
    assert large.ByteSize() < 1000


def test_an_unknown_skill_is_a_runner_failure() -> None:
    @skill
    def known(payload):
        return 1

    result = execute(known, request=invoke("local/unknown"))

    assert result.error.code == "SKILL_NOT_FOUND" and result.error.runner_failure


def test_a_sync_skill_past_its_deadline_times_out_and_sees_cancelled() -> None:
    release = threading.Event()
    observed: list[bool] = []
    sent: list[pb.AttachRequest] = []

    @skill
    def slow(payload, ctx):
        release.wait(5)
        observed.append(ctx.cancelled)
        ctx.logger.warning("too late")
        return "late"

    started = time.monotonic()
    result = execute(
        slow, request=invoke("local/slow", timeout=0.2), sink=sent.append, retryable=True
    )
    elapsed = time.monotonic() - started
    release.set()
    time.sleep(0.1)

    assert result.error.code == "DEADLINE_EXCEEDED"
    assert result.error.error_class == execution_pb2.ERROR_CLASS_RETRYABLE
    assert elapsed < 2
    assert observed == [True]
    assert sent == []


def test_an_async_skill_past_its_deadline_is_cancelled() -> None:
    cancelled = asyncio.Event()

    @skill
    async def slow(payload):
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    result = execute(slow, request=invoke("local/slow", timeout=0.1))

    assert result.error.code == "DEADLINE_EXCEEDED"
    assert result.error.error_class == execution_pb2.ERROR_CLASS_PERMANENT
    assert cancelled.is_set()


def test_a_deadline_from_the_timestamp_alone_is_honoured() -> None:
    @skill
    async def slow(payload):
        await asyncio.sleep(10)

    request = invoke("local/slow", timeout=None)
    request.deadline.FromDatetime(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=0.1))

    assert execute(slow, request=request).error.code == "DEADLINE_EXCEEDED"


def test_cancellation_stops_the_skill_and_sends_nothing_more() -> None:
    sent: list[pb.AttachRequest] = []
    started = threading.Event()
    release = threading.Event()

    @skill
    def blocking(payload, ctx):
        started.set()
        release.wait(5)
        ctx.progress("after cancel")
        return 1

    async def scenario() -> None:
        executor = Executor(catalog_of(blocking).skills, concurrency=1)
        task = asyncio.create_task(
            executor.execute(invoke("local/blocking"), sent.append, NO_LIMIT)
        )
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        await asyncio.sleep(0.1)
        executor.close()

    run(scenario())

    assert sent == []


def test_at_most_concurrency_invocations_run_at_once() -> None:
    running = 0
    peak = 0

    @skill
    async def busy(payload):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        return payload["i"]

    async def scenario() -> list[pb.InvokeResult]:
        executor = Executor(catalog_of(busy).skills, concurrency=2)
        try:
            return await asyncio.gather(
                *(
                    executor.execute(invoke("local/busy", {"i": i}), None, NO_LIMIT)
                    for i in range(6)
                )
            )
        finally:
            executor.close()

    results = run(scenario())

    assert [output_of(result) for result in results] == [0, 1, 2, 3, 4, 5]
    assert peak == 2


def test_a_sync_skill_that_proves_fast_runs_on_the_loop_until_a_call_is_slow() -> None:
    from skillos_runner.executor import FAST_CALLS_TO_INLINE

    threads: list[str] = []
    slow = {"now": False}

    @skill
    def quick(payload):
        threads.append(threading.current_thread().name)
        if slow["now"]:
            time.sleep(0.06)
        return {"ok": True}

    async def scenario() -> None:
        executor = Executor(catalog_of(quick).skills, concurrency=4, inline_under=0.005)
        try:
            loop_thread = threading.current_thread().name
            for _ in range(FAST_CALLS_TO_INLINE):
                assert not executor.runs_inline("local/quick")
                result = await executor.execute(invoke("local/quick"), None, NO_LIMIT)
                assert output_of(result) == {"ok": True}
            assert all(name != loop_thread for name in threads), "proving runs are in threads"
            assert executor.runs_inline("local/quick")
            await executor.execute(invoke("local/quick"), None, NO_LIMIT)
            assert threads[-1] == loop_thread, "a proven fast skill runs on the loop"

            slow["now"] = True
            await executor.execute(invoke("local/quick"), None, NO_LIMIT)
            assert threads[-1] == loop_thread
            assert not executor.runs_inline("local/quick"), "one slow call sends it back to threads"
            slow["now"] = False
            await executor.execute(invoke("local/quick"), None, NO_LIMIT)
            assert threads[-1] != loop_thread
        finally:
            executor.close()

    run(scenario())


def test_inline_under_zero_keeps_every_sync_skill_in_threads() -> None:
    from skillos_runner.executor import FAST_CALLS_TO_INLINE

    threads: list[str] = []

    @skill
    def quick(payload):
        threads.append(threading.current_thread().name)
        return None

    async def scenario() -> None:
        executor = Executor(catalog_of(quick).skills, concurrency=4, inline_under=0)
        try:
            for _ in range(FAST_CALLS_TO_INLINE + 5):
                await executor.execute(invoke("local/quick"), None, NO_LIMIT)
            assert not executor.runs_inline("local/quick")
            assert threading.current_thread().name not in threads
        finally:
            executor.close()

    run(scenario())
