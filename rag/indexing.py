"""Build or update the index of a corpus folder: only new or changed files are re-read."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from index.embedders import make_embedder
from index.errors import IndexLoadError
from index.layout import fingerprint_bytes
from index.store import IndexStore
from index.writer import SourceData, UpdateReport, write_index
from rag.ingest import TEXT_PIPELINE_VERSION
from rag.ingest.chunking import CHUNK_OVERLAP, CHUNK_SIZE, Chunker
from rag.ingest.loaders import CorpusError, UnreadableFile, iter_corpus, load_file, source_name
from rag.ingest.segment import ArticleSegmenter
from rag.text.script import FOLDING

log = logging.getLogger("rag.indexing")

DEFAULT_INDEX_DIR = Path("var/index")


def build_index(
    corpus_dir: str | Path,
    index_dir: str | Path = DEFAULT_INDEX_DIR,
    *,
    embedder: str = "auto",
    full: bool = False,
    chunk_size: int | None = None,
    chunk_overlap: int | None = None,
    hnsw_above: int = 50_000,
    progress: Callable[[str, int, int | None], Any] | None = None,
    on_skip: Callable[[str, str], None] | None = None,
    milvus_uri: str | None = None,
) -> UpdateReport:
    """Index ``corpus_dir`` into ``index_dir``, incrementally when an index is already there.

    A changed embedder, chunking setting or ``full=True`` rebuilds everything. Chunk size and
    overlap left ``None`` keep the existing index's (else :data:`CHUNK_SIZE` /
    :data:`CHUNK_OVERLAP`). Above ``hnsw_above`` chunks the vector index is approximate
    (HNSW) instead of exact.
    """
    corpus_dir, index_dir = Path(corpus_dir), Path(index_dir)
    list(iter_corpus(corpus_dir))  # a missing folder: CorpusError before anything is written
    with _build_lock(index_dir):  # one writer at a time, across processes (CLI, service workers)
        paths = list(iter_corpus(corpus_dir))  # as it is once the lock is ours
        previous = None if full else _previous_index(index_dir)
        settings = _chunk_settings(previous, chunk_size, chunk_overlap)
        previous = _reusable(previous, settings)

        def read(items: list[tuple[Path, str, str]], stage: str = "read") -> None:
            for src, data, error in _read_sources(items, corpus_dir, settings):
                if error is not None:
                    _skip(src, error, on_skip)
                    continue
                sources[src] = data
                if progress:
                    progress(stage, 1, len(items))

        old_fps = previous.manifest.get("sources", {}) if previous else {}
        sources, todo, unchanged = _scan(paths, corpus_dir, old_fps, on_skip)
        read(todo)
        if not sources:
            raise CorpusError(f"no readable documents in {corpus_dir}")

        # the embedder, now that the corpus's size is known (`auto` keeps a model for corpora
        # it can embed in reasonable time)
        kept = {src for src, d in sources.items() if d is None}
        n_chunks = sum(len(d.chunks) for d in sources.values() if d) + sum(
            1 for c in (previous.chunks if previous else ()) if c.source in kept
        )
        emb = make_embedder(embedder, chunk_count=n_chunks)
        if previous is not None and previous.embedder.name != emb.name:
            log.info("embedder changed (%s -> %s): full rebuild", previous.embedder.name, emb.name)
            previous = None
            read(unchanged, "reread")  # their chunks are embedded anew
        if previous is not None:
            emb = previous.embedder  # keep the fitted embedder for an incremental update
            if all(v is None for v in sources.values()) and set(sources) == set(old_fps):
                if milvus_uri:
                    from index.milvus_store import ensure_synced

                    ensure_synced(previous, milvus_uri)
                return UpdateReport(
                    unchanged=len(sources),
                    chunk_count=len(previous.chunks),
                    version=previous.version,
                )
        where = {"corpus_dir": str(corpus_dir.resolve())}
        report = write_index(
            index_dir,
            sources,
            embedder=emb,
            previous=previous,
            settings={**settings, **where},
            progress=progress,
            hnsw_above=hnsw_above,
        )
        if milvus_uri:  # the new version's search side to Milvus, switched in one step
            from index.milvus_store import sync_to_milvus

            sync_to_milvus(IndexStore.load(index_dir), milvus_uri)
        return report


@contextlib.contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    import fcntl

    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".build.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes, also if the process dies
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _previous_index(index_dir: Path) -> IndexStore | None:
    """The index already in ``index_dir``, or None (with a warning if one is there broken)."""
    try:
        return IndexStore.load(index_dir)
    except IndexLoadError as e:
        if (index_dir / "CURRENT").exists():
            log.warning("rebuilding from scratch: %s", e)
    return None


def _chunk_settings(
    previous: IndexStore | None, chunk_size: int | None, chunk_overlap: int | None
) -> dict[str, Any]:
    """The chunking and text settings of this build; those left None keep the previous's."""
    before = previous.manifest.get("settings", {}) if previous else {}
    if chunk_size is None:
        chunk_size = int(before.get("chunk_size", CHUNK_SIZE))
    if chunk_overlap is None:
        keep = before.get("chunk_size") == chunk_size and "chunk_overlap" in before
        chunk_overlap = (
            int(before["chunk_overlap"]) if keep else min(CHUNK_OVERLAP, chunk_size // 4)
        )
    return {
        "chunk_size": chunk_size,
        "chunk_overlap": chunk_overlap,
        "text_pipeline": TEXT_PIPELINE_VERSION,
        "folding": FOLDING,
    }


def _reusable(previous: IndexStore | None, settings: dict[str, Any]) -> IndexStore | None:
    """``previous`` if an update may build on it: same settings, readable tokens."""
    if previous is None:
        return None
    before = previous.manifest.get("settings", {})
    if {k: before.get(k) for k in settings} != settings:
        log.info("chunking or text pipeline changed: full rebuild")
        return None
    try:
        previous.tokens  # noqa: B018 - an update reuses them: read (and check) them now
    except IndexLoadError as e:
        log.warning("rebuilding from scratch: %s", e)
        return None
    return previous


def _scan(
    paths: list[Path],
    corpus_dir: Path,
    old_fps: dict[str, str],
    on_skip: Callable[[str, str], None] | None,
) -> tuple[dict[str, SourceData | None], list[tuple[Path, str, str]], list[tuple[Path, str, str]]]:
    """Fingerprint the files: unchanged ones map to None in the sources; ``(path, source
    name, fingerprint)`` of the new or changed ones, then of the unchanged ones."""
    sources: dict[str, SourceData | None] = {}
    todo: list[tuple[Path, str, str]] = []
    unchanged: list[tuple[Path, str, str]] = []
    for path in paths:
        src = source_name(path, corpus_dir)
        try:
            fp = fingerprint_bytes(path.read_bytes())
        except OSError as e:
            _skip(src, str(e), on_skip)
            continue
        if old_fps.get(src) == fp:
            sources[src] = None
            unchanged.append((path, src, fp))
        else:
            todo.append((path, src, fp))
    return sources, todo, unchanged


def _read_one(
    item: tuple[Path, str, str], corpus_dir: Path, chunk_size: int, chunk_overlap: int
) -> tuple[str, SourceData | None, str | None]:
    path, src, fp = item
    try:
        doc = load_file(path, corpus_dir)
    except UnreadableFile as e:
        return src, None, str(e)
    articles = ArticleSegmenter().segment(doc)
    chunks = Chunker(chunk_size, chunk_overlap).chunk_all(articles)
    return src, SourceData(fp, articles, chunks, doc.text), None


def _read_sources(
    todo: list[tuple[Path, str, str]], corpus_dir: Path, settings: dict[str, Any]
) -> Iterator[tuple[str, SourceData | None, str | None]]:
    """Load, segment and chunk files; on every core when there are many (pure Python work)."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    read = partial(
        _read_one,
        corpus_dir=corpus_dir,
        chunk_size=settings["chunk_size"],
        chunk_overlap=settings["chunk_overlap"],
    )
    workers = os.cpu_count() or 1
    if len(todo) < 8 or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(read, todo)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        yield from pool.map(read, todo, chunksize=4)


def _skip(src: str, reason: str, on_skip: Callable[[str, str], None] | None) -> None:
    log.warning("skipping %s: %s", src, reason)
    if on_skip:
        on_skip(src, reason)


def report_json(report: UpdateReport) -> dict[str, Any]:
    return asdict(report)
