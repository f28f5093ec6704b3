"""Embedders: text → normalised float32 vectors.

Two real implementations behind one interface:

- :class:`OfflineEmbedder` needs no download: latent semantic analysis learned from the
  corpus at build time (TF-IDF over jieba words and character bigrams, reduced by a
  truncated SVD), persisted with the index. Words that occur in similar passages end up
  close, which gives paraphrased questions a real semantic signal.
- ``index.st_embedder.SentenceTransformerEmbedder`` wraps a multilingual
  sentence-transformers model (name or local path) with its query/passage prompts.

:func:`make_embedder` resolves ``auto``: the model when it can be loaded from a local path
or the local cache, otherwise the offline embedder, deciding without touching the network.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from scipy import sparse

from index.local_models import E5_MODEL_NAME, installed_manifest, resolve_local_model

if TYPE_CHECKING:
    from index.tokens import SearchTokenizer, TokenTable

log = logging.getLogger("index.embedders")

OFFLINE_NAME = "offline-lsa"


@runtime_checkable
class Embedder(Protocol):
    """What the index needs from an embedder, to build an index and to search one."""

    name: str
    dim: int
    offline: bool
    fits_corpus: bool  # a full build fits it on the chunks (:meth:`fit_chunks` learns)

    def use_tokenizer(self, tokenizer: SearchTokenizer) -> None:
        """Share the index's tokenizer (with its learned terms); a no-op for a model with its own."""

    def fit_chunks(self, texts: Sequence[str], table: TokenTable) -> np.ndarray | None:
        """Learn from a full build's chunks (``table``: the index tokenizer's rows of
        ``texts``); their vectors when the fit computes them on the way, else ``None``."""

    def embed_chunks(self, texts: Sequence[str], table: TokenTable) -> np.ndarray:
        """Vectors of chunk texts, given also the index tokenizer's rows of them."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str, tokens: Sequence[str] | None = None) -> np.ndarray:
        """``tokens``: the index tokenizer's tokens of ``text``, when the caller has them."""
        ...

    def save(self, folder: Path) -> None:
        """Write what :func:`load_embedder` needs into an index version folder."""


