"""The stream protocol against an in-process fake server: register, invoke, cancel, heartbeats,
limits, drain, reconnect, fatal refusals and embeddings."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc
import numpy as np
import pytest
from conftest import FakeEmbedder, RootBuilder, catalog_of, real_embedder
from google.protobuf import json_format
from skillos.runner.v1 import runner_service_pb2 as pb
from skillos.runner.v1 import runner_service_pb2_grpc

from skillos_runner import skill
from skillos_runner.connection import INSTANCE_ID, Backoff, FatalError, Runner, Settings
from skillos_runner.convert import dict_to_struct, seconds_to_duration
from skillos_runner.embedding import Embedder
from skillos_runner.executor import FAST_CALLS_TO_INLINE, Executor
from skillos_runner.reload import Watch

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
    scenario: Scenario,
    *,
    port: int | None = None,
    drain_timeout: float = 5.0,
    embedder: Embedder | None = None,
    skills: Sequence[Callable[..., Any]] = (echo, wait, big),
    inline_under: float = 0.001,
    watch: Watch | None = None,
) -> None:
    async def main() -> None:
        server = grpc.aio.server()
        fake = FakeServer()
        runner_service_pb2_grpc.add_RunnerServiceServicer_to_server(fake, server)
        bound = server.add_insecure_port(f"127.0.0.1:{port or 0}")
        await server.start()
        catalog = watch.load() if watch is not None else catalog_of(*skills)
        executor = Executor(catalog.skills, concurrency=2, inline_under=inline_under)
        settings = Settings(
            server=f"127.0.0.1:{bound}",
            token=TOKEN,
            name="unit",
            version="9.9.9",
            concurrency=2,
            drain_timeout=drain_timeout,
        )
        runner = Runner(settings, catalog, executor, embedder, watch)
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


def test_a_sync_skill_running_inline_sends_its_logs_before_its_result() -> None:
    """After enough fast calls a sync skill runs on the event loop; its log lines still reach
    the server, each before the result of its own attempt."""

    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        await session.next("register")
        session.register()
        calls = FAST_CALLS_TO_INLINE + 8
        for n in range(calls):
            session.say(invoke=invoke_message("local/echo", {"n": n}, execution_id=f"exec-{n}"))
            log = await session.next()
            assert log.log.message == "echoing" and log.log.execution_id == f"exec-{n}", n
            result = (await session.next()).result
            assert result.execution_id == f"exec-{n}"
            assert json_format.MessageToDict(result.output) == {"echo": {"n": n}}
        assert runner.executor.runs_inline("local/echo")

    # Every call counts as fast however loaded the machine is.
    run_scenario(scenario, inline_under=10.0)


def test_changed_skills_are_registered_on_a_new_stream_and_the_old_one_drains(
    root: RootBuilder,
) -> None:
    """With a watch, a skill added and an implementation changed on disk are served without a
    restart: a new stream registers the new set, and the old one finishes its call first."""
    code = root.write(
        "implementations/a/b.py",
        "import asyncio\n\nasync def run(payload):\n"
        "    await asyncio.sleep(payload.get('seconds', 0))\n    return {'version': 1}\n",
    )
    root.yaml_skill("a/b", "implementations.a.b:run")
    watch = Watch(root.root, [], interval=0.05)

    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        old = await fake.session()
        assert [s.id for s in (await old.next("register")).register.skills] == ["a/b"]
        old.register()
        # A call in flight on the old stream when the change lands.
        old.say(invoke=invoke_message("a/b", {"seconds": 0.5}))
        await asyncio.sleep(0.1)
        code.write_text("def run(payload):\n    return {'version': 2}\n")
        stat = code.stat()
        os.utime(code, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        root.yaml_skill("a/c", "implementations.a.b:run")

        # The first stream that registers both skills (a slow machine may see the writes as two
        # changes, and open a stream for each).
        while True:
            new = await fake.session()
            registered = (await new.next("register")).register
            new.register()
            if sorted(s.id for s in registered.skills) == ["a/b", "a/c"]:
                break
        assert (await old.next("draining")).draining.reason.startswith("reloading skills")
        finished = (await old.next("result")).result
        assert json_format.MessageToDict(finished.output) == {"version": 1}
        await old.closed()

        new.say(invoke=invoke_message("a/c", {}, execution_id="exec-2"))
        result = (await new.next("result")).result
        assert json_format.MessageToDict(result.output) == {"version": 2}
        assert not task.done()

    run_scenario(scenario, watch=watch)


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
        register = (await session.next("register")).register
        assert not register.HasField("embedding")
        session.register()
        session.say(embed=pb.Embed(request_id="e1", texts=["hello"]))
        answer = (await session.next("embed_result")).embed_result
        assert answer.request_id == "e1" and answer.error == "this runner offers no embeddings"

    run_scenario(scenario)


def test_an_embedding_provider_is_registered_and_serves_embed(
    fake_embedder: FakeEmbedder,
) -> None:
    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        register = (await session.next("register")).register
        assert register.embedding == pb.EmbeddingProvider(
            model="fake-embedder", dimension=4, max_batch_size=8
        )
        session.register()
        session.say(
            embed=pb.Embed(request_id="e1", texts=["ab", "abc"], kind=pb.EMBED_INPUT_KIND_DOCUMENT)
        )
        answer = (await session.next("embed_result")).embed_result
        assert answer.request_id == "e1" and answer.WhichOneof("outcome") == "embeddings"
        assert [list(e.values) for e in answer.embeddings.embeddings] == [
            [0, 0, 1, 0],
            [0, 0, 0, 1],
        ]
        for request_id, kind in [("e2", pb.EMBED_INPUT_KIND_QUERY), ("e3", None)]:
            session.say(embed=pb.Embed(request_id=request_id, texts=["a"], kind=kind))
            assert (await session.next("embed_result")).embed_result.request_id == request_id
        session.say(embed=pb.Embed(request_id="e4"))
        empty = (await session.next("embed_result")).embed_result
        assert empty.HasField("embeddings") and not empty.embeddings.embeddings

        calls = fake_embedder.calls
        assert [kind for _, kind, _ in calls] == ["document", "query", "query"]
        assert all(thread.startswith("skillos-embed") for _, _, thread in calls)

    run_scenario(scenario, embedder=fake_embedder)


def test_embedding_runs_off_the_event_loop(fake_embedder: FakeEmbedder) -> None:
    fake_embedder.gate = threading.Event()

    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        await session.next("register")
        session.register(heartbeat=0.1)
        session.say(embed=pb.Embed(request_id="slow", texts=["a"]))
        session.say(embed=pb.Embed(request_id="queued", texts=["ab"]))
        session.say(invoke=invoke_message("local/echo", {"n": 1}))
        # The invocation and the heartbeats go on while the model is busy.
        assert (await session.next("result")).result.execution_id == "exec-1"
        await session.next("heartbeat")
        assert len(fake_embedder.calls) == 1  # one model call at a time
        fake_embedder.gate.set()
        first = (await session.next("embed_result")).embed_result
        second = (await session.next("embed_result")).embed_result
        assert (first.request_id, second.request_id) == ("slow", "queued")

    try:
        run_scenario(scenario, embedder=fake_embedder)
    finally:
        fake_embedder.gate.set()


def test_a_failing_model_answers_embed_with_an_error(fake_embedder: FakeEmbedder) -> None:
    fake_embedder.fail = RuntimeError("model exploded")

    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        await session.next("register")
        session.register()
        session.say(embed=pb.Embed(request_id="e1", texts=["a"]))
        answer = (await session.next("embed_result")).embed_result
        assert answer.request_id == "e1"
        assert answer.error == "RuntimeError: model exploded"

    run_scenario(scenario, embedder=fake_embedder)


def test_an_oversized_embed_result_becomes_an_error(fake_embedder: FakeEmbedder) -> None:
    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        await session.next("register")
        session.register(max_result_bytes=100)  # max_message_bytes 1224
        session.say(embed=pb.Embed(request_id="e1", texts=["a"] * 100))
        answer = (await session.next("embed_result")).embed_result
        assert answer.request_id == "e1" and "the stream allows 1224" in answer.error

    run_scenario(scenario, embedder=fake_embedder)


def test_a_runner_without_skills_offers_its_embeddings() -> None:
    embedder = real_embedder("e5")
    texts = ["Переведи 100 долларов в евро", "Convert 100 dollars to euros"]

    async def scenario(fake: FakeServer, runner: Runner, task: asyncio.Task[None]) -> None:
        session = await fake.session()
        register = (await session.next("register")).register
        assert not register.skills
        assert register.embedding == pb.EmbeddingProvider(
            model="multilingual-e5-small", dimension=384, max_batch_size=64
        )
        session.register()
        session.say(embed=pb.Embed(request_id="q1", texts=texts, kind=pb.EMBED_INPUT_KIND_QUERY))
        answer = (await session.next("embed_result")).embed_result
        vectors = np.array([list(e.values) for e in answer.embeddings.embeddings])
        assert vectors.shape == (2, 384)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(vectors, np.array(embedder.embed(texts)), atol=1e-6)

    run_scenario(scenario, embedder=embedder, skills=())


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
