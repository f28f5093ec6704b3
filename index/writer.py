"""Writing an index version: from the previous version plus the changed sources, then the swap.

A build writes a new version folder beside the live one and then swaps ``CURRENT`` with
``os.replace``; a crash or kill in the middle leaves the previous version live and
loadable. Updates are incremental: unchanged sources keep their chunks, vectors and
tokens; only new or changed sources are chunked and embedded. The embedder is driven through
the :class:`index.embedders.Embedder` interface only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.bm25 import BM25
from index.embedders import Embedder
from index.layout import FORMAT_VERSION, index_text, row_of, write_jsonl
from index.tokens import SearchTokenizer, TokenTable, learn_terms, tokenize_many
from index.vector import VectorStore
from rag.text.script import fold
from rag.types import Article, Chunk

Progress = Callable[[str, int, int | None], Any]
EMBED_BATCH = 256


class PreviousVersion(Protocol):
    """What an update reads from the live version (an :class:`index.store.IndexStore`)."""

    manifest: dict[str, Any]
    articles: dict[str, Article]
    chunks: list[Chunk]
    vectors: np.ndarray
    tokenizer: SearchTokenizer
    originals: dict[str, str]

    @property
    def tokens(self) -> TokenTable: ...


@dataclass
class SourceData:
    """What one source file contributes to the index."""

    fingerprint: str
    articles: list[Article]
    chunks: list[Chunk]
    text: str = ""  # the original text as read: answers and evidence are quoted from it


@dataclass
class UpdateReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    embedded_chunks: int = 0
    chunk_count: int = 0
    seconds: float = 0.0
    version: str = ""


@dataclass
class _Assembly:
    """The new version's articles and chunks in source order, each chunk reused or fresh."""

    articles: list[Article] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    fresh: list[Chunk] = field(default_factory=list)
    fresh_at: list[int] = field(default_factory=list)  # where each fresh chunk goes in ``chunks``
    kept_at: list[int] = field(default_factory=list)  # where each reused chunk goes...
    kept_from: list[int] = field(default_factory=list)  # ...and where it was in ``previous``


