"""Character bigrams as integers, and set membership over many of them at once.

A bigram's code is both code points side by side (21 bits each) under a channel tag, so
that "which of the question's bigrams does each candidate hold, in its text and on each
side" is one array membership test and one count. :func:`span_codes` and
:func:`range_codes` make the codes of many ranges of one text without a Python loop per
character; :func:`isin` is the membership test.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from rag.reader.offline.terms import bigrams
from rag.text.ranges import concat_ranges


def pair_codes(pairs: Iterable[str], channel: int = 0) -> list[int]:
    """Each two-character string as one integer: both code points side by side, 21 bits
    each, above them the channel (0: the candidate's text, 1: before it, 2: after it)."""
    tag = channel << 42
    return [tag | (ord(b[0]) << 21) | ord(b[1]) for b in pairs]


# multipliers for isin's hash (odd 64-bit constants of well-known mixers)
_MIXERS = tuple(
    np.uint64(m)
    for m in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53)
)
_SLOT_BITS = 12
_SLOT_SHIFT = np.uint64(64 - _SLOT_BITS)


def isin(codes: np.ndarray, wanted: Sequence[int]) -> np.ndarray:
    """Which of ``codes`` are among ``wanted`` (a few dozen distinct codes).

    A small hash table: each wanted code in its own slot of 4096 (multiplicative hashing,
    with the first multiplier under which no two wanted codes share a slot), and a code
    is wanted if its slot holds it: about half the time of a bisection per code at the
    usual few thousand codes; a bisection when every multiplier collides.
    """
    if not wanted:
        return np.zeros(len(codes), dtype=bool)
    w = np.array(wanted, dtype=np.int64)
    u = w.view(np.uint64)
    for mix in _MIXERS:
        slots = (u * mix) >> _SLOT_SHIFT
        if len(set(slots.tolist())) == len(w):
            table = np.full(1 << _SLOT_BITS, -1, dtype=np.int64)  # no code is negative
            table[slots] = w
            return table[(codes.view(np.uint64) * mix) >> _SLOT_SHIFT] == codes
    return _isin_sorted(codes, w)


def _isin_sorted(codes: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """:func:`isin` by a bisection per code."""
    w = np.unique(wanted)
    return w[np.minimum(np.searchsorted(w, codes), len(w) - 1)] == codes


def row_codes(text: str, s: int, e: int) -> tuple[list[int], int]:
    """The codes of the bigrams of ``text[s:e]`` (channel 0) and of the ten characters before
    (1) and after (2) it, all distinct, and how many are the span's own."""
    own = pair_codes(bigrams(text[s:e]))
    before = pair_codes(bigrams(text[max(s - 10, 0) : s]), 1)
    return own + before + pair_codes(bigrams(text[e : e + 10]), 2), len(own)


def span_codes_one_by_one(text: str, spans: np.ndarray) -> np.ndarray:
    """What :func:`span_codes` computes, by its definition, candidate by candidate."""
    keys = [
        (row << 44) | code
        for row, (s, e) in enumerate(spans[:, :2].tolist())
        for code in row_codes(text, s, e)[0]
    ]
    return np.array(sorted(keys), dtype=np.int64)


def span_codes(text: str, spans: np.ndarray) -> np.ndarray:
    """The distinct bigram codes of every candidate's text and sides, as ``row << 44 | code``.

    For candidate ``row`` spanning [s, e) of ``text``: channel 0 is ``bigrams(text[s:e])``,
    1 the bigrams of the ten characters before, 2 of the ten after, each side taken
    without whitespace when it holds a space, tab or newline (as :func:`flat` does).
    Sorted, so that each row's codes come together and in row order.
    """
    n = len(text)
    if len(spans) <= 2 or n < 2:  # a trimmed candidate: less work one by one
        return span_codes_one_by_one(text, spans)
    s, e = spans[:, 0], spans[:, 1]
    a = np.concatenate([s, np.maximum(s - 10, 0), e])  # channel by channel, rows in order
    b = np.concatenate([e, s, np.minimum(e + 10, n)])
    rows = np.arange(3 * len(spans), dtype=np.int64) % len(spans)
    tags = (rows << 44) | (np.repeat(np.arange(3, dtype=np.int64), len(spans)) << 42)
    return range_codes(text, a, b, tags)


# which code points are whitespace (str.isspace); none is above U+3000, the last entry
# stands for every code point above the table
IS_SPACE = np.array([chr(i).isspace() for i in range(0x3001)] + [False])


def code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as int64, in one copy (no call per character)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(
        np.int64
    )


def range_codes(text: str, a: np.ndarray, b: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """The distinct values of ``tags[i] | code`` over the bigram codes of every range
    ``text[a[i]:b[i]]`` (a range holding a space, tab or newline taken without whitespace,
    as :func:`bigrams` does), sorted. All from two arrays of the text's pair codes (as
    written, and without whitespace)."""
    n = len(text)
    c = code_points(text)
    space = IS_SPACE[np.minimum(c, len(IS_SPACE) - 1)]
    basic = (c == 32) | (c == 10) | (c == 9)
    solid = c[~space]
    pool = np.concatenate([(c[:-1] << 21) | c[1:], (solid[:-1] << 21) | solid[1:]])
    rank = np.zeros(n + 1, dtype=np.int64)  # rank[i]: characters before i that are not space
    np.cumsum(~space, out=rank[1:])
    basics = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(basic, out=basics[1:])
    flat = basics[b] > basics[a]
    start = np.where(flat, n - 1 + rank[a], a)
    length = np.maximum(np.where(flat, rank[b] - rank[a], b - a) - 1, 0)
    keys = np.sort(np.repeat(tags, length) | pool[concat_ranges(start, length)])
    distinct = np.ones(len(keys), dtype=bool)  # what np.unique returns, at a quarter of its cost
    np.not_equal(keys[1:], keys[:-1], out=distinct[1:])
    return keys[distinct]
