"""The runner's side of ``RunnerService.Attach``: register, serve invocations, stay attached.

One :class:`_Session` is one stream. Everything the runner sends goes through a single
``asyncio.Queue`` that feeds the request iterator, so there is exactly one writer per stream
however many invocations, heartbeats and skill threads produce messages. The :class:`Runner`
opens sessions until it is stopped: a stream that ends for a transient reason (server restart,
network, heartbeat timeout) is reopened with exponential backoff and jitter, and the runner
registers again. A refusal that retrying cannot fix (bad token, no allowed skill, protocol
mismatch) is a :class:`FatalError`.

A runner with an :class:`~skillos_runner.embedding.Embedder` announces it in ``register`` and
answers the server's ``embed`` messages. The model runs in one thread of its own, one call at a
time, so the event loop (and with it heartbeats and invocations) never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
from skillos.runner.v1 import runner_service_pb2 as pb
from skillos.runner.v1 import runner_service_pb2_grpc

from .convert import duration_to_seconds, timestamp
from .discovery import Catalog
from .embedding import Embedder, Kind
from .executor import Executor, skill_error
from .reload import Watch

log = logging.getLogger(__name__)

#: Made once per process and kept across reconnections, so the server's logs and metrics can
#: tell one runner process from another even though each attachment gets a new runner id.
INSTANCE_ID = str(uuid.uuid4())
PROTOCOL_VERSION = 1
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
#: How long a stopping runner waits for its in-flight invocations.
DRAIN_TIMEOUT = 30.0
#: How long to wait for the server to end the stream after the runner closed its side.
CLOSE_TIMEOUT = 5.0
#: How long to wait for ``registered`` after opening the stream.
REGISTER_TIMEOUT = 30.0
#: Used until the server announces its own values in ``registered``.
DEFAULT_HEARTBEAT_INTERVAL = 5.0
DEFAULT_HEARTBEAT_TIMEOUT = 15.0
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024

#: Refusals that come back identically on every attempt: retrying them would only hide the
#: problem (a wrong token, a token that allows none of the skills, a protocol mismatch).
FATAL_CODES = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)

#: Keepalive pings find a dead connection (a NAT that dropped it, a crashed host) long before
#: TCP would. Message sizes are not capped by gRPC: the protocol's own limit, announced in
#: ``registered``, is enforced on every message instead, and a capped receive would let one large
#: payload end the whole stream.
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
)

AttemptKey = tuple[str, int]


class FatalError(RuntimeError):
    """The runner cannot serve and retrying will not help."""


@dataclass(frozen=True)
class Settings:
    """What the runner needs to attach."""

    server: str
    token: str
    name: str
    version: str
    concurrency: int
    labels: Mapping[str, str] = field(default_factory=dict)
    drain_timeout: float = DRAIN_TIMEOUT


class Backoff:
    """Exponential backoff with jitter: each delay is drawn from [d/2, d], d doubling to a cap.

    The jitter keeps a fleet of runners from reconnecting in lockstep after a server restart.
    """

    def __init__(
        self,
        first: float = FIRST_BACKOFF,
        maximum: float = MAX_BACKOFF,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._first = first
        self._maximum = maximum
        self._rng = rng
        self._current = first

    def next(self) -> float:
        delay = self._current
        self._current = min(self._current * 2, self._maximum)
        return delay * (0.5 + self._rng() / 2)

    def reset(self) -> None:
        self._current = self._first


class Runner:
    """Keeps the runner attached to the server until :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        executor: Executor,
        embedder: Embedder | None = None,
        watch: Watch | None = None,
    ) -> None:
        self.settings = settings
        self.executor = executor
        self.embedder = embedder
        self.watch = watch
        self.embed_pool: ThreadPoolExecutor | None = None
        self.stopping = asyncio.Event()
        self.forced = asyncio.Event()
        self.stop_reason = ""
        self._manifests = catalog.manifests()
        #: Set when the skills changed on disk: the next stream registers the new set.
        self._rolled = asyncio.Event()
        #: Streams that finish their calls after a newer one took over.
        self._retiring: set[asyncio.Task[None]] = set()

    def stop(self, reason: str) -> None:
        """First call: drain and leave. Second call: stop waiting for in-flight invocations."""
        if self.stopping.is_set():
            log.warning("%s again: abandoning in-flight invocations", reason)
            self.forced.set()
            return
        log.info("%s: draining", reason)
        self.stop_reason = reason
        self.stopping.set()

    def register_message(self) -> pb.Register:
        embedding = None
        if self.embedder is not None:
            embedding = pb.EmbeddingProvider(
                model=self.embedder.model,
                dimension=self.embedder.dimension,
                max_batch_size=self.embedder.max_batch_size,
            )
        return pb.Register(
            name=self.settings.name,
            version=self.settings.version,
            labels=dict(self.settings.labels),
            max_concurrency=self.settings.concurrency,
            skills=self._manifests,
            embedding=embedding,
            instance_id=INSTANCE_ID,
            protocol_version=PROTOCOL_VERSION,
        )

    async def run(self) -> None:
        """Attaches, and reattaches after transient failures, until stopped.

        Raises :class:`FatalError` when the server refuses the runner for good.
        """
        backoff = Backoff()
        if self.embedder is not None:
            self.embed_pool = ThreadPoolExecutor(1, thread_name_prefix="skillos-embed")
        watching = asyncio.create_task(self._watch()) if self.watch is not None else None
        try:
            while not self.stopping.is_set():
                # A new stream registers the latest set anyway: an earlier change is served.
                self._rolled.clear()
                session = _Session(self)
                running = asyncio.create_task(session.run())
                rolled = asyncio.create_task(self._rolled.wait())
                await asyncio.wait((running, rolled), return_when=asyncio.FIRST_COMPLETED)
                if not running.done():
                    # The skills changed: a new stream registers them at once, and this one
                    # finishes its calls and closes.
                    session.retire()
                    self._retiring.add(running)
                    running.add_done_callback(self._retired)
                    continue
                rolled.cancel()
                await running
                if self.stopping.is_set():
                    break
                if session.registered is not None:
                    backoff.reset()
                delay = backoff.next()
                log.info("reconnecting to %s in %.1f s", self.settings.server, delay)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), delay)
        finally:
            if watching is not None:
                watching.cancel()
            if self._retiring:
                await asyncio.wait(set(self._retiring), timeout=self.settings.drain_timeout)
            if self.embed_pool is not None:
                self.embed_pool.shutdown(wait=False, cancel_futures=True)
                self.embed_pool = None

    def _retired(self, task: asyncio.Task[None]) -> None:
        self._retiring.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a stream that was being replaced ended: %s", task.exception())

    async def _watch(self) -> None:
        """Registers the skills again whenever they change on disk."""
        watch = self.watch
        assert watch is not None
        while True:
            await asyncio.sleep(watch.interval)
            if not await asyncio.to_thread(watch.changed):
                continue
            try:
                catalog = watch.load()
            except Exception:
                log.exception("reloading the skills root failed; still serving the previous set")
                continue
            for problem in catalog.problems:
                log.warning("skipped %s", problem)
            if not catalog.skills and self.embedder is None:
                log.warning("no skill left to serve; still serving the previous set")
                continue
            self.executor.replace(catalog.skills)
            self._manifests = catalog.manifests()
            log.info(
                "skills changed on disk: registering %d skill(s) again: %s",
                len(catalog.skills),
                ", ".join(sorted(catalog.skills)),
            )
            self._rolled.set()


