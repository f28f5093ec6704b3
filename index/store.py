"""A built index on disk, loaded: manifest, articles, chunks, vectors, BM25, embedder state.

The large arrays (the FAISS index with its vectors, the BM25 weights, the offline embedder's
components) are loaded memory-mapped: service workers share one copy in the page cache. That
is safe because a version's files are never rewritten in place (:mod:`index.writer` writes a
new version folder; :mod:`index.layout` describes its files).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.bm25 import BM25
from index.embedders import Embedder, load_embedder
from index.errors import IndexLoadError
from index.layout import (
    FORMAT_VERSION,
    INDEX_FILES,
    article_from_row,
    load_chunks,
    read_jsonl,
    rebuild_hint,
)
from index.tokens import SearchTokenizer, TokenTable
from index.vector import VectorStore
from rag.text.script import FOLDING, fold
from rag.types import Article, Chunk


@dataclass(eq=False, repr=False)
class IndexStore:
    """A loaded index: everything search needs, immutable once loaded.

    >>> store = IndexStore.load(Path("var/index"))  # doctest: +SKIP
    >>> store.manifest["chunk_count"]  # doctest: +SKIP
    912
    """

    folder: Path
    manifest: dict[str, Any]
    articles: dict[str, Article]
    chunks: list[Chunk]
    vectors: np.ndarray  # FAISS's stored vectors, memory-mapped
    vstore: VectorStore
    bm25: BM25
    tokenizer: SearchTokenizer
    embedder: Embedder
    originals: dict[str, str] = field(default_factory=dict)  # source -> original text as read
    _tokens: TokenTable | None = None  # read when an incremental update needs them

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

    @property
    def folds(self) -> bool:
        """Whether this index's text was folded to one script (built since folding came):
        then questions are folded the same way before they are matched."""
        return self.manifest.get("settings", {}).get("folding") == FOLDING

    def matching_text(self, text: str) -> str:
        """``text`` in the script this index's words are in (same length, same offsets)."""
        return fold(text) if self.folds else text

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
        _check_manifest(index_dir, folder, manifest, expect_embedder)
        try:
            articles = {
                a.id: a for a in map(article_from_row, read_jsonl(folder / "articles.jsonl"))
            }
            chunks = load_chunks(folder / "chunks.jsonl")
            vstore = VectorStore.load(folder / "dense.faiss")
            vectors = vstore.matrix()
            bm25 = BM25.load(folder / "bm25.npz")
            terms = _read_terms(folder / "terms.txt")
            originals = {r["source"]: r["text"] for r in read_jsonl(folder / "sources.jsonl")}
            embedder = load_embedder(folder, manifest.get("embedder", {}).get("name"))
        except IndexLoadError:
            raise
        except Exception as e:  # corrupt or truncated files: say so, never crash-loop
            raise IndexLoadError(
                f"the index at {folder} is corrupt ({type(e).__name__}: {e}); {rebuild_hint(index_dir)}"
            ) from e
        tokenizer = SearchTokenizer(terms=terms)
        store = cls(
            folder,
            manifest,
            articles,
            chunks,
            vectors,
            vstore,
            bm25,
            tokenizer,
            embedder,
            originals,
        )
        store._check_sizes(index_dir)
        store.embedder.use_tokenizer(store.tokenizer)
        return store

    def _check_sizes(self, index_dir: Path) -> None:
        """Every part holds one row per chunk, and every article and source is there."""
        n = self.manifest.get("chunk_count")
        sizes = {
            "chunks": len(self.chunks),
            "vectors": len(self.vectors),
            "faiss": len(self.vstore),
            "bm25": self.bm25.n_docs,
        }
        articles, originals = self.articles, self.originals
        whole = len(articles) == self.manifest.get("article_count", len(articles)) and set(
            originals
        ) == set(self.manifest["sources"])
        if any(v != n for v in sizes.values()) or not whole:
            raise IndexLoadError(
                f"the index at {self.folder} is inconsistent ({sizes}, {len(articles)} articles, "
                f"{len(originals)} sources; manifest {n} chunks); {rebuild_hint(index_dir)}"
            )


def _check_manifest(
    index_dir: Path, folder: Path, manifest: dict[str, Any], expect_embedder: str | None
) -> None:
    """The version is in this code's format, built with the expected embedder, and complete."""
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
    missing = [f for f in INDEX_FILES if not (folder / f).is_file()]
    if missing:
        raise IndexLoadError(
            f"the index at {folder} lacks {', '.join(missing)}; {rebuild_hint(index_dir)}"
        )


def _read_terms(path: Path) -> list[str]:
    return [t for t in path.read_text(encoding="utf-8").split("\n") if t]
