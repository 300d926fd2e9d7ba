"""The stream protocol against an in-process fake server: register, invoke, cancel, heartbeats,
limits, drain, reconnect and fatal refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from conftest import catalog_of
from google.protobuf import json_format
from skillos.runner.v1 import runner_service_pb2 as pb
from skillos.runner.v1 import runner_service_pb2_grpc

from skillos_runner import skill
from skillos_runner.connection import INSTANCE_ID, Backoff, FatalError, Runner, Settings
from skillos_runner.convert import dict_to_struct, seconds_to_duration
from skillos_runner.executor import Executor

TOKEN = "unit-test-token-0123456789"
WAIT = 5.0


class FakeSession:
    """One Attach stream as the fake server sees it; the test scripts what the server says."""

    def __init__(self, metadata: dict[str, str]) -> None:
        self.metadata = metadata
        self.received: asyncio.Queue[pb.AttachRequest | None] = asyncio.Queue()
        self.outgoing: asyncio.Queue[pb.AttachResponse | tuple[grpc.StatusCode, str] | None] = (
            asyncio.Queue()
        )

    def say(self, **message: Any) -> None:
        self.outgoing.put_nowait(pb.AttachResponse(**message))

    def end(self, code: grpc.StatusCode | None = None, details: str = "") -> None:
        self.outgoing.put_nowait((code, details) if code else None)

    async def next(self, kind: str | None = None) -> pb.AttachRequest:
        """The runner's next message (of ``kind``, skipping heartbeats unless asked for)."""
        while True:
            request = await asyncio.wait_for(self.received.get(), WAIT)
            assert request is not None, "the runner closed its side of the stream"
            if kind is None and request.HasField("heartbeat"):
                continue
            if kind is None or request.HasField(kind):
                return request

    async def closed(self) -> None:
        """Waits for the runner's half-close; any message but a heartbeat before it fails."""
        while True:
            request = await asyncio.wait_for(self.received.get(), WAIT)
            if request is None:
                return
            assert request.HasField("heartbeat"), request

    def register(
        self, heartbeat: float = 5.0, max_result_bytes: int = 1 << 20, **fields: Any
    ) -> None:
        self.say(
            registered=pb.Registered(
                runner_id="runner-1",
                tenant_id="default",
                heartbeat_interval=seconds_to_duration(heartbeat),
                heartbeat_timeout=seconds_to_duration(heartbeat * 3),
                max_message_bytes=max_result_bytes * 2 + 1024,
                max_result_bytes=max_result_bytes,
                protocol_version=1,
                **fields,
            )
        )


class FakeServer(runner_service_pb2_grpc.RunnerServiceServicer):
    def __init__(self) -> None:
        self.sessions: asyncio.Queue[FakeSession] = asyncio.Queue()

    async def Attach(
        self, request_iterator: AsyncIterator[pb.AttachRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.AttachResponse]:
        session = FakeSession(dict(context.invocation_metadata() or ()))
        await self.sessions.put(session)

        async def pump() -> None:
            async for request in request_iterator:
                await session.received.put(request)
            await session.received.put(None)
            session.end()  # like the real server: the runner's half-close ends the stream

        reader = asyncio.create_task(pump())
        try:
            while True:
                item = await session.outgoing.get()
                if item is None:
                    return
                if isinstance(item, tuple):
                    await context.abort(*item)
                yield item
        finally:
            reader.cancel()

    async def session(self) -> FakeSession:
        return await asyncio.wait_for(self.sessions.get(), WAIT)


@skill
def echo(payload, ctx):
    ctx.logger.info("echoing")
    return {"echo": payload}


@skill
async def wait(payload, ctx):
    await asyncio.sleep(payload.get("seconds", 10))
    return "waited"


@skill
def big(payload):
    return "x" * payload["size"]


Scenario = Callable[[FakeServer, Runner, "asyncio.Task[None]"], Awaitable[None]]


def run_scenario(
    scenario: Scenario, *, port: int | None = None, drain_timeout: float = 5.0
) -> None:
    async def main() -> None:
        server = grpc.aio.server()
        fake = FakeServer()
        runner_service_pb2_grpc.add_RunnerServiceServicer_to_server(fake, server)
        bound = server.add_insecure_port(f"127.0.0.1:{port or 0}")
        await server.start()
        catalog = catalog_of(echo, wait, big)
        executor = Executor(catalog.skills, concurrency=2)
        settings = Settings(
            server=f"127.0.0.1:{bound}",
            token=TOKEN,
            name="unit",
            version="9.9.9",
            concurrency=2,
            drain_timeout=drain_timeout,
        )
        runner = Runner(settings, catalog, executor)
        task = asyncio.create_task(runner.run())
        try:
            await scenario(fake, runner, task)
        finally:
            if not task.done():
                runner.stop("test over")
                runner.stop("test over")
                await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), WAIT)
            executor.close()
            await server.stop(None)

    asyncio.run(main())


def invoke_message(
    skill_id: str, payload: dict[str, Any], execution_id: str = "exec-1", attempt: int = 1
) -> pb.Invoke:
    return pb.Invoke(
        execution_id=execution_id,
        attempt=attempt,
        skill_id=skill_id,
        payload=dict_to_struct(payload),
        timeout=seconds_to_duration(10),
        principal=pb.Principal(subject="alice"),
        tenant_id="default",
    )


