"""The feature matrix of a question's candidates: the question-free columns from the
sentence cache, the rest computed here over every candidate at once where it can be
(bigram counts, nearness), per sentence where it must (the article's title), per candidate
only where a cheap test has already picked the few that need it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from rag.reader.base import SpanGuess
from rag.reader.offline.codes import isin, pair_codes
from rag.reader.offline.columns import COLUMN, FEATURES, KIND_INDEX, KINDS
from rag.reader.offline.reads import (
    CLOSE_FIRST,
    FIRST,
    LAST,
    NBIG,
    NCODES,
    OPEN_LAST,
    SPAN,
    STATIC,
    TEXT_LAST,
    Block,
    CandidateRead,
    sentence_reads,
    trimmed_block,
    trimmed_spans,
)
from rag.reader.offline.sentences import Sentence, select_sentences
from rag.reader.offline.terms import QuestionTerms, bigrams, trim_left, trim_right
from rag.types import Article, Passage

_PER_SENTENCE = [
    COLUMN[f] for f in ("sent_cover", "sent_cover_bigrams", "sent_rank", "passage_rank")
]


@dataclass
class CandidateRow:
    """One candidate with where it stands; ``x`` is its feature vector (order of FEATURES)."""

    passage: int
    article: Article
    start: int  # in article text
    end: int
    text: str
    kind: str
    x: np.ndarray


@dataclass(frozen=True)
class Featurised:
    """The candidates of one question: feature matrix ``x`` (one row each, FEATURES order)."""

    sentences: list[Sentence]  # each row's sentence
    reads: list[CandidateRead]  # each row's candidate
    x: np.ndarray

    def __len__(self) -> int:
        return len(self.reads)

    def guess(self, k: int, score: float) -> SpanGuess:
        sent, c = self.sentences[k], self.reads[k].cand
        return SpanGuess(
            sent.passage, sent.start + c.start, sent.start + c.end, c.text, score, c.kind
        )

    def row(self, k: int) -> CandidateRow:
        sent, c = self.sentences[k], self.reads[k].cand
        return CandidateRow(
            sent.passage,
            sent.article,
            sent.start + c.start,
            sent.start + c.end,
            c.text,
            c.kind,
            self.x[k],
        )


def featurise(qt: QuestionTerms, passages: Sequence[Passage], keep: int = 6) -> list[CandidateRow]:
    """Every candidate of the best sentences with its feature vector."""
    f = featurise_matrix(qt, passages, keep)
    return [f.row(k) for k in range(len(f))]


def featurise_matrix(qt: QuestionTerms, passages: Sequence[Passage], keep: int = 6) -> Featurised:
    """The candidates and their features as one matrix; rows are made only when asked for."""
    qa = qt.analysis
    sentences = select_sentences(qt, passages, keep)
    row_sents, blocks, titles, sizes = _gather(qa.text, sentences)
    n = len(row_sents)
    if not n:
        return Featurised([], [], np.zeros((0, len(FEATURES)), dtype=np.float32))
    reads = list(chain.from_iterable(b.reads for b in blocks))
    at = COLUMN
    ext = np.concatenate([b.ext for b in blocks])
    x = np.zeros((n, len(FEATURES)), dtype=np.float32)
    x[:, STATIC] = ext[:, : len(STATIC)]
    spans = ext[:, SPAN : SPAN + 3].astype(np.int64)
    x[np.arange(n), at[f"{qa.answer_type}*{KINDS[0]}"] + spans[:, 2]] = 1.0
    # per sentence: how much of the question it holds and its rank, copied to its candidates
    per_sentence = [
        (t.cover, t.cover_bigrams, 1.0 / (1 + t.rank), 1.0 / (1 + t.passage)) for t in sentences
    ]
    x[:, _PER_SENTENCE] = np.asarray(per_sentence, dtype=np.float32).repeat(sizes, axis=0)
    x[:, at["near_cover"]], x[:, at["distance"]] = nearness(qt, sentences, sizes, spans)
    _overlap_columns(x, qt, blocks, reads, ext)
    # how often the same text stands among the candidates
    hashes = np.concatenate([b.hashes for b in blocks])
    ordered = np.sort(hashes)
    same = np.searchsorted(ordered, hashes, "right") - np.searchsorted(ordered, hashes, "left")
    x[:, at["redundancy"]] = np.log1p(same - 1.0)
    x[:, at["in_title"]] = titles
    _question_word_columns(x, qt, reads, ext, spans)
    return Featurised(row_sents, reads, x)


def _gather(
    qtext: str, sentences: Sequence[Sentence]
) -> tuple[list[Sentence], list[Block], list[bool], list[int]]:
    """Each sentence's cached candidates, then the ones this question trims out of them (only
    a candidate whose first or last two characters the question holds can be trimmed): each
    row's sentence, the blocks in row order, whether each row's text is in its article's
    title, and how many rows each sentence has."""
    q_pairs = {qtext[i : i + 2] for i in range(len(qtext) - 1)}
    row_sents: list[Sentence] = []
    blocks: list[Block] = []
    titles: list[bool] = []
    sizes: list[int] = []  # candidates per sentence, in order
    for sent in sentences:
        sr = sentence_reads(sent.text)
        text, title = sent.text, sent.article.title
        blocks.append(sr.block)
        titles.extend(sr.block.in_title(title))
        size = len(sr.block)
        for r in sr.trimmable:
            head, tail = r.cand.text[:2] in q_pairs, r.cand.text[-2:] in q_pairs
            if head or tail:
                for s, e in trimmed_spans(r.cand, qtext, head, tail):
                    blocks.append(trimmed_block(text, r, s, e))
                    titles.append(text[s:e] in title)
                    size += 1
        row_sents.extend([sent] * size)
        sizes.append(size)
    return row_sents, blocks, titles, sizes


def _overlap_columns(
    x: np.ndarray,
    qt: QuestionTerms,
    blocks: Sequence[Block],
    reads: Sequence[CandidateRead],
    ext: np.ndarray,
) -> None:
    """Fill the columns that compare each candidate's text and sides with the question's:
    bigram overlaps, in_question, the alignment of the words around the question word."""
    qa = qt.analysis
    at = COLUMN
    n = len(reads)
    left = trim_left(qa.left)[-8:]
    right = trim_right(qa.right)[:8]
    qtext = qa.text
    # bigram overlaps of the text and of each side with the question's, every row at once
    qbig, left_bigrams, right_bigrams = bigrams(qtext), bigrams(left), bigrams(right)
    codes = np.concatenate([b.codes for b in blocks])
    rows = np.repeat(np.arange(n), ext[:, NCODES].astype(np.int64))
    hit = isin(codes, pair_codes(qbig) + pair_codes(left_bigrams, 1) + pair_codes(right_bigrams, 2))
    held = np.bincount(rows * 3 + (codes >> 42), weights=hit, minlength=3 * n).reshape(n, 3)
    # in the question as a whole: a text of two or more characters can be only if the
    # question holds all its bigrams
    n_big = ext[:, NBIG].astype(np.float64)
    in_q = np.zeros(n, dtype=np.float64)
    ks = np.flatnonzero((n_big == 0) | (held[:, 0] == n_big))
    in_q[ks] = [reads[k].cand.text in qtext for k in ks.tolist()]
    x[:, at["in_question"]] = np.where(n_big > 0, held[:, 0] / np.maximum(n_big, 1), in_q)
    x[:, at["all_in_question"]] = in_q
    if left_bigrams:
        x[:, at["left_align"]] = held[:, 1] / len(left_bigrams)
    if right_bigrams:
        x[:, at["right_align"]] = held[:, 2] / len(right_bigrams)
    # adjacency: only candidates whose side ends (starts) with the question side's character
    if left:
        left_ends = [left[-k:] for k in range(min(len(left), 4), 0, -1)]
        ks = np.flatnonzero(ext[:, LAST] == ord(left[-1]))
        x[ks, at["left_adjacent"]] = [
            _adjacent(reads[k].before_trim.endswith, left_ends) for k in ks.tolist()
        ]
    if right:
        right_starts = [right[:k] for k in range(min(len(right), 4), 0, -1)]
        ks = np.flatnonzero(ext[:, FIRST] == ord(right[0]))
        x[ks, at["right_adjacent"]] = [
            _adjacent(reads[k].after_trim.startswith, right_starts) for k in ks.tolist()
        ]


def _question_word_columns(
    x: np.ndarray,
    qt: QuestionTerms,
    reads: Sequence[CandidateRead],
    ext: np.ndarray,
    spans: np.ndarray,
) -> None:
    """Fill the columns about what the question word asks for: its noun, the head noun of a
    "叫什么" question, and the unit of a number."""
    qa = qt.analysis
    at = COLUMN
    if qt.wh_noun:
        last = ext[:, TEXT_LAST] == ord(qt.wh_noun[-1])
        x[:, at["wh_noun_last_char"]] = last
        ks = np.flatnonzero(last)
        x[ks, at["wh_noun_suffix"]] = [reads[k].cand.text.endswith(qt.wh_noun) for k in ks.tolist()]
    if qt.head:
        ks = np.flatnonzero(ext[:, CLOSE_FIRST] == ord(qt.head[0]))
        x[ks, at["head_follows"]] = [reads[k].after_close.startswith(qt.head) for k in ks.tolist()]
        ks = np.flatnonzero(ext[:, OPEN_LAST] == ord(qt.head[-1]))
        x[ks, at["head_precedes"]] = [reads[k].before_open.endswith(qt.head) for k in ks.tolist()]
    if qa.unit or qa.unit_class:
        for k in np.flatnonzero(spans[:, 2] == KIND_INDEX["number"]).tolist():
            r = reads[k]
            unit = r.cand.unit
            if qa.unit and unit and (unit.endswith(qa.unit) or qa.unit.endswith(unit)):
                x[k, at["unit_match"]] = 1.0
            if qa.unit_class and r.unit_class:
                match = r.unit_class == qa.unit_class
                x[k, at["unit_class_match" if match else "unit_class_mismatch"]] = 1.0


def _adjacent(test: Callable[[str], bool], pieces: list[str]) -> float:
    """How many (up to 4) characters of the question's side the text's side repeats, over 4.

    ``pieces`` are the side's last (or first) 4, 3, 2, 1 characters; ``test`` is the text
    side's ``endswith`` (or ``startswith``).
    """
    for p in pieces:
        if test(p):
            return len(p) / 4
    return 0.0


def nearness(
    qt: QuestionTerms,
    sentences: Sequence[Sentence],
    sizes: Sequence[int],
    spans: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``near_cover`` and ``distance`` of every candidate, in one pass over all sentences.

    near_cover: the weight of the question words standing within 20 characters of the
    candidate (each word once); distance: characters to the nearest question word in the
    same sentence, capped at 60.
    """
    n = len(spans)
    terms = qt.terms
    hits = [
        (si, p, k)
        for si, sent in enumerate(sentences)
        for k in sent.terms
        for p in positions(sent.text, terms[k][0])
    ]
    if not hits:
        return np.zeros(n, dtype=np.float32), np.ones(n, dtype=np.float32)
    # each sentence's positions moved 2**24 apart, so that a word in another sentence is
    # never near a candidate nor its nearest word
    h = np.array(hits, dtype=np.int64)  # (hits, 3): sentence, start, term
    lengths = np.array([len(t) for t, _ in terms], dtype=np.int64)
    hs = h[:, 1] + (h[:, 0] << 24)
    he = hs + lengths[h[:, 2]]
    shift = np.repeat(np.arange(len(sentences), dtype=np.int64) << 24, sizes)
    cs, ce = spans[:, 0] + shift, spans[:, 1] + shift
    # near: word k starts somewhere in [cs - 20, ce + 20 - len(k)]; one sorted array of
    # (word, start) keys answers that for every candidate and word by two bisections
    keys = np.sort((h[:, 2] << 40) | hs)
    found = sorted({k for _, _, k in hits})  # the words that stand anywhere
    words = np.array(found, dtype=np.int64) << 40
    lo = np.searchsorted(keys, words + (cs - 20)[:, None], "left")
    hi = np.searchsorted(keys, words + (ce + 20)[:, None] - lengths[found], "right")
    near = (hi > lo) @ np.array([terms[k][1] for k in found]) / qt.weight  # each word once
    # characters between candidate and word: a word starting before the candidate's end is
    # (ce - cs) away from it by cs - its end (overlap: 0), so the latest-ending of them is
    # the nearest; of the words starting at or after the end, the first one
    by_start = np.argsort(hs, kind="stable")
    starts, ends = hs[by_start], np.maximum.accumulate(he[by_start])
    at = np.searchsorted(starts, ce, "left")  # the first word starting at or after the end
    far = np.int64(1 << 40)
    before = np.where(at > 0, np.maximum(cs - ends[np.maximum(at - 1, 0)], 0), far)
    after = np.where(at < len(starts), starts[np.minimum(at, len(starts) - 1)] - ce, far)
    dist = np.minimum(before, after)
    return near, np.minimum(dist, 60) / 60


def positions(text: str, term: str) -> list[int]:
    """Where ``term`` starts in ``text``, the first eight times."""
    out, i = [], text.find(term)
    while i >= 0 and len(out) < 8:
        out.append(i)
        i = text.find(term, i + 1)
    return out
