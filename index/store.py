"""A built index on disk: manifest, articles, chunks, vectors, BM25, embedder state.

Layout of an index folder::

    INDEX_DIR/CURRENT          name of the live version (replaced atomically)
    INDEX_DIR/v-<time>-<pid>/  manifest.json, articles.jsonl, sources.jsonl, chunks.jsonl,
                               tokens.npz (+ .vocab.json), dense.faiss, bm25.npz
                               (+ .data/.indices/.indptr.npy, .vocab.txt), terms.txt,
                               embedder state

The large arrays (the FAISS index with its vectors, the BM25 weights, the offline embedder's
components) are loaded memory-mapped: service workers share one copy in the page cache. That
is safe because a version's files are never rewritten in place.

A build writes a new version folder beside the live one and then swaps ``CURRENT`` with
``os.replace``; a crash or kill in the middle leaves the previous version live and
loadable. Updates are incremental: unchanged sources keep their chunks, vectors and
tokens; only new or changed sources are chunked and embedded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from index.bm25 import BM25
from index.embedders import Embedder, OfflineEmbedder, load_embedder
from index.errors import IndexLoadError
from index.tokens import SearchTokenizer, TokenTable, learn_terms, tokenize_many
from index.vector import VectorStore
from rag.types import Article, Chunk, OffsetRuns

log = logging.getLogger("index.store")

# 2: the original text of every source is kept (evidence is quoted from it)
# 3: offsets stored as runs; tokens in their own file, read only when an update needs them
# 4: tokens as a table of ids into one vocabulary (tokens.npz + tokens.vocab.json)
FORMAT_VERSION = 4
_FILES = (
    "sources.jsonl",
    "manifest.json",
    "articles.jsonl",
    "chunks.jsonl",
    "tokens.npz",
    "tokens.vocab.json",
    "dense.faiss",
    "bm25.npz",
    "bm25.data.npy",
    "bm25.indices.npy",
    "bm25.indptr.npy",
    "terms.txt",
)


def rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it with: rag index build CORPUS_DIR --index-dir {index_dir}"


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


def _row(value: Article | Chunk) -> dict[str, Any]:
    """A shallow field dict (``asdict`` would deep-copy every article's offsets)."""
    d = {f.name: getattr(value, f.name) for f in fields(value)}
    if "offsets" in d:
        d["offsets"] = encode_offsets(d["offsets"])
    return d


def encode_offsets(offsets: Sequence[int]) -> list[int]:
    """Runs of consecutive original offsets, flat: [text pos, original pos, ...].

    Cleaning deletes a character here and there; between deletions the map is a plain shift,
    so a whole article is a few hundred numbers instead of one per character.
    """
    return OffsetRuns.of(offsets).runs()


def decode_offsets(runs: Sequence[int], n: int) -> OffsetRuns:
    """The per-character offsets of :func:`encode_offsets` (kept as runs in memory too)."""
    if n and (len(runs) < 2 or len(runs) % 2 or runs[0] != 0):
        raise ValueError("offset runs do not start at the first character")
    return OffsetRuns(runs, n)


def _article_from_row(d: dict[str, Any]) -> Article:
    d = dict(d)
    d["offsets"] = decode_offsets(d["offsets"], len(d["text"]))
    d["sections"] = tuple((int(p), str(h)) for p, h in d.get("sections", ()))
    return Article(**d)


def _load_chunks(path: Path) -> list[Chunk]:
    """The chunks, with the strings they repeat (article id, title, source, section) shared:
    a chunk's row names its article's in full, and a 100x corpus has 100,000 chunks."""
    shared: dict[str, str] = {}
    out = []
    for r in _read_jsonl(path):
        for key in ("article_id", "title", "source", "section"):
            if isinstance(r.get(key), str):
                r[key] = shared.setdefault(r[key], r[key])
        out.append(Chunk(**r))
    return out


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _fsync_dir(folder: Path) -> None:
    for p in folder.iterdir():
        if p.is_file():
            with p.open("rb") as f:
                os.fsync(f.fileno())


def fingerprint_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


class IndexStore:
    """A loaded index: everything search needs, immutable once loaded.

    >>> store = IndexStore.load(Path("var/index"))  # doctest: +SKIP
    >>> store.manifest["chunk_count"]  # doctest: +SKIP
    912
    """

    def __init__(
        self,
        folder: Path,
        manifest: dict[str, Any],
        articles: dict[str, Article],
        chunks: list[Chunk],
        tokens: TokenTable | None,
        vectors: np.ndarray,
        vstore: VectorStore,
        bm25: BM25,
        tokenizer: SearchTokenizer,
        embedder: Embedder,
        originals: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self.articles = articles
        self.chunks = chunks
        self._tokens = tokens
        self.vectors = vectors
        self.vstore = vstore
        self.bm25 = bm25
        self.tokenizer = tokenizer
        self.embedder = embedder
        self.originals = originals or {}  # source -> original text as read

    @property
    def tokens(self) -> TokenTable:
        """The BM25 tokens of every chunk (kept on disk: only an index update reads them)."""
        if self._tokens is None:
            try:
                tokens = TokenTable.load(self.folder / "tokens.npz")
            except Exception as e:  # noqa: BLE001 - truncated zip, bad JSON, missing array
                raise IndexLoadError(
                    f"the index tokens at {self.folder} are unreadable ({e}); "
                    f"{rebuild_hint(self.folder.parent)} --full"
                ) from e
            if len(tokens) != len(self.chunks):
                raise IndexLoadError(
                    f"the index at {self.folder} has {len(tokens)} token rows for "
                    f"{len(self.chunks)} chunks; {rebuild_hint(self.folder.parent)} --full"
                )
            self._tokens = tokens
        return self._tokens

    def prefetch(self) -> None:
        """Ask the kernel to read the memory-mapped files into its page cache, so that the
        first questions do not wait for the disk (an idle machine may have dropped them).

        ``posix_fadvise(WILLNEED)`` reads ahead without mapping the pages into this
        process, so it costs no resident memory of its own.
        """
        if not hasattr(os, "posix_fadvise"):
            return
        for path in [*self.folder.glob("*.npy"), self.folder / "dense.faiss"]:
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
            finally:
                os.close(fd)

    @property
    def version(self) -> str:
        return self.folder.name

    # -- loading ---------------------------------------------------------------------
    @staticmethod
    def live_version(index_dir: Path) -> Path:
        current = index_dir / "CURRENT"
        if not current.is_file():
            raise IndexLoadError(f"no index at {index_dir}; {rebuild_hint(index_dir)}")
        try:
            name = current.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise IndexLoadError(
                f"the index pointer {current} is unreadable ({e}); {rebuild_hint(index_dir)}"
            ) from e
        folder = index_dir / name
        if not name or "/" in name or name.startswith(".") or not folder.is_dir():
            raise IndexLoadError(
                f"the index at {index_dir} points to a missing version {name!r}; {rebuild_hint(index_dir)}"
            )
        return folder

    @classmethod
    def read_manifest(cls, index_dir: Path) -> dict[str, Any]:
        folder = cls.live_version(index_dir)
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise IndexLoadError(
                f"the index manifest at {folder} is unreadable ({e}); {rebuild_hint(index_dir)}"
            ) from e
        shapes = {"embedder": dict, "sources": dict, "settings": dict, "chunk_count": int}
        if not isinstance(manifest, dict) or any(
            not isinstance(manifest.get(k), t) for k, t in shapes.items()
        ):
            raise IndexLoadError(
                f"the index manifest at {folder} is not an index manifest; {rebuild_hint(index_dir)}"
            )
        return manifest

    @classmethod
    def load(cls, index_dir: Path, *, expect_embedder: str | None = None) -> IndexStore:
        index_dir = Path(index_dir)
        folder = cls.live_version(index_dir)
        manifest = cls.read_manifest(index_dir)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexLoadError(
                f"the index at {index_dir} has format {manifest.get('format_version')!r}, this version reads "
                f"{FORMAT_VERSION}; {rebuild_hint(index_dir)}"
            )
        built_with = manifest.get("embedder", {}).get("name")
        if expect_embedder and expect_embedder not in ("auto", built_with):
            raise IndexLoadError(
                f"the index at {index_dir} was built with the embedder {built_with!r}, not {expect_embedder!r}; "
                f"{rebuild_hint(index_dir)} --embedder {expect_embedder}"
            )
        missing = [f for f in _FILES if not (folder / f).is_file()]
        if missing:
            raise IndexLoadError(
                f"the index at {folder} lacks {', '.join(missing)}; {rebuild_hint(index_dir)}"
            )
        try:
            articles = {
                a.id: a for a in map(_article_from_row, _read_jsonl(folder / "articles.jsonl"))
            }
            chunks = _load_chunks(folder / "chunks.jsonl")
            tokens = None  # read when an incremental update needs them
            vstore = VectorStore.load(folder / "dense.faiss")
            vectors = vstore.matrix()  # FAISS's stored vectors, memory-mapped
            bm25 = BM25.load(folder / "bm25.npz")
            terms = (folder / "terms.txt").read_text(encoding="utf-8").split("\n")
            originals = {r["source"]: r["text"] for r in _read_jsonl(folder / "sources.jsonl")}
            embedder = load_embedder(folder, built_with)
        except IndexLoadError:
            raise
        except Exception as e:  # corrupt or truncated files: say so, never crash-loop
            raise IndexLoadError(
                f"the index at {folder} is corrupt ({type(e).__name__}: {e}); {rebuild_hint(index_dir)}"
            ) from e
        n = manifest.get("chunk_count")
        sizes = {
            "chunks": len(chunks),
            "vectors": len(vectors),
            "faiss": len(vstore),
            "bm25": bm25.n_docs,
        }
        whole = len(articles) == manifest.get("article_count", len(articles)) and set(
            originals
        ) == set(manifest["sources"])
        if any(v != n for v in sizes.values()) or not whole:
            raise IndexLoadError(
                f"the index at {folder} is inconsistent ({sizes}, {len(articles)} articles, "
                f"{len(originals)} sources; manifest {n} chunks); {rebuild_hint(index_dir)}"
            )
        tokenizer = SearchTokenizer(terms=[t for t in terms if t])
        if isinstance(embedder, OfflineEmbedder):
            embedder.use_tokenizer(tokenizer)
        return cls(
            folder,
            manifest,
            articles,
            chunks,
            tokens,
            vectors,
            vstore,
            bm25,
            tokenizer,
            embedder,
            originals,
        )


# -- writing ---------------------------------------------------------------------------
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


def write_index(
    index_dir: Path,
    sources: Mapping[str, SourceData | None],
    *,
    embedder: Embedder,
    previous: IndexStore | None,
    settings: Mapping[str, Any],
    progress: Callable[[str, int, int | None], Any] | None = None,
    hnsw_above: int = 50_000,
) -> UpdateReport:
    """Write a new index version from ``previous`` plus the changes in ``sources``.

    ``sources`` maps every source of the new corpus to its fresh data, or to ``None`` when it
    is unchanged since ``previous`` (its chunks, vectors and tokens are reused).
    """
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    report = UpdateReport()
    old_sources: dict[str, str] = previous.manifest.get("sources", {}) if previous else {}
    for src, data in sources.items():
        if data is None:
            report.unchanged += 1
        elif src in old_sources:
            report.changed.append(src)
        else:
            report.added.append(src)
    report.removed = sorted(set(old_sources) - set(sources))

    # reuse what is unchanged
    articles: list[Article] = []
    chunks: list[Chunk] = []
    fresh_chunks: list[Chunk] = []
    fresh_at: list[int] = []  # where each fresh chunk goes among ``chunks``
    kept_at: list[int] = []  # where each reused chunk goes...
    kept_from: list[int] = []  # ...and where it was in ``previous``
    by_source_prev: dict[str, list[int]] = {}
    if previous is not None:
        for i, c in enumerate(previous.chunks):
            by_source_prev.setdefault(c.source, []).append(i)

    all_fresh_articles = [a for d in sources.values() if d for a in d.articles]
    if previous is None:  # a full build learns the vocabulary (and the embedder) from everything
        terms = learn_terms(a.text for a in all_fresh_articles)
    else:
        terms = sorted(
            set(previous.tokenizer.terms) | set(learn_terms(a.text for a in all_fresh_articles))
        )
    tokenizer = SearchTokenizer(terms=terms)
    offline = isinstance(embedder, OfflineEmbedder)
    if offline:
        embedder.use_tokenizer(tokenizer)

    for src in sorted(sources):
        data = sources[src]
        if data is None:
            assert previous is not None
            articles.extend(a for a in previous.articles.values() if a.source == src)
            for i in by_source_prev.get(src, []):
                kept_at.append(len(chunks))
                kept_from.append(i)
                chunks.append(previous.chunks[i])
        else:
            articles.extend(data.articles)
            for c in data.chunks:
                fresh_at.append(len(chunks))
                chunks.append(c)
                fresh_chunks.append(c)

    fresh_texts = [_index_text(c) for c in fresh_chunks]
    fresh_tokens = tokenize_many(tokenizer, fresh_texts)
    # every chunk's tokens, in chunk order: reused rows from the previous table, fresh ones new
    row_of = np.zeros(len(chunks), np.int64)
    n_prev = 0
    if previous is not None:
        n_prev = len(previous.chunks)
        row_of[kept_at] = kept_from
        tokens = TokenTable.join([previous.tokens, fresh_tokens])
    else:
        tokens = fresh_tokens
    row_of[fresh_at] = n_prev + np.arange(len(fresh_at))
    tokens = tokens.take(row_of).compact()
    fitted: np.ndarray | None = None
    if previous is None:
        if offline:  # the fit already computes every chunk's vector: keep them
            if progress:
                progress("fit", 0, len(fresh_texts))
            fitted = embedder.fit_table(fresh_tokens)
            if progress:
                progress("fit", len(fresh_texts), len(fresh_texts))
        else:
            embedder.fit(fresh_texts)
    dim = embedder.dim
    matrix = np.zeros((len(chunks), dim), dtype=np.float32)
    if kept_at:
        assert previous is not None
        matrix[kept_at] = previous.vectors[kept_from]
    batch = 256
    embedded = fitted is not None  # the fit already made the fresh chunks' vectors
    if embedded:
        matrix[fresh_at] = fitted
        fitted = None  # at 100x, 100 MB: the build's peak is what it holds at once
        if progress:
            progress("embed", len(fresh_at), len(fresh_at))
    for s in range(0, 0 if embedded else len(fresh_chunks), batch):
        part = fresh_chunks[s : s + batch]
        texts = fresh_texts[s : s + len(part)]
        if offline:
            vecs = embedder.embed_table(fresh_tokens.take(np.arange(s, s + len(part))))
        else:
            vecs = embedder.embed_passages(texts)
        matrix[fresh_at[s : s + len(part)]] = vecs
        if progress:
            progress("embed", len(part), len(fresh_chunks))
    report.embedded_chunks = len(fresh_chunks)
    report.chunk_count = len(chunks)
    del fresh_texts, fresh_tokens, fresh_chunks  # not needed below (the peak is BM25's count)

    folder = _new_version(index_dir)
    try:
        _write_jsonl(folder / "articles.jsonl", map(_row, articles))
        _write_jsonl(
            folder / "sources.jsonl",
            (
                {"source": src, "text": d.text if d else previous.originals.get(src, "")}  # type: ignore[union-attr]
                for src, d in sorted(sources.items())
            ),
        )
        _write_jsonl(folder / "chunks.jsonl", map(_row, chunks))
        tokens.save(folder / "tokens.npz")
        vstore = VectorStore.build(matrix, hnsw_above=hnsw_above)
        vstore.save(folder / "dense.faiss")
        vector_index = vstore.kind
        del vstore, matrix  # the vectors and their graph are on disk: drop them before BM25
        BM25.from_table(tokens).save(folder / "bm25.npz")
        (folder / "terms.txt").write_text("\n".join(tokenizer.terms), encoding="utf-8")
        embedder.save(folder)
        fps = {src: (d.fingerprint if d else old_sources[src]) for src, d in sources.items()}
        manifest = {
            "format_version": FORMAT_VERSION,
            "embedder": {"name": embedder.name, "dim": int(dim), "offline": bool(embedder.offline)},
            "chunk_count": len(chunks),
            "article_count": len(articles),
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


def _index_text(c: Chunk) -> str:
    """What is indexed for a chunk: its title and section give it context."""
    head = c.title if not c.section else f"{c.title} {c.section}"
    return f"{head}\n{c.text}"
