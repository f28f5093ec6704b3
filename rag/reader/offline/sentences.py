"""Which sentences of the retrieved passages the offline reader reads: the ones holding most
of the question (its weighted words and its bigrams), each sentence once.

A chunk's sentences and their bigram codes are cached by chunk, so a passage retrieved
again for another question costs only the question's part.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rag.reader.offline.codes import isin, pair_codes, range_codes
from rag.reader.offline.terms import QuestionTerms
from rag.text.sentences import article_sentences
from rag.types import Article, Passage


@dataclass
class Sentence:
    """A sentence chosen for a question, with how much of the question it holds."""

    passage: int
    article: Article
    start: int  # in article text
    end: int
    text: str
    cover: float = 0.0
    cover_bigrams: float = 0.0
    rank: int = 0
    terms: tuple[int, ...] = ()  # the question words it holds (indices into qt.terms)


@dataclass(frozen=True)
class ChunkSentences:
    """The sentences a chunk overlaps: where each starts in the article (its identity), the
    span read (a run-on over 400 characters is cut to the chunk), its text, and the codes
    of its bigrams without whitespace (see :func:`pair_codes`), all rows together."""

    starts: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]
    texts: tuple[str, ...]
    codes: np.ndarray
    rows: np.ndarray
    whole: str  # from the first sentence's start to the last one's end: which words to look for


@lru_cache(maxsize=8192)
def chunk_sentences(text: str, c0: int, c1: int) -> ChunkSentences:
    """The sentences of article ``text`` that the chunk ``text[c0:c1]`` overlaps."""
    spans, ends = _sentence_index(text)
    starts, read = [], []
    for s, e in spans[bisect.bisect_right(ends, c0) :]:  # from the first ending after c0
        if s >= c1:
            break
        starts.append(s)
        read.append((max(s, c0), min(e, c1)) if e - s > 400 else (s, e))
    texts = tuple(text[s:e] for s, e in read)
    if not read:
        empty = np.zeros(0, dtype=np.int64)
        return ChunkSentences((), (), (), empty, empty, "")
    w0, whole = read[0][0], text[read[0][0] : read[-1][1]]
    ranges = np.array(read, dtype=np.int64) - w0
    keys = range_codes(whole, ranges[:, 0], ranges[:, 1], np.arange(len(read)) << 44)
    return ChunkSentences(
        tuple(starts), tuple(read), texts, keys & ((1 << 44) - 1), keys >> 44, whole
    )


@lru_cache(maxsize=4096)
def _sentence_index(text: str) -> tuple[tuple[tuple[int, int], ...], list[int]]:
    """An article's sentence spans and their ends (sorted), to find a chunk's by bisection."""
    spans = article_sentences(text)
    return spans, [e for _, e in spans]


def select_sentences(
    qt: QuestionTerms, passages: Sequence[Passage], keep: int = 6
) -> list[Sentence]:
    """The sentences of the passages that hold most of the question, best first."""
    terms = [t for t, _ in qt.terms]
    weights = [w for _, w in qt.terms]
    seen: dict[str, set[int]] = {}  # article id -> the starts of its sentences taken
    found: list[tuple[int, Article, ChunkSentences, int]] = []  # passage, article, table, row
    covers: list[float] = []
    helds: list[tuple[int, ...]] = []
    code_parts: list[tuple[np.ndarray, np.ndarray]] = []
    for pi, p in enumerate(passages):
        a = p.article
        if a is None:
            continue
        c0 = p.chunk.text_start
        table = chunk_sentences(a.text, c0, c0 + len(p.chunk.text))
        taken = seen.setdefault(a.id, set())
        base = len(found)
        if taken.isdisjoint(table.starts):
            fresh: Sequence[int] = range(len(table.starts))
            code_parts.append((table.codes, table.rows + base))
        else:  # a sentence seen in an earlier passage is dropped
            fresh = [j for j, s0 in enumerate(table.starts) if s0 not in taken]
            renumber = np.full(len(table.starts), -1)
            renumber[fresh] = np.arange(base, base + len(fresh))
            rows = renumber[table.rows]
            code_parts.append((table.codes[rows >= 0], rows[rows >= 0]))
        taken.update(table.starts)
        found.extend((pi, a, table, j) for j in fresh)
        present = [k for k, t in enumerate(terms) if t in table.whole]  # only these can be in one
        if not present:
            helds.extend([()] * len(fresh))
            covers.extend([0.0] * len(fresh))
            continue
        for j in fresh:
            held = tuple(k for k in present if terms[k] in table.texts[j])
            helds.append(held)
            covers.append(sum(weights[k] for k in held) / qt.weight if held else 0.0)
    if not found:
        return []
    # the question's bigrams each sentence holds, all sentences at once
    codes = np.concatenate([c for c, _ in code_parts])
    rows = np.concatenate([r for _, r in code_parts])
    hit = isin(codes, pair_codes(qt.bigrams))
    nb = len(qt.bigrams) or 1
    held_bigrams = (np.bincount(rows, weights=hit, minlength=len(found)) / nb).tolist()
    order = sorted(
        range(len(found)),
        key=lambda i: -(covers[i] + held_bigrams[i] + 0.15 / (1 + found[i][0])),
    )
    out = []
    for r, i in enumerate(order[:keep]):
        pi, a, table, j = found[i]
        s, e = table.spans[j]
        text = table.texts[j]
        out.append(Sentence(pi, a, s, e, text, covers[i], held_bigrams[i], r, helds[i]))
    return out
