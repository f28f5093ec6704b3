"""Domain values shared by every layer: documents, articles, chunks, passages, answers.

Offsets are Python string indices into the original file text as read, so that
``document.text[start:end]`` is exactly the quoted text.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.text.mapped import MappedText


def _fields(value: Any) -> dict[str, Any]:
    """A flat dataclass's fields as a dict (``asdict`` without its deep copy: the values
    are strings, numbers and None)."""
    return {name: getattr(value, name) for name in value.__dataclass_fields__}


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
    # what the file says of itself (a web page's author, date, site as publication): the
    # defaults of its articles' fields
    meta: Mapping[str, str] = field(default_factory=dict)


class OffsetRuns(Sequence[int]):
    """Per-character original offsets, held as runs of consecutive offsets.

    Cleaning deletes a character here and there; between deletions the map is a plain
    shift, so an article's few thousand offsets are a few dozen runs. A lookup is a
    bisection. Equal to any sequence of the same offsets.

    >>> o = OffsetRuns.of((0, 1, 2, 5, 6, 9))
    >>> o.runs(), o[3], list(o) == [0, 1, 2, 5, 6, 9]
    ([0, 0, 3, 5, 5, 9], 5, True)
    """

    __slots__ = ("_n", "_starts", "_shifts")

    def __init__(self, runs: Sequence[int], n: int) -> None:
        from array import array

        self._n = n
        self._starts = array("q", runs[0::2])
        self._shifts = array("q", (o - p for p, o in zip(runs[0::2], runs[1::2])))

    @classmethod
    def of(cls, offsets: Sequence[int]) -> OffsetRuns:
        if isinstance(offsets, OffsetRuns):
            return offsets
        runs: list[int] = []
        prev = None
        for i, o in enumerate(offsets):
            if prev is None or o != prev + 1:
                runs += [i, int(o)]
            prev = o
        return cls(runs, len(offsets))

    def runs(self) -> list[int]:
        """Flat ``[text position, original offset, ...]`` where each run starts."""
        return [x for p, d in zip(self._starts, self._shifts) for x in (p, p + d)]

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return tuple(self[k] for k in range(*i.indices(self._n)))
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("offset index out of range")
        return i + self._shifts[bisect.bisect_right(self._starts, i) - 1]

    def __iter__(self) -> Iterator[int]:
        ends = [*self._starts[1:], self._n]
        for p, d, e in zip(self._starts, self._shifts, ends):
            yield from range(p + d, e + d)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, OffsetRuns):
            return self._n == other._n and self.runs() == other.runs()
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == self._n and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._n, tuple(self.runs())))

    def __repr__(self) -> str:
        return f"OffsetRuns({self.runs()}, {self._n})"


@dataclass(frozen=True)
class Article:
    """A piece a reader would name: a feature, a news brief, a theory article."""

    id: str
    title: str
    source: str
    start: int
    end: int
    text: str  # cleaned body text (what is indexed and read)
    offsets: Sequence[int] = field(repr=False, default=())  # original offset of each text char
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
        return _fields(self)


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
        return _fields(self)

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
        return _fields(self)


DOUBT_BELOW = 0.5  # an answer given with a lower confidence is shown as a guess


@dataclass(frozen=True)
class Answer:
    """What ``rag ask`` and ``POST /ask`` return.

    ``answer`` is None when the service abstains; ``best_guess`` then still holds the span
    the reader would have given (for the eval's coverage curve and for debugging).
    ``confidence`` is the reader's calibrated probability that the answer is right; an
    answer under :data:`DOUBT_BELOW` is ``doubtful`` (more likely wrong than right) and is
    shown as a guess ("可能是…").
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
    # a follow-up completed from the conversation: the question that was answered
    understood_as: str | None = None

    @property
    def abstained(self) -> bool:
        return self.answer is None

    @property
    def doubtful(self) -> bool:
        """Answered, but more likely wrong than right: shown as a guess, with its confidence."""
        return self.answer is not None and self.confidence < DOUBT_BELOW

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "confidence": round(float(self.confidence), 4),
            "abstained": self.abstained,
            "doubtful": self.doubtful,
            "evidence": self.evidence.to_json() if self.evidence else None,
            "citations": [c.to_json() for c in self.citations],
            "passages": [p.to_json() for p in self.passages],
            "best_guess": self.best_guess,
            "answer_type": self.answer_type,
            "reader": self.reader,
            "index_version": self.index_version,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "understood_as": self.understood_as,
        }
