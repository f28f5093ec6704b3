"""The on-disk layout of an index: its files, the rows they hold and how the rows are encoded.

Layout of an index folder::

    INDEX_DIR/CURRENT          name of the live version (replaced atomically)
    INDEX_DIR/v-<time>-<pid>/  manifest.json, articles.jsonl, sources.jsonl, chunks.jsonl,
                               tokens.npz (+ .vocab.json), dense.faiss, bm25.npz
                               (+ .data/.indices/.indptr.npy, .vocab.txt), terms.txt,
                               embedder state

Both sides use this module: :mod:`index.writer` writes a version folder, :mod:`index.store`
loads one, so the two agree on every name and encoding.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from rag.text.script import fold
from rag.types import Article, Chunk, OffsetRuns

# 2: the original text of every source is kept (evidence is quoted from it)
# 3: offsets stored as runs; tokens in their own file, read only when an update needs them
# 4: tokens as a table of ids into one vocabulary (tokens.npz + tokens.vocab.json)
FORMAT_VERSION = 4
INDEX_FILES = (
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
    """The command that replaces an unusable index, for error messages."""
    return f"rebuild it with: rag index build CORPUS_DIR --index-dir {index_dir}"


def fingerprint_bytes(data: bytes) -> str:
    """A source file's fingerprint, as the manifest records it."""
    return hashlib.sha256(data).hexdigest()[:32]


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


def row_of(value: Article | Chunk) -> dict[str, Any]:
    """A shallow field dict (``asdict`` would deep-copy every article's offsets)."""
    d = {f.name: getattr(value, f.name) for f in fields(value)}
    if "offsets" in d:
        d["offsets"] = encode_offsets(d["offsets"])
    return d


def article_from_row(d: dict[str, Any]) -> Article:
    """The inverse of :func:`row_of` for an article."""
    d = dict(d)
    d["offsets"] = decode_offsets(d["offsets"], len(d["text"]))
    d["sections"] = tuple((int(p), str(h)) for p, h in d.get("sections", ()))
    return Article(**d)


def load_chunks(path: Path) -> list[Chunk]:
    """The chunks, with the strings they repeat (article id, title, source, section) shared:
    a chunk's row names its article's in full, and a 100x corpus has 100,000 chunks."""
    shared: dict[str, str] = {}
    out = []
    for r in read_jsonl(path):
        for key in ("article_id", "title", "source", "section"):
            if isinstance(r.get(key), str):
                r[key] = shared.setdefault(r[key], r[key])
        out.append(Chunk(**r))
    return out


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def index_text(c: Chunk) -> str:
    """What is indexed for a chunk: its title and section give it context; folded to one
    script (:func:`rag.text.script.fold`), so Traditional and Simplified words match."""
    head = c.title if not c.section else f"{c.title} {c.section}"
    return fold(f"{head}\n{c.text}")