def _normalise(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return m / norms


class OfflineEmbedder:
    """Latent semantic vectors learned from the corpus itself.

    >>> e = OfflineEmbedder(dim=4)
    >>> e.fit(["天津港口岸", "天津港集装箱", "社区党建工作", "社区网格治理", "港口货物吞吐"])
    >>> e.embed_query("天津港").shape
    (4,)
    """

    name = OFFLINE_NAME
    offline = True
    fits_corpus = True

    def __init__(
        self, dim: int = 256, min_df: int = 1, max_features: int = 80_000, svd_sample: int = 20_000
    ) -> None:
        self.dim = dim
        self.svd_sample = svd_sample
        self.min_df = min_df
        self.max_features = max_features
        self.vocab: dict[str, int] = {}
        self.idf: np.ndarray | None = None
        self.components: np.ndarray | None = None  # (n_features, dim)
        self._tok = None

    # features: jieba words plus character bigrams, so rare names still overlap
    def use_tokenizer(self, tokenizer: SearchTokenizer) -> None:
        """Share the index's tokenizer (with its learned terms) instead of loading another."""
        self._tok = tokenizer

    def _features(self, text: str, words: Sequence[str] | None = None) -> list[str]:
        if words is None:
            if self._tok is None:
                from index.tokens import SearchTokenizer

                self._tok = SearchTokenizer()
            words = self._tok.tokens(text)
        return list(words)

    def _tfidf(self, table: TokenTable) -> sparse.csr_matrix:
        """TF-IDF rows of a token table (1 + log count, times idf), over the fitted features."""
        col_of = np.fromiter(
            (self.vocab.get(t, -1) for t in table.vocab), np.int64, len(table.vocab)
        )
        m = table.counts(len(self.vocab), col_of)
        m.data = (1.0 + np.log(m.data)) * self.idf[m.indices]
        return m

    def _table(self, texts: Sequence[str], tokens: Sequence[Sequence[str]] | None) -> TokenTable:
        from index.tokens import TokenTable

        return TokenTable.from_lists(
            self._features(t, tokens[i] if tokens is not None else None)
            for i, t in enumerate(texts)
        )

    def fit(
        self, texts: Sequence[str], tokens: Sequence[Sequence[str]] | None = None
    ) -> np.ndarray:
        """Learn from ``texts`` and return their vectors (computed on the way, so not twice)."""
        return self.fit_chunks(texts, self._table(texts, tokens))

    def fit_chunks(self, texts: Sequence[str], table: TokenTable) -> np.ndarray:
        """:meth:`fit` on texts already tokenised by the index's tokenizer (only ``table`` is
        read); every chunk's vector is computed on the way and returned, so a build keeps it."""
        n = len(table)
        counts = table.counts()
        df = np.bincount(counts.indices, minlength=len(table.vocab))
        # keep the features that can carry co-occurrence: seen at least twice, most frequent first
        least = max(self.min_df, 2 if n > 50 else 1)
        frequent = np.flatnonzero(df >= least)
        frequent = frequent[np.argsort(-df[frequent], kind="stable")][: self.max_features]
        order = sorted(frequent.tolist(), key=lambda j: table.vocab[j])  # features by name
        self.vocab = {table.vocab[j]: i for i, j in enumerate(order)}
        kept = np.array(order, dtype=np.int64)
        self.idf = (np.log((1 + max(1, n)) / (1 + df[kept])) + 1.0).astype(np.float32)
        x = counts[:, kept].tocsr()
        x.data = (1.0 + np.log(x.data)) * self.idf[x.indices]
        k = max(1, min(self.dim, min(x.shape) - 1))
        if min(x.shape) <= 1:
            self.components = np.eye(len(self.vocab), k, dtype=np.float32)
        else:
            from sklearn.utils.extmath import randomized_svd

            # topics from at most `svd_sample` chunks: as good for a large corpus and bounded
            # in time; every chunk is then projected onto them
            sample = x
            if x.shape[0] > self.svd_sample:
                rows = np.random.default_rng(0).choice(x.shape[0], self.svd_sample, replace=False)
                sample = x[np.sort(rows)]
            _, s, vt = randomized_svd(sample, n_components=k, n_iter=4, random_state=0)
            # scale by singular values^0.5: a common LSA weighting that keeps topic strength
            self.components = (vt.T * np.sqrt(s)).astype(np.float32)
        self.dim = self.components.shape[1]
        return _normalise(x @ self.components)

    def embed_chunks(self, texts: Sequence[str], table: TokenTable) -> np.ndarray:
        """Vectors of texts already tokenised by the index's tokenizer (only ``table`` is read)."""
        if self.components is None:
            raise RuntimeError("OfflineEmbedder used before fit() or load()")
        return _normalise(self._tfidf(table) @ self.components)

    def embed_passages(
        self, texts: Sequence[str], tokens: Sequence[Sequence[str]] | None = None
    ) -> np.ndarray:
        return self.embed_chunks(texts, self._table(texts, tokens))

    def embed_query(self, text: str, tokens: Sequence[str] | None = None) -> np.ndarray:
        """One question: a dense sum over its few known features (no sparse matrix to build)."""
        if self.components is None:
            raise RuntimeError("OfflineEmbedder used before fit() or load()")
        counts: dict[int, int] = {}
        for f in self._features(text, tokens):
            j = self.vocab.get(f)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            return np.zeros(self.components.shape[1], dtype=np.float32)
        cols = np.fromiter(counts, np.int64, len(counts))
        tf = 1.0 + np.log(np.fromiter(counts.values(), np.float32, len(counts)))
        return _normalise(((tf * self.idf[cols]) @ self.components[cols])[None, :])[0]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "offline_embedder.npz", idf=self.idf)
        np.save(folder / "offline_components.npy", np.ascontiguousarray(self.components))
        (folder / "offline_vocab.json").write_text(
            json.dumps(list(self.vocab), ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path) -> OfflineEmbedder:
        data = np.load(folder / "offline_embedder.npz")
        # memory-mapped: a question reads a few dozen rows; workers share the page cache
        components = np.load(folder / "offline_components.npy", mmap_mode="r")
        feats = json.loads((folder / "offline_vocab.json").read_text(encoding="utf-8"))
        e = cls(dim=int(components.shape[1]))
        e.vocab = {f: i for i, f in enumerate(feats)}
        e.idf = data["idf"]
        # a plain array over the same mapped pages: indexing a memmap goes through Python
        e.components = components.view(np.ndarray)
        if len(e.vocab) != len(e.idf) or len(e.idf) != components.shape[0]:
            raise ValueError("the offline embedder's vocabulary, idf and components disagree")
        return e


DEFAULT_MODEL = E5_MODEL_NAME
# `auto` embeds with the model up to this many chunks: about 13 minutes on a 2-core machine
# (~25 chunks of 320 characters a second with the int8 runtime); above it the LSA is learned
# in about a minute instead (the 100x corpus would take the model about 48 minutes: README)
AUTO_MODEL_MAX_CHUNKS = 20_000


def make_embedder(
    spec: str = "auto", *, dim: int = 256, chunk_count: int | None = None
) -> Embedder:
    """``offline``, ``auto`` (the default model if installed, else offline), or a model
    name/path.

    ``auto`` also takes the offline embedder for a corpus of more than
    ``RAG_AUTO_MODEL_MAX_CHUNKS`` chunks (default :data:`AUTO_MODEL_MAX_CHUNKS`), which the
    model would take too long to embed; naming the model embeds any size.
    """
    import os

    if spec == "offline":
        return OfflineEmbedder(dim=dim)
    from index.st_embedder import SentenceTransformerEmbedder

    target = DEFAULT_MODEL if spec == "auto" else spec
    limit = int(os.environ.get("RAG_AUTO_MODEL_MAX_CHUNKS") or AUTO_MODEL_MAX_CHUNKS)
    if spec == "auto" and chunk_count is not None and chunk_count > limit:
        log.info(
            "embedder: %d chunks is more than `auto` embeds with a model (%d); using the "
            "offline embedder (name the model with --embedder to embed anyway)",
            chunk_count,
            limit,
        )
        return OfflineEmbedder(dim=dim)
    local = resolve_local_model(target)
    if local is None:
        if spec != "auto":
            raise FileNotFoundError(
                f"embedding model {spec!r} is neither installed (`rag models install`), a local "
                "folder nor in the local cache; copy it from a connected machine, or use "
                "--embedder offline"
            )
        log.info(
            "embedder: %s is not installed (`rag models install`), using the offline embedder",
            target,
        )
        return OfflineEmbedder(dim=dim)
    # an installed folder named by its path is still that model (its name, its prompts)
    manifest = installed_manifest(Path(local)) or {}
    name = manifest.get("name") or target
    prompts = manifest.get("prompts") or {}
    log.info("embedder: using %s (%s)", name, local)
    return SentenceTransformerEmbedder(
        name,
        local_path=local,
        query_prompt=prompts.get("query"),
        passage_prompt=prompts.get("passage"),
    )


def load_embedder(folder: Path, name: str) -> Embedder:
    """The embedder an index was built with (the same model, prompts and runtime choice)."""
    if name == OFFLINE_NAME:
        return OfflineEmbedder.load(folder)
    from index.st_embedder import SentenceTransformerEmbedder

    try:
        info = json.loads((folder / "st_embedder.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    local = resolve_local_model(name)
    if local is None and info.get("local_path"):
        local = resolve_local_model(str(info["local_path"]))
    if local is None:
        raise FileNotFoundError(
            f"the index was built with the model {name!r}, which is not installed here; "
            "install it (`rag models install`) or rebuild with "
            "`rag index build CORPUS --embedder offline`"
        )
    return SentenceTransformerEmbedder(
        name,
        local_path=local,
        query_prompt=info.get("query_prompt"),
        passage_prompt=info.get("passage_prompt"),
    )