def test_register_invoke_result() -> None:
    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        first = await session.next()
        assert session.metadata["authorization"] == f"Bearer {TOKEN}"
        register = first.register
        assert (register.name, register.version, register.max_concurrency) == ("unit", "9.9.9", 2)
        assert register.protocol_version == 1 and register.instance_id == INSTANCE_ID
        assert sorted(skill.id for skill in register.skills) == [
            "local/big",
            "local/echo",
            "local/wait",
        ]

        session.register()
        session.say(invoke=invoke_message("local/echo", {"n": 1}))
        log = await session.next()
        assert log.log.message == "echoing" and log.log.execution_id == "exec-1"
        result = (await session.next()).result
        assert (result.execution_id, result.attempt) == ("exec-1", 1)
        assert json_format.MessageToDict(result.output) == {"echo": {"n": 1}}

    run_scenario(scenario)


def test_heartbeats_list_the_attempts_in_flight() -> None:
    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        await session.next("register")
        session.register(heartbeat=0.1)
        session.say(invoke=invoke_message("local/wait", {"seconds": 10}, "exec-9", 3))
        while True:
            beat = (await session.next("heartbeat")).heartbeat
            if beat.in_flight:
                break
        assert [(ref.execution_id, ref.attempt) for ref in beat.attempts] == [("exec-9", 3)]
        assert beat.send_time.seconds > 0

    run_scenario(scenario)


def test_a_cancelled_attempt_sends_no_result() -> None:
    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        await session.next("register")
        session.register()
        session.say(invoke=invoke_message("local/wait", {"seconds": 10}, "exec-c"))
        await asyncio.sleep(0.2)
        session.say(
            cancel=pb.Cancel(execution_id="exec-c", attempt=1, reason=pb.CANCEL_REASON_REQUESTED)
        )
        session.say(invoke=invoke_message("local/echo", {}, "exec-d"))
        result = (await session.next("result")).result
        assert result.execution_id == "exec-d"

    run_scenario(scenario)


def test_an_oversized_result_becomes_an_error() -> None:
    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        await session.next("register")
        session.register(max_result_bytes=1000)
        session.say(invoke=invoke_message("local/big", {"size": 5000}))
        result = (await session.next("result")).result
        assert result.error.code == "RESULT_TOO_LARGE"

    run_scenario(scenario)


def test_embed_requests_are_refused() -> None:
    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        await session.next("register")
        session.register()
        session.say(embed=pb.Embed(request_id="e1", texts=["hello"]))
        answer = (await session.next("embed_result")).embed_result
        assert answer.request_id == "e1" and answer.error

    run_scenario(scenario)


def test_stop_drains_in_flight_invocations_then_closes() -> None:
    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        await session.next("register")
        session.register()
        session.say(invoke=invoke_message("local/wait", {"seconds": 0.3}))
        await asyncio.sleep(0.1)
        runner.stop("SIGTERM")
        draining = (await session.next()).draining
        assert draining.reason == "SIGTERM"
        result = (await session.next()).result
        assert json_format.MessageToDict(result.output) == "waited"
        await session.closed()
        session.end()
        await asyncio.wait_for(task, WAIT)

    run_scenario(scenario)


def test_stop_abandons_invocations_after_the_drain_timeout() -> None:
    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        await session.next("register")
        session.register()
        session.say(invoke=invoke_message("local/wait", {"seconds": 30}))
        await asyncio.sleep(0.1)
        runner.stop("SIGTERM")
        await session.next("draining")
        await session.closed()
        session.end()
        await asyncio.wait_for(task, WAIT)

    run_scenario(scenario, drain_timeout=0.3)


def test_server_drain_then_shutdown_reconnects_and_registers_again() -> None:
    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        await session.next("register")
        session.register()
        session.say(invoke=invoke_message("local/wait", {"seconds": 0.2}))
        session.say(drain=pb.Drain(reason="server shutting down"))
        assert (await session.next("result")).result.output.string_value == "waited"
        session.end(grpc.StatusCode.UNAVAILABLE, "the server is shutting down")

        again = await fake.session()
        assert (await again.next("register")).register.instance_id == INSTANCE_ID
        assert not task.done()

    run_scenario(scenario)


def test_a_silent_server_is_left_and_reconnected() -> None:
    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        await session.next("register")
        session.register(heartbeat=0.1)  # heartbeat timeout 0.3 s, and the fake never beats
        again = await fake.session()
        await again.next("register")

    run_scenario(scenario)


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED]
)
def test_a_refused_token_is_fatal(code: grpc.StatusCode) -> None:
    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        session.end(code, "missing or unknown runner token")
        with pytest.raises(FatalError, match=code.name):
            await asyncio.wait_for(task, WAIT)
        assert fake.sessions.empty()

    run_scenario(scenario)


def test_an_unreachable_server_is_retried_until_it_appears() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> None:
        catalog = catalog_of(echo)
        executor = Executor(catalog.skills, concurrency=1)
        settings = Settings(
            server=f"127.0.0.1:{port}", token=TOKEN, name="unit", version="1", concurrency=1
        )
        runner = Runner(settings, catalog, executor)
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(1.0)  # a few refused connections
        assert not task.done()
        server = grpc.aio.server()
        fake = FakeServer()
        runner_service_pb2_grpc.add_RunnerServiceServicer_to_server(fake, server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        try:
            session = await asyncio.wait_for(fake.sessions.get(), 10)
            await session.next("register")
        finally:
            runner.stop("test over")
            await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), WAIT)
            executor.close()
            await server.stop(None)

    asyncio.run(main())


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    low = Backoff(rng=lambda: 0.0)
    high = Backoff(rng=lambda: 1.0)

    assert [high.next() for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert [low.next() for _ in range(3)] == [0.25, 0.5, 1]
    high.reset()
    assert high.next() == 0.5
