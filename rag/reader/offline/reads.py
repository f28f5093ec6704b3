"""The question-free part of every candidate: what its features need from its sentence
alone (the words and characters on each side, its static columns, its bigram codes),
worked out once per sentence and cached, in the arrays a question's features are made of.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from rag.reader.candidates import Candidate, extract, unit_class_of, verb_heads, words
from rag.reader.offline.codes import row_codes, span_codes
from rag.reader.offline.columns import COLUMN, KIND_INDEX
from rag.reader.offline.terms import trim_left, trim_right
from rag.text.lexicon import SPAN_BOUNDARY_CHARS, TITLE_WORDS_BEFORE_NAMES, ends_with_one_of

_TITLE_BEFORE = ends_with_one_of(TITLE_WORDS_BEFORE_NAMES)
_BOUNDARY = re.compile(f"[{SPAN_BOUNDARY_CHARS}]")
TRIMMABLE = ("organization", "place", "noun")  # kinds a question may trim a head or tail off


@dataclass(slots=True)  # read-only but for ``trims`` (cached, shared); frozen costs 5× to make
class CandidateRead:
    """What a candidate's features need from its sentence alone, worked out once per sentence.

    Everything here depends on the sentence text and the span, never on the question, so a
    sentence retrieved again for another question costs nothing but the question's part.
    """

    cand: Candidate
    kind: int  # index into KINDS
    before_trim: str  # up to 10 characters before the span, without the function words next to it
    after_trim: str  # likewise after it
    before_open: str  # without opening quotes / closing quotes next to the span
    after_close: str
    unit_class: str | None
    trimmable: bool  # a name or noun phrase long enough to lose a head or tail
    trims: dict[tuple[int, int], Block] = field(
        default_factory=dict, compare=False
    )  # its trimmed forms, made when a question first trims it


# the question-free columns, in the order of a block's first ``ext`` columns
STATIC = list(
    COLUMN[f]
    for f in (
        "number_without_unit",
        "length",
        "tokens",
        "quoted",
        "after_title_word",
        "first_in_sentence",
        "clean_left",
        "clean_right",
        "starts_with_verb",
    )
)


def read_candidate(text: str, c: Candidate) -> tuple[CandidateRead, tuple[float, ...]]:
    """The question-free part of a candidate, and its question-free columns (``STATIC``)."""
    before = text[max(0, c.start - 10) : c.start]
    after = text[c.end : c.end + 10]
    static = (
        float(c.kind == "number" and c.unit is None),
        min(len(c.text), 30) / 10,
        min(c.tokens, 6) / 3,
        float(c.quoted),
        float(bool(_TITLE_BEFORE.search(before))),
        float(c.start <= 1),
        float(not before or bool(_BOUNDARY.match(before[-1]))),
        float(not after or bool(_BOUNDARY.match(after[0]))),
        float(starts_with_verb(c.text)),
    )
    read = CandidateRead(
        c,
        KIND_INDEX[c.kind],
        trim_left(before),
        trim_right(after),
        before.rstrip("“《「‘"),
        after.lstrip("”》」’"),
        unit_class_of(c.unit) if c.kind == "number" else None,
        c.kind in TRIMMABLE and len(c.text) >= 4,
    )
    return read, static


@lru_cache(maxsize=20_000)
def starts_with_verb(text: str) -> bool:
    """Whether the first word of ``text`` is a verb of two or more characters."""
    if text[:2] not in verb_heads():  # no verb of two or more characters starts so: no need to cut
        return False
    ws = words(text)
    return bool(ws) and ws[0][2] == "v" and ws[0][1] - ws[0][0] >= 2


# a block's ``ext`` columns: the question-free features (STATIC order), then these
SPAN, NBIG, LAST, FIRST, NCODES, TEXT_LAST, OPEN_LAST, CLOSE_FIRST = (
    len(STATIC) + i for i in (0, 3, 4, 5, 6, 7, 8, 9)
)
_EXT = len(STATIC) + 10


def _ord_last(s: str) -> int:
    return ord(s[-1]) if s else -1


def _ord_first(s: str) -> int:
    return ord(s[0]) if s else -1


def _ext_row(
    r: CandidateRead, static: tuple[float, ...], n_big: int = 0, n_codes: int = 0
) -> tuple:
    """A candidate's ``ext`` row (see :class:`Block`); the two counts are filled in later
    when the codes of the whole block are made at once."""
    c = r.cand
    return (
        *static,
        c.start,
        c.end,
        r.kind,
        n_big,
        _ord_last(r.before_trim),
        _ord_first(r.after_trim),
        n_codes,
        _ord_last(c.text),
        _ord_last(r.before_open),
        _ord_first(r.after_close),
    )


@dataclass(frozen=True)
class Block:
    """Candidates of one sentence (or one trimmed candidate) in the arrays a question needs.

    ``ext`` is the question-free feature columns (in ``STATIC`` order) followed by what the
    question's part is computed from: the span (start, end, kind index), how many distinct
    bigrams the text has, the code points that end ``before_trim`` and start
    ``after_trim``, how many codes the row has in ``codes``, and the code points that end
    the text, end ``before_open`` and start ``after_close`` (-1: empty). ``codes`` holds the
    bigrams of each text and of the ten characters each side, channel-tagged (see
    :func:`pair_codes`), row after row. So "how many of the question's bigrams does it
    hold", on every side of every candidate of a question, is one membership test and one
    count, and a string test ("does it end with the question's noun") is needed only where
    the character it turns on already matches. ``hashes``: each text's hash, to count equal
    texts among a question's candidates.
    """

    reads: tuple[CandidateRead, ...]
    ext: np.ndarray  # (candidates, _EXT), float32 (every value is exact in it)
    codes: np.ndarray  # int64
    hashes: np.ndarray  # int64
    titled: dict[str, tuple[bool, ...]] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, text: str, pairs: Sequence[tuple[CandidateRead, tuple[float, ...]]]) -> Block:
        """The block of candidates of ``text`` (their reads and static columns)."""
        reads = tuple(r for r, _ in pairs)
        if len(pairs) == 1:
            return cls._one(text, *pairs[0])
        if not pairs:
            empty = np.zeros(0, dtype=np.int64)
            return cls(reads, np.zeros((0, _EXT), dtype=np.float32), empty, empty)
        ext = np.array([_ext_row(r, static) for r, static in pairs], dtype=np.float32)
        keys = span_codes(text, ext[:, SPAN : SPAN + 3].astype(np.int64))
        rows = keys >> 44
        ext[:, NCODES] = np.bincount(rows, minlength=len(reads))
        ext[:, NBIG] = np.bincount(rows[(keys >> 42) & 3 == 0], minlength=len(reads))
        hashes = np.array([hash(r.cand.text) for r in reads], dtype=np.int64)
        return cls(reads, ext, keys & ((1 << 44) - 1), hashes)

    @classmethod
    def _one(cls, text: str, r: CandidateRead, static: tuple[float, ...]) -> Block:
        """:meth:`of` for a single candidate (a trimmed one) without the arrays' overhead."""
        c = r.cand
        s, e = c.start, c.end
        codes, n_big = row_codes(text, s, e)
        codes.sort()
        row = _ext_row(r, static, n_big, len(codes))
        hashes = np.array([hash(c.text)], dtype=np.int64)
        return cls((r,), np.array([row], dtype=np.float32), np.array(codes, dtype=np.int64), hashes)

    def __len__(self) -> int:
        return len(self.reads)

    def in_title(self, title: str) -> tuple[bool, ...]:
        """Whether each candidate's text stands in ``title`` (kept for a few titles)."""
        got = self.titled.get(title)
        if got is None:
            if len(self.titled) > 8:  # the same sentence in many articles: rare, bounded
                self.titled.clear()
            got = self.titled[title] = tuple(r.cand.text in title for r in self.reads)
        return got


