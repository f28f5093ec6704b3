"""The reader interface: from a question and retrieved passages to ranked answer spans.

Two implementations sit behind it: :class:`rag.offline_reader.OfflineReader` (no download,
learned weights shipped with the package) and :class:`rag.hf_reader.TransformersReader`
(an extractive-QA model by name or local path). :func:`make_reader` picks one; ``auto``
uses the model when it loads from the local file system and the offline reader otherwise.

>>> reader = make_reader("offline")
>>> reader.name, reader.offline
('offline', True)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.types import Passage

log = logging.getLogger("rag.reader")

DEFAULT_QA_MODEL = "uer/roberta-base-chinese-extractive-qa"


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


def make_reader(spec: str = "auto") -> Reader:
    """``offline``, ``auto``, or a model name / local path for :class:`TransformersReader`.

    ``auto`` never touches the network: it uses :data:`DEFAULT_QA_MODEL` only when that is
    already on disk (a local path or the Hugging Face cache), else the offline reader.
    """
    from rag.offline_reader import OfflineReader

    if spec == "offline":
        return OfflineReader.load()
    from rag.hf_reader import TransformersReader, resolve_local_qa_model

    if spec == "auto":
        path = resolve_local_qa_model(DEFAULT_QA_MODEL)
        if path is None:
            log.info("reader: no local copy of %s; using the offline reader", DEFAULT_QA_MODEL)
            return OfflineReader.load()
        return TransformersReader(path)
    return TransformersReader(spec)