def write_index(
    index_dir: Path,
    sources: Mapping[str, SourceData | None],
    *,
    embedder: Embedder,
    previous: PreviousVersion | None,
    settings: Mapping[str, Any],
    progress: Progress | None = None,
    hnsw_above: int = 50_000,
) -> UpdateReport:
    """Write a new index version from ``previous`` plus the changes in ``sources``.

    ``sources`` maps every source of the new corpus to its fresh data, or to ``None`` when it
    is unchanged since ``previous`` (its chunks, vectors and tokens are reused).
    """
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    old_sources: dict[str, str] = previous.manifest.get("sources", {}) if previous else {}
    report = _classify(sources, old_sources)
    tokenizer = _tokenizer(sources, previous)
    embedder.use_tokenizer(tokenizer)
    plan = _assemble(sources, previous)
    fresh_texts = [index_text(c) for c in plan.fresh]
    fresh_tokens = tokenize_many(tokenizer, fresh_texts)
    tokens = _chunk_tokens(plan, previous, fresh_tokens)
    matrix = _vectors(embedder, plan, previous, fresh_texts, fresh_tokens, progress)
    report.embedded_chunks = len(plan.fresh)
    report.chunk_count = len(plan.chunks)
    del fresh_texts, fresh_tokens  # not needed below (the peak is BM25's count)

    folder = _new_version(index_dir)
    try:
        _write_rows(folder, plan, sources, previous)
        tokens.save(folder / "tokens.npz")
        vector_index = _save_vectors(folder, matrix, hnsw_above)
        del matrix  # the vectors and their graph are on disk: drop them before BM25
        BM25.from_table(tokens).save(folder / "bm25.npz")
        (folder / "terms.txt").write_text("\n".join(tokenizer.terms), encoding="utf-8")
        embedder.save(folder)
        fps = {src: (d.fingerprint if d else old_sources[src]) for src, d in sources.items()}
        manifest = {
            "format_version": FORMAT_VERSION,
            "embedder": {
                "name": embedder.name,
                "dim": int(embedder.dim),
                "offline": bool(embedder.offline),
            },
            "chunk_count": len(plan.chunks),
            "article_count": len(plan.articles),
            "corpus_fingerprint": hashlib.sha256(
                json.dumps(sorted(fps.items())).encode()
            ).hexdigest()[:32],
            "sources": fps,
            "build_time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "vector_index": vector_index,
            "settings": dict(settings),
            "terms": len(tokenizer.terms),
        }
        # the manifest goes last: a version without one is never made live
        (folder / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        _fsync_dir(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    _swap(index_dir, folder)
    report.version = folder.name
    report.seconds = time.perf_counter() - t0
    return report


# -- the steps of write_index ---------------------------------------------------------------
def _classify(sources: Mapping[str, SourceData | None], old: Mapping[str, str]) -> UpdateReport:
    """Which sources are added, changed, removed or unchanged since the previous version."""
    report = UpdateReport()
    for src, data in sources.items():
        if data is None:
            report.unchanged += 1
        elif src in old:
            report.changed.append(src)
        else:
            report.added.append(src)
    report.removed = sorted(set(old) - set(sources))
    return report


def _tokenizer(
    sources: Mapping[str, SourceData | None], previous: PreviousVersion | None
) -> SearchTokenizer:
    """A full build learns the vocabulary from everything; an update adds the fresh terms."""
    fresh = [a for d in sources.values() if d for a in d.articles]
    if previous is None:
        terms = learn_terms(fold(a.text) for a in fresh)
    else:
        terms = sorted(
            set(previous.tokenizer.terms) | set(learn_terms(fold(a.text) for a in fresh))
        )
    return SearchTokenizer(terms=terms)


def _assemble(
    sources: Mapping[str, SourceData | None], previous: PreviousVersion | None
) -> _Assembly:
    """Articles and chunks of every source in name order: unchanged ones from ``previous``."""
    plan = _Assembly()
    by_source_prev: dict[str, list[int]] = {}
    if previous is not None:
        for i, c in enumerate(previous.chunks):
            by_source_prev.setdefault(c.source, []).append(i)
    for src in sorted(sources):
        data = sources[src]
        if data is None:
            assert previous is not None
            plan.articles.extend(a for a in previous.articles.values() if a.source == src)
            for i in by_source_prev.get(src, []):
                plan.kept_at.append(len(plan.chunks))
                plan.kept_from.append(i)
                plan.chunks.append(previous.chunks[i])
        else:
            plan.articles.extend(data.articles)
            for c in data.chunks:
                plan.fresh_at.append(len(plan.chunks))
                plan.chunks.append(c)
                plan.fresh.append(c)
    return plan


def _chunk_tokens(
    plan: _Assembly, previous: PreviousVersion | None, fresh_tokens: TokenTable
) -> TokenTable:
    """Every chunk's tokens, in chunk order: reused rows from the previous table, fresh ones new."""
    row_of_chunk = np.zeros(len(plan.chunks), np.int64)
    n_prev = 0
    if previous is not None:
        n_prev = len(previous.chunks)
        row_of_chunk[plan.kept_at] = plan.kept_from
        tokens = TokenTable.join([previous.tokens, fresh_tokens])
    else:
        tokens = fresh_tokens
    row_of_chunk[plan.fresh_at] = n_prev + np.arange(len(plan.fresh_at))
    return tokens.take(row_of_chunk).compact()


def _vectors(
    embedder: Embedder,
    plan: _Assembly,
    previous: PreviousVersion | None,
    fresh_texts: list[str],
    fresh_tokens: TokenTable,
    progress: Progress | None,
) -> np.ndarray:
    """Every chunk's vector: reused ones copied, fresh ones embedded (or kept from the fit)."""
    fitted: np.ndarray | None = None
    if previous is None:
        if progress and embedder.fits_corpus:
            progress("fit", 0, len(fresh_texts))
        fitted = embedder.fit_chunks(fresh_texts, fresh_tokens)
        if progress and embedder.fits_corpus:
            progress("fit", len(fresh_texts), len(fresh_texts))
    matrix = np.zeros((len(plan.chunks), embedder.dim), dtype=np.float32)
    if plan.kept_at:
        assert previous is not None
        matrix[plan.kept_at] = previous.vectors[plan.kept_from]
    if fitted is not None:
        matrix[plan.fresh_at] = fitted
        if progress:
            progress("embed", len(plan.fresh_at), len(plan.fresh_at))
        return matrix
    for s in range(0, len(plan.fresh), EMBED_BATCH):
        n = len(plan.fresh[s : s + EMBED_BATCH])
        part = fresh_tokens.take(np.arange(s, s + n))
        matrix[plan.fresh_at[s : s + n]] = embedder.embed_chunks(fresh_texts[s : s + n], part)
        if progress:
            progress("embed", n, len(plan.fresh))
    return matrix


def _write_rows(
    folder: Path,
    plan: _Assembly,
    sources: Mapping[str, SourceData | None],
    previous: PreviousVersion | None,
) -> None:
    """articles.jsonl, sources.jsonl (the original texts) and chunks.jsonl."""
    write_jsonl(folder / "articles.jsonl", map(row_of, plan.articles))
    write_jsonl(
        folder / "sources.jsonl",
        (
            {"source": src, "text": d.text if d else previous.originals.get(src, "")}  # type: ignore[union-attr]
            for src, d in sorted(sources.items())
        ),
    )
    write_jsonl(folder / "chunks.jsonl", map(row_of, plan.chunks))


def _save_vectors(folder: Path, matrix: np.ndarray, hnsw_above: int) -> str:
    """dense.faiss; the kind of vector index chosen for this many vectors."""
    vstore = VectorStore.build(matrix, hnsw_above=hnsw_above)
    vstore.save(folder / "dense.faiss")
    return vstore.kind


# -- the version folders ----------------------------------------------------------------------
def _fsync_dir(folder: Path) -> None:
    for p in folder.iterdir():
        if p.is_file():
            with p.open("rb") as f:
                os.fsync(f.fileno())


def _new_version(index_dir: Path) -> Path:
    name = f"v-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 100000}"
    folder = index_dir / name
    folder.mkdir(parents=True)
    return folder


def _swap(index_dir: Path, folder: Path, keep: int = 2) -> None:
    """Make ``folder`` the live version atomically; drop all but the newest ``keep`` versions."""
    tmp = index_dir / f".CURRENT.{os.getpid()}"
    tmp.write_text(folder.name, encoding="utf-8")
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / "CURRENT")
    # versions without a manifest are what a killed build left: never live, never kept
    complete, partial = [], []
    for p in index_dir.glob("v-*"):
        if p.is_dir() and p != folder:
            (complete if (p / "manifest.json").is_file() else partial).append(p)
    complete.sort(key=lambda p: p.stat().st_mtime)
    for old in partial + complete[: max(0, len(complete) - (keep - 1))]:
        shutil.rmtree(old, ignore_errors=True)