def trimmed_block(text: str, r: CandidateRead, start: int, end: int) -> Block:
    """``r`` cut to [start, end) (in ``text``) as a block of one row, made once, kept on r."""
    got = r.trims.get((start, end))
    if got is None:
        c = r.cand
        t = Candidate(start, end, text[start:end], c.kind, c.unit, c.quoted, c.tokens)
        got = r.trims[(start, end)] = Block.of(text, [read_candidate(text, t)])
    return got


def trimmed_spans(c: Candidate, question: str, head: bool, tail: bool) -> list[tuple[int, int]]:
    """The candidate without a head or tail the question already names: the spans left.

    "中新天津生态城锦庐园小区" for "锦庐园小区位于哪里": the answer is what is left.
    ``head`` / ``tail``: whether the question holds the candidate's first / last two
    characters (no longer head or tail can be named otherwise).
    """
    out = []
    text, n = c.text, len(c.text)
    if tail:
        for k in range(2, n - 1):  # the longest tail the question names
            if text[k:] in question:
                out.append((c.start, c.start + k))
                break
    if head:
        for k in range(n - 2, 1, -1):  # the longest head the question names
            if text[:k] in question:
                out.append((c.start + k, c.end))
                break
    return out


@dataclass(frozen=True)
class SentenceReads:
    block: Block  # every candidate of the sentence
    trimmable: tuple[CandidateRead, ...]  # the reads a question may trim


@lru_cache(maxsize=4096)
def sentence_reads(text: str) -> SentenceReads:
    """The candidates of a sentence, each with its question-free part; one pass per sentence.

    Bounded: some 40 candidates a sentence at about a kilobyte each, so 4096 sentences (the
    hot set of a busy service) stay under 200 MB.
    """
    block = Block.of(text, [read_candidate(text, c) for c in extract(text)])
    return SentenceReads(block, tuple(r for r in block.reads if r.trimmable))
