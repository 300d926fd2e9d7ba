"""``skillos-runner``: command line, logging, signals and exit codes.

Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 1 when the runner cannot serve (no skill
found and no embeddings offered, embedding model missing, token refused), 2 for bad usage.

``skillos-runner embed ...`` is a separate command: the offline embedding server on stdin and
stdout (see :mod:`skillos_runner.embed_stdio`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .connection import FatalError, Runner, Settings
from .discovery import LOCAL_SKILLS_DIR, Catalog, discover
from .embedding import PROVIDERS, Embedder, EmbeddingUnavailable, load_embedder
from .executor import Executor
from .reload import Watch

log = logging.getLogger("skillos_runner")

DEFAULT_SERVER = "127.0.0.1:50051"
DEFAULT_CONCURRENCY = 8
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
NO_EMBEDDINGS = "none"
EMBEDDINGS = (*sorted(PROVIDERS), NO_EMBEDDINGS)
_HOST_PORT = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(\d{1,5})")
_GRPC_SCHEMES = ("dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:")


def _server_address(value: str) -> str:
    value = value.strip()
    if value.startswith(_GRPC_SCHEMES):
        return value
    match = _HOST_PORT.fullmatch(value)
    if not match or not 0 < int(match.group(1)) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:50051)")
    return value


def _concurrency(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return number


def _watch_interval(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not (seconds >= 0 and seconds < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number of seconds (0: off), not {value!r}")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="skillos-runner",
        description="Host the skills of a skills root and serve them to a SkillOS server.",
        epilog="Every option can also come from the environment variable named in its help. "
        "Prefer SKILLOS_RUNNER_TOKEN to --token: other local users can read the process list. "
        "`skillos-runner embed --model {e5,use}` serves embeddings over stdin/stdout instead "
        "(see `skillos-runner embed --help`).",
    )
    parser.add_argument(
        "--server",
        type=_server_address,
        default=env.get("SKILLOS_SERVER", DEFAULT_SERVER),
        metavar="HOST:PORT",
        help=f"address of the SkillOS server (SKILLOS_SERVER; default {DEFAULT_SERVER})",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=env.get("SKILLOS_ROOT"),
        metavar="DIR",
        help="skills root: metadata/ and implementations/ (SKILLOS_ROOT; required)",
    )
    parser.add_argument(
        "--token",
        default=env.get("SKILLOS_RUNNER_TOKEN"),
        help="runner token the server was configured with (SKILLOS_RUNNER_TOKEN; required)",
    )
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default=env.get("SKILLOS_RUNNER_CONCURRENCY", str(DEFAULT_CONCURRENCY)),
        metavar="N",
        help="most invocations run at once "
        f"(SKILLOS_RUNNER_CONCURRENCY; default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--inline-under-ms",
        type=float,
        default=float(env.get("SKILLOS_RUNNER_INLINE_UNDER_MS", "1")),
        metavar="MS",
        help="a synchronous skill whose last 32 calls each took less than this runs on the "
        "event loop instead of a thread; 0 keeps every one in threads "
        "(SKILLOS_RUNNER_INLINE_UNDER_MS; default 1)",
    )
    parser.add_argument(
        "--name",
        default=env.get("SKILLOS_RUNNER_NAME") or socket.gethostname(),
        help="runner name shown by ListRunners (SKILLOS_RUNNER_NAME; default the host name)",
    )
    parser.add_argument(
        "--module",
        type=Path,
        action="append",
        default=[Path(p) for p in env.get("SKILLOS_RUNNER_MODULES", "").split(os.pathsep) if p],
        metavar="PATH",
        help="a .py file or directory to scan for @skill functions, besides "
        f"<root>/{LOCAL_SKILLS_DIR}/; repeatable (SKILLOS_RUNNER_MODULES, separated by "
        f"{os.pathsep!r})",
    )
    parser.add_argument(
        "--watch",
        type=_watch_interval,
        default=env.get("SKILLOS_RUNNER_WATCH", "0"),
        metavar="SECONDS",
        help="look for changed skills (manifests, implementations/, skills_local/, --module "
        "paths) every SECONDS and serve the new set without a restart; 0 never looks "
        "(SKILLOS_RUNNER_WATCH; default 0; the server's local runner gets 1)",
    )
    parser.add_argument(
        "--embeddings",
        type=str.lower,
        choices=EMBEDDINGS,
        default=env.get("SKILLOS_RUNNER_EMBEDDINGS", NO_EMBEDDINGS).lower(),
        help="offer an embedding model to the server's routing: "
        + ", ".join(f"{name} ({cls.model})" for name, cls in sorted(PROVIDERS.items()))
        + f", or {NO_EMBEDDINGS} (SKILLOS_RUNNER_EMBEDDINGS; default {NO_EMBEDDINGS})",
    )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=env.get("SKILLOS_RUNNER_LOG_LEVEL", "INFO").upper(),
        help="log level on stderr (SKILLOS_RUNNER_LOG_LEVEL; default INFO)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parses and checks the options; bad usage exits with status 2 and a message."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.log_level not in LOG_LEVELS:
        parser.error(f"SKILLOS_RUNNER_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    if args.embeddings not in EMBEDDINGS:
        parser.error(f"SKILLOS_RUNNER_EMBEDDINGS must be one of {', '.join(EMBEDDINGS)}")
    if args.root is None:
        parser.error("the skills root is required: --root DIR or SKILLOS_ROOT")
    if not args.root.is_dir():
        parser.error(f"the skills root {args.root} is not a directory")
    if not args.token or not args.token.strip():
        parser.error("a runner token is required: SKILLOS_RUNNER_TOKEN or --token")
    for module in args.module:
        if not module.exists():
            parser.error(f"--module {module} does not exist")
    args.token = args.token.strip()
    return args


def configure_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def report(catalog: Catalog) -> None:
    for problem in catalog.problems:
        log.warning("skipped %s", problem)
    if catalog.skills:
        log.info(
            "serving %d skill(s) from %s: %s",
            len(catalog.skills),
            catalog.root,
            ", ".join(sorted(catalog.skills)),
        )


async def serve(
    settings: Settings,
    catalog: Catalog,
    executor: Executor,
    embedder: Embedder | None = None,
    watch: Watch | None = None,
) -> int:
    """Runs until SIGTERM/SIGINT (0) or a fatal refusal (1)."""
    runner = Runner(settings, catalog, executor, embedder, watch)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        # Not possible outside the main thread or on Windows; the default handlers stay then.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, runner.stop, signal.Signals(signum).name)
    try:
        await runner.run()
    except FatalError as error:
        log.error("%s", error)
        return 1
    log.info("stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["embed"]:
        from .embed_stdio import main as embed_main

        return embed_main(argv[1:])
    args = parse_args(argv)
    configure_logging(args.log_level)
    catalog = discover(args.root, args.module)
    report(catalog)
    if not catalog.skills and args.embeddings == NO_EMBEDDINGS:
        log.error("no skill to serve in %s", catalog.root)
        return 1
    embedder = None
    if args.embeddings != NO_EMBEDDINGS:
        try:
            embedder = load_embedder(args.embeddings)
        except EmbeddingUnavailable as error:
            log.error("%s", error)
            return 1
        if not catalog.skills:
            log.info("no skill in %s: offering only embeddings", catalog.root)
    settings = Settings(
        server=args.server,
        token=args.token,
        name=args.name,
        version=__version__,
        concurrency=args.concurrency,
    )
    executor = Executor(catalog.skills, args.concurrency, max(args.inline_under_ms, 0) / 1000)
    watch = Watch(args.root, args.module, args.watch) if args.watch > 0 else None
    try:
        code = asyncio.run(serve(settings, catalog, executor, embedder, watch))
    finally:
        executor.close()
    if executor.busy_threads:
        # Threads of skills that outlived their deadline cannot be stopped, and the interpreter
        # would wait for them at exit; the stream is closed, so leave without them.
        log.warning("exiting with %d skill thread(s) still running", executor.busy_threads)
        logging.shutdown()
        sys.stdout.flush()
        os._exit(code)
    return code
