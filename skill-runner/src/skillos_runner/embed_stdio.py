"""``skillos-runner embed``: an offline embedding server on stdin and stdout.

``skillos route`` starts it as a child process to embed requests and skill descriptions without
a running SkillOS server. The protocol is JSON lines in UTF-8, one object per line:

1. After the model is loaded, the server writes one line::

       {"model": "multilingual-e5-small", "dimension": 384, "max_batch_size": 64}

2. Then, for every line it reads, it writes exactly one line, in the order of the requests::

       <- {"id": 7, "kind": "query", "texts": ["convert 100 USD to EUR", "..."]}
       -> {"id": 7, "vectors": [[0.01234568,-0.0456789,...],[...]]}
       -> {"id": 7, "error": "texts must be a list of strings"}

   ``id`` is an integer or a string and is echoed. ``kind`` is ``query`` (the default) or
   ``document``. ``texts`` may hold any number of texts (larger lists than ``max_batch_size``
   are split internally) and may be empty. Vectors are L2-normalised, with 7 significant
   digits. A line that is not a JSON object with a valid ``id`` is answered with
   ``{"id": null, "error": "..."}``; the server keeps going either way.

3. At the end of stdin the server exits with status 0.

Nothing but protocol lines is written to stdout: logs (and anything the libraries print) go to
stderr. A model that cannot be loaded is reported on stderr with exit status 1, before any
line is written; bad usage exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from .embedding import (
    DEFAULT_PROVIDER,
    KINDS,
    PROVIDERS,
    Embedder,
    EmbeddingUnavailable,
    Kind,
    load_embedder,
)

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("skillos_runner.embed")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: Quiet by default: the parent may not read stderr, and a full pipe would block the server.
DEFAULT_LOG_LEVEL = "WARNING"


class BadRequest(ValueError):
    """A request line that cannot be served; ``request_id`` is echoed when it was readable."""

    def __init__(self, message: str, request_id: int | str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skillos-runner embed",
        description="Serve sentence embeddings over stdin/stdout as JSON lines (see the "
        "runner's README), fully offline.",
    )
    parser.add_argument(
        "--model",
        choices=sorted(PROVIDERS),
        default=DEFAULT_PROVIDER,
        help=f"embedding model: {', '.join(f'{n} ({c.model})' for n, c in PROVIDERS.items())}; "
        f"default {DEFAULT_PROVIDER}",
    )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=os.environ.get("SKILLOS_RUNNER_LOG_LEVEL", DEFAULT_LOG_LEVEL).upper(),
        help=f"log level on stderr (SKILLOS_RUNNER_LOG_LEVEL; default {DEFAULT_LOG_LEVEL})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.log_level not in LOG_LEVELS:
        parser.error(f"SKILLOS_RUNNER_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    protocol = _take_stdout()
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        started = time.perf_counter()
        try:
            embedder = load_embedder(args.model)
        except EmbeddingUnavailable as error:
            log.error("%s", error)
            return 1
        log.info("ready in %.2f s", time.perf_counter() - started)
        serve(embedder, sys.stdin.buffer, protocol)
    except BrokenPipeError:
        log.warning("stdout was closed; stopping")
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        with contextlib.suppress(OSError):
            protocol.close()
    return 0


def serve(embedder: Embedder, requests: Iterable[bytes], responses: BinaryIO) -> None:
    """Writes the announcement, then one response per request line until ``requests`` ends."""
    _write(responses, json.dumps(embedder.provider()))
    for raw in requests:
        _write(responses, respond(embedder, raw))


def respond(embedder: Embedder, raw: bytes | str) -> str:
    """The response line (without its newline) to one request line."""
    request_id: int | str | None = None
    try:
        request_id, kind, texts = parse_request(raw)
        vectors = embedder.embed_array(texts, kind)
    except BadRequest as error:
        log.warning("bad request: %s", error)
        return json.dumps({"id": error.request_id, "error": str(error)})
    except Exception as error:
        log.exception("request %r failed", request_id)
        return json.dumps({"id": request_id, "error": f"{type(error).__name__}: {error}"})
    return f'{{"id": {json.dumps(request_id)}, "vectors": {format_vectors(vectors)}}}'


def parse_request(raw: bytes | str) -> tuple[int | str, Kind, list[str]]:
    """``(id, kind, texts)`` of a request line, or :class:`BadRequest`."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadRequest(f"the line is not UTF-8: {error}") from None
    line = raw.strip()
    if not line:
        raise BadRequest("empty line; expected a JSON request")
    try:
        request: Any = json.loads(line)
    except json.JSONDecodeError as error:
        raise BadRequest(f"the line is not JSON: {error}") from None
    if not isinstance(request, dict):
        raise BadRequest("a request must be a JSON object")
    if "id" not in request:
        raise BadRequest("the request has no id")
    request_id = request["id"]
    if isinstance(request_id, bool) or not isinstance(request_id, (int, str)):
        raise BadRequest("id must be an integer or a string")
    kind = request.get("kind", "query")
    if kind not in KINDS:
        raise BadRequest(f'kind must be "query" or "document", not {kind!r}', request_id)
    texts = request.get("texts")
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise BadRequest("texts must be a list of strings", request_id)
    return request_id, cast(Kind, kind), texts


def format_vectors(vectors: np.ndarray) -> str:
    """A JSON array of arrays, each component with 7 significant digits (float32 precision)."""
    rows = (",".join(f"{value:.7g}" for value in row) for row in vectors.tolist())
    return "[" + ",".join(f"[{row}]" for row in rows) + "]"


def _write(stream: BinaryIO, line: str) -> None:
    stream.write(line.encode("utf-8") + b"\n")
    stream.flush()


def _take_stdout() -> BinaryIO:
    """Keeps the real stdout for protocol lines and points file descriptor 1 (and
    ``sys.stdout``) at stderr, so that nothing a library prints, from Python or C, can get
    between them."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stdout.flush()
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol
