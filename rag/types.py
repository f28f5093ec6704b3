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


@dataclass(frozen=True)
class Citation:
    """The article an answer comes from; ``start``/``end`` are its span in the source file."""

    article_id: str
    title: str
    source: str
    start: int
    end: int
    publication: str | None = None
    issue: str | None = None
    author: str | None = None
    column: str | None = None
    date: str | None = None

    @classmethod
    def of(cls, article: Article) -> Citation:
        return cls(
            article_id=article.id,
            title=article.title,
            source=article.source,
            start=article.start,
            end=article.end,
            publication=article.publication,
            issue=article.issue,
            author=article.author,
            column=article.column,
            date=article.date,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """One line a person can follow: 《title》 · publication issue · author · file:start-end."""
        parts = [self.title if self.title.startswith("《") else f"《{self.title}》"]
        pub = " ".join(p for p in (self.publication, self.issue) if p)
        if pub:
            parts.append(pub)
        if self.author:
            parts.append(self.author)
        parts.append(f"{self.source}:{self.start}-{self.end}")
        return " · ".join(parts)


@dataclass(frozen=True)
class Evidence:
    """The sentence that holds the answer, copied from the source file.

    ``text == original[start:end]``; the answer is ``original[answer_start:answer_end]``,
    inside it.
    """

    text: str
    source: str
    start: int
    end: int
    answer_start: int | None = None
    answer_end: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """What ``rag ask`` and ``POST /ask`` return.

    ``answer`` is None when the service abstains; ``best_guess`` then still holds the span
    the reader would have given (for the eval's coverage curve and for debugging).
    """

    question: str
    answer: str | None
    confidence: float
    evidence: Evidence | None = None
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    best_guess: str | None = None
    answer_type: str | None = None  # what the question asks for: number, date, person, ...
    reader: str = ""
    index_version: str = ""  # the index version that answered (one per answer, never a mix)
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def abstained(self) -> bool:
        return self.answer is None

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "confidence": round(float(self.confidence), 4),
            "abstained": self.abstained,
            "evidence": self.evidence.to_json() if self.evidence else None,
            "citations": [c.to_json() for c in self.citations],
            "passages": [p.to_json() for p in self.passages],
            "best_guess": self.best_guess,
            "answer_type": self.answer_type,
            "reader": self.reader,
            "index_version": self.index_version,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
