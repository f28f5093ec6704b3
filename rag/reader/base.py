"""What every reader takes and gives: passages in, a :class:`Reading` of ranked
:class:`SpanGuess` es out (the :class:`Reader` protocol)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.types import Passage


@dataclass(frozen=True)
class SpanGuess:
    """A candidate answer: ``article.text[start:end]`` of the article of ``passages[passage]``.

    Offsets are into the article's cleaned text (not the chunk's), so the pipeline can find
    the whole sentence around the span even when a chunk cut it.
    """

    passage: int  # index into the passages the reader was given
    start: int
    end: int
    text: str
    score: float  # the reader's own score: comparable only within one reading
    kind: str = "span"  # number, date, person, organization, place, term, phrase, span


@dataclass(frozen=True)
class Reading:
    """A reader's output: guesses best first and the probability that the first is right."""

    guesses: tuple[SpanGuess, ...]
    confidence: float  # in [0, 1]; calibrated for the offline reader
    answer_type: str | None = None
    threshold: float = 0.5  # below it the pipeline abstains (chosen on the dev split)


class Reader(Protocol):
    name: str
    offline: bool

    def read(self, question: str, passages: Sequence[Passage]) -> Reading: ...