class _Session:
    """One ``Attach`` stream, from ``register`` until the stream ends."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._settings = runner.settings
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        #: The attempt running inline on the loop right now, if any.
        self._inline: AttemptKey | None = None
        self._outbox: asyncio.Queue[pb.AttachRequest | None] = asyncio.Queue()
        self._inflight: dict[AttemptKey, asyncio.Task[None]] = {}
        self._embeds: set[asyncio.Task[None]] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._closed = False
        self._server_draining = False
        #: When the last message from the server arrived (loop time), and whether the stream
        #: was left because the server fell silent.
        self._heard = 0.0
        self._silent = False
        self._reader: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        #: Set when a newer stream took over: this one drains and closes.
        self._retire = asyncio.Event()
        self.registered: pb.Registered | None = None
        self._max_message_bytes = DEFAULT_MAX_MESSAGE_BYTES
        self._max_result_bytes = 0

    async def run(self) -> None:
        metadata = (("authorization", f"Bearer {self._settings.token}"),)
        async with grpc.aio.insecure_channel(
            self._settings.server, options=CHANNEL_OPTIONS
        ) as channel:
            stub = runner_service_pb2_grpc.RunnerServiceStub(channel)
            self._outbox.put_nowait(pb.AttachRequest(register=self._runner.register_message()))
            call = stub.Attach(self._requests(), metadata=metadata)
            reader = asyncio.create_task(self._read(call))
            stopping = asyncio.create_task(self._runner.stopping.wait())
            retired = asyncio.create_task(self._retire.wait())
            try:
                await asyncio.wait((reader, stopping, retired), return_when=asyncio.FIRST_COMPLETED)
                if not reader.done():
                    await self._leave(reader)
                if reader.done() and not reader.cancelled():
                    reader.result()
            finally:
                self._closed = True
                tasks = (
                    stopping,
                    retired,
                    reader,
                    self._heartbeat,
                    *self._inflight.values(),
                    *self._embeds,
                )
                for task in tasks:
                    if task is not None:
                        task.cancel()
                call.cancel()

    def retire(self) -> None:
        """A newer stream took over: finish the calls in flight, then close."""
        self._retire.set()

    async def _requests(self) -> AsyncIterator[pb.AttachRequest]:
        while True:
            request = await self._outbox.get()
            if request is None:
                return
            yield request

    def _send(self, request: pb.AttachRequest) -> None:
        """Queues a message, never one larger than the stream's limit (it would end the stream)."""
        if self._closed:
            return
        size = request.ByteSize()
        if size > self._max_message_bytes:
            if request.HasField("embed_result"):
                limit = self._max_message_bytes
                message = f"the embeddings message is {size} bytes; the stream allows {limit}"
                log.warning("embed %s: %s", request.embed_result.request_id, message)
                request = pb.AttachRequest(
                    embed_result=pb.EmbedResult(
                        request_id=request.embed_result.request_id, error=message
                    )
                )
            elif request.HasField("result"):
                limit = self._max_message_bytes
                message = f"the result message is {size} bytes; the stream allows {limit}"
                log.warning("execution %s: %s", request.result.execution_id, message)
                request = pb.AttachRequest(
                    result=pb.InvokeResult(
                        execution_id=request.result.execution_id,
                        attempt=request.result.attempt,
                        error=skill_error("RESULT_TOO_LARGE", message),
                        usage=request.result.usage,
                    )
                )
            else:
                log.warning(
                    "dropping a %s message of %d bytes: over the stream's limit",
                    request.WhichOneof("message"),
                    size,
                )
                return
        self._outbox.put_nowait(request)

    async def _read(self, call: grpc.aio.StreamStreamCall) -> None:
        """Handles the server's messages until the stream ends or the server falls silent.

        Silence is watched by one timer task for the whole stream rather than a timeout around
        every read: ``asyncio.wait_for`` wraps each read in a task of its own, which costs more
        than handling a small message does.
        """
        self._heard = self._loop.time()
        self._reader = asyncio.current_task()
        self._rewatch()
        try:
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    if not self._runner.stopping.is_set():
                        log.warning("the server closed the stream")
                    return
                self._heard = self._loop.time()
                self._handle(response)
        except asyncio.CancelledError:
            if not self._silent:
                raise
        except grpc.aio.AioRpcError as error:
            self._stream_failed(error)
        finally:
            if self._watchdog is not None:
                self._watchdog.cancel()

    def _rewatch(self) -> None:
        """(Re)starts the silence watch, as the limit changes once the server has registered us."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog = asyncio.create_task(self._watch_silence(self._reader))

    async def _watch_silence(self, reader: asyncio.Task[None] | None) -> None:
        """Stops ``reader`` once nothing has come from the server for the silence limit."""
        while True:
            silence = self._silence_limit()
            quiet = self._loop.time() - self._heard
            if quiet >= silence:
                log.warning("no message from the server for %.0f s; reconnecting", silence)
                self._silent = True
                if reader is not None:
                    reader.cancel()
                return
            await asyncio.sleep(silence - quiet)

    def _silence_limit(self) -> float:
        if self.registered is None:
            return REGISTER_TIMEOUT
        limit = duration_to_seconds(self.registered.heartbeat_timeout)
        return limit if limit > 0 else DEFAULT_HEARTBEAT_TIMEOUT

    def _stream_failed(self, error: grpc.aio.AioRpcError) -> None:
        code, details = error.code(), error.details()
        if code in FATAL_CODES:
            raise FatalError(f"the server refused the runner: {code.name}: {details}")
        if self._runner.stopping.is_set() and code is grpc.StatusCode.CANCELLED:
            return
        if self._server_draining and code is grpc.StatusCode.UNAVAILABLE:
            log.info("the server shut down (%s)", details)
        else:
            log.warning("the stream ended: %s: %s", code.name, details)

    def _handle(self, response: pb.AttachResponse) -> None:
        kind = response.WhichOneof("message")
        if kind == "registered":
            self._on_registered(response.registered)
        elif kind == "invoke":
            self._on_invoke(response.invoke)
        elif kind == "cancel":
            self._on_cancel(response.cancel)
        elif kind == "drain":
            self._server_draining = True
            log.info(
                "the server is draining (%s): finishing %d in-flight invocation(s)",
                response.drain.reason or "no reason given",
                len(self._inflight),
            )
        elif kind == "result_rejected":
            rejected = response.result_rejected
            log.warning(
                "the server rejected the result of execution %s attempt %d: %s %s",
                rejected.execution_id,
                rejected.attempt,
                pb.ResultRejectionReason.Name(rejected.reason),
                rejected.message,
            )
        elif kind == "embed":
            self._on_embed(response.embed)

    def _on_registered(self, registered: pb.Registered) -> None:
        if self.registered is not None:
            log.warning("ignoring a second `registered` message")
            return
        self.registered = registered
        if registered.max_message_bytes > 0:
            self._max_message_bytes = registered.max_message_bytes
        self._max_result_bytes = registered.max_result_bytes
        accepted = len(registered.accepted_skill_ids)
        log.info(
            "registered with %s as runner %s (tenant %s): %d skill(s) accepted, %d rejected",
            self._settings.server,
            registered.runner_id,
            registered.tenant_id,
            accepted,
            len(registered.rejected_skills),
        )
        for rejected in registered.rejected_skills:
            log.warning(
                "the server rejected skill %s: %s (%s)",
                rejected.skill_id,
                rejected.message,
                pb.SkillRejectionReason.Name(rejected.reason),
            )
        interval = duration_to_seconds(registered.heartbeat_interval)
        self._heartbeat = asyncio.create_task(
            self._heartbeats(interval if interval > 0 else DEFAULT_HEARTBEAT_INTERVAL)
        )
        self._rewatch()

    def _on_invoke(self, invoke: pb.Invoke) -> None:
        key = (invoke.execution_id, invoke.attempt)
        if key in self._inflight:
            log.warning("ignoring a repeated invoke of execution %s attempt %d", *key)
            return
        self._inline = key
        try:
            result = self._runner.executor.try_inline(
                invoke, self._sink_for(key), self._max_result_bytes
            )
        except Exception:
            log.exception("the runner failed to run %s", invoke.skill_id)
            result = self._runner_failure(invoke)
        finally:
            self._inline = None
        if result is not None:
            self._send(pb.AttachRequest(result=result))
            return
        self._inflight[key] = asyncio.create_task(self._invoke(invoke, key))

    def _on_cancel(self, cancel: pb.Cancel) -> None:
        task = self._inflight.pop((cancel.execution_id, cancel.attempt), None)
        if task is not None:
            log.info(
                "cancelling execution %s attempt %d (%s)",
                cancel.execution_id,
                cancel.attempt,
                pb.CancelReason.Name(cancel.reason),
            )
            task.cancel()

    def _on_embed(self, embed: pb.Embed) -> None:
        if self._runner.embedder is None or self._runner.embed_pool is None:
            refusal = pb.EmbedResult(
                request_id=embed.request_id, error="this runner offers no embeddings"
            )
            self._send(pb.AttachRequest(embed_result=refusal))
            return
        task = asyncio.create_task(self._embed(embed))
        self._embeds.add(task)
        task.add_done_callback(self._embeds.discard)

    async def _embed(self, embed: pb.Embed) -> None:
        """Computes the vectors in the embedding thread and sends them, or why there are none."""
        embedder, pool = self._runner.embedder, self._runner.embed_pool
        assert embedder is not None and pool is not None
        kind: Kind = "document" if embed.kind == pb.EMBED_INPUT_KIND_DOCUMENT else "query"
        texts = list(embed.texts)
        try:
            vectors = await self._loop.run_in_executor(pool, embedder.embed, texts, kind)
        except asyncio.CancelledError:
            return
        except Exception as error:
            log.exception("embedding %d text(s) of request %s failed", len(texts), embed.request_id)
            result = pb.EmbedResult(
                request_id=embed.request_id, error=f"{type(error).__name__}: {error}"
            )
        else:
            batch = pb.EmbeddingBatch(embeddings=[pb.Embedding(values=v) for v in vectors])
            result = pb.EmbedResult(request_id=embed.request_id, embeddings=batch)
        self._send(pb.AttachRequest(embed_result=result))

    async def _invoke(self, invoke: pb.Invoke, key: AttemptKey) -> None:
        try:
            try:
                result = await self._runner.executor.execute(
                    invoke, self._sink_for(key), self._max_result_bytes
                )
            except asyncio.CancelledError:
                return
            except Exception:
                log.exception("the runner failed to run %s", invoke.skill_id)
                result = self._runner_failure(invoke)
            if self._inflight.get(key) is asyncio.current_task():
                self._send(pb.AttachRequest(result=result))
        finally:
            if self._inflight.get(key) is asyncio.current_task():
                del self._inflight[key]

    @staticmethod
    def _runner_failure(invoke: pb.Invoke) -> pb.InvokeResult:
        error = skill_error(
            "UNCAUGHT_EXCEPTION", "the runner failed to run the skill", runner_failure=True
        )
        return pb.InvokeResult(
            execution_id=invoke.execution_id, attempt=invoke.attempt, error=error
        )

    def _sink_for(self, key: AttemptKey) -> Callable[[pb.AttachRequest], None]:
        """Where an attempt's progress and logs go, while the attempt runs; callable from skill
        threads. On the loop's own thread (async skills, and sync ones running inline) a message
        is queued at once, so it goes out before the attempt's result."""

        def forward(request: pb.AttachRequest) -> None:
            if key in self._inflight or key == self._inline:
                self._send(request)

        def sink(request: pb.AttachRequest) -> None:
            if threading.get_ident() == self._loop_thread:
                forward(request)
                return
            # A closed loop means the runner is exiting and the stream is gone anyway.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(forward, request)

        return sink

    async def _heartbeats(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            attempts = [
                pb.AttemptRef(execution_id=execution, attempt=attempt)
                for execution, attempt in self._inflight
            ]
            beat = pb.RunnerHeartbeat(
                send_time=timestamp(), in_flight=len(attempts), attempts=attempts
            )
            self._send(pb.AttachRequest(heartbeat=beat))

    async def _leave(self, reader: asyncio.Task[None]) -> None:
        """Announces draining, lets in-flight invocations finish, then closes the stream.

        Waiting ends early when the stream ends anyway or the runner is stopped a second time.
        """
        if self.registered is None:
            return
        reason = self._runner.stop_reason or "reloading skills: a new stream took over"
        self._send(pb.AttachRequest(draining=pb.Draining(reason=reason)))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.drain_timeout
        forced = asyncio.create_task(self._runner.forced.wait())
        try:
            if self._inflight:
                log.info("waiting for %d in-flight invocation(s)", len(self._inflight))
            while self._inflight and not reader.done() and not forced.done():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                waiters = {*self._inflight.values(), reader, forced}
                await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            if self._inflight and not reader.done():
                log.warning("abandoning %d in-flight invocation(s)", len(self._inflight))
                for task in list(self._inflight.values()):
                    task.cancel()
            self._outbox.put_nowait(None)
            if not reader.done() and not forced.done():
                await asyncio.wait(
                    {reader, forced}, timeout=CLOSE_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
                )
                if not reader.done() and not forced.done():
                    log.warning("the server did not close the stream within %.0f s", CLOSE_TIMEOUT)
        finally:
            forced.cancel()
