"""Domain values shared by every layer: documents, articles, chunks, passages, answers.

Offsets are Python string indices into the original file text as read, so that
``document.text[start:end]`` is exactly the quoted text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rag.cleaning import MappedText


@dataclass(frozen=True)
class Document:
    """One file of the corpus, decoded.

    >>> Document(source="a.txt", text="你好", encoding="utf-8").source
    'a.txt'
    """

    source: str  # path relative to the corpus root, with forward slashes
    text: str  # the original text as read; every offset in the system points into it
    encoding: str = "utf-8"
    kind: str = "text"  # text | markdown | html | pdf | docx


@dataclass(frozen=True)
class Article:
    """A piece a reader would name: a feature, a news brief, a theory article."""

    id: str
    title: str
    source: str
    start: int
    end: int
    text: str  # cleaned body text (what is indexed and read)
    offsets: tuple[int, ...] = field(repr=False, default=())  # original offset of each text char
    author: str | None = None
    column: str | None = None
    publication: str | None = None
    issue: str | None = None
    date: str | None = None
    sections: tuple[tuple[int, str], ...] = ()  # (text offset where a section starts, heading)

    def to_json(self) -> dict[str, Any]:
        """The contract form of ``rag articles --json``."""
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "chars": len(self.text),
        }
        for key in ("author", "column", "publication", "issue", "date"):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.sections:
            out["sections"] = [title for _, title in self.sections]
        return out

    def original_span(self, i: int, j: int) -> tuple[int, int]:
        """Map the text span [i, j) back to [start, end) in the original file."""
        return MappedText(self.text, self.offsets).span(i, j)

    def section_at(self, i: int) -> str | None:
        current = None
        for pos, heading in self.sections:
            if pos > i:
                break
            current = heading
        return current


@dataclass(frozen=True)
class Chunk:
    """A passage of one article: the unit that is indexed and retrieved."""

    id: str
    article_id: str
    title: str
    source: str
    start: int  # original-file offsets
    end: int
    text: str  # cleaned text
    text_start: int = 0  # offset of ``text`` inside the article's cleaned text
    section: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its score and its article's metadata."""

    chunk: Chunk
    score: float
    article: Article | None = None
    dense_rank: int | None = None
    sparse_rank: int | None = None

    def to_json(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "chunk_id": c.id,
            "article_id": c.article_id,
            "title": c.title,
            "source": c.source,
            "start": c.start,
            "end": c.end,
            "text": c.text,
            "score": round(float(self.score), 6),
            "section": c.section,
        }
