"""The offline reader: candidate spans scored by learned weights, no download needed.

How it reads: the question is analysed (what kind of answer, which unit, the words on each
side of the question word); the sentences of the retrieved passages are ranked by how much
of the question they hold; candidate spans (numbers with units, dates, quoted terms,
names, noun phrases) are taken from the best sentences, and each gets features: does its
kind fit the question, does its unit, do the words around it align with the words around
the question word, how close it stands to the question's words, is it already in the
question. A logistic model over those features (trained by ``eval/train_reader.py`` on
questions generated from the corpus plus the dev split) ranks the candidates; a second
small model turns the winner's features into a calibrated probability of being right.

>>> reader = OfflineReader.load()
>>> reader.read("问题", []).guesses
()
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import chain
from pathlib import Path

import numpy as np

from rag.reader.base import Reading, SpanGuess
from rag.reader.candidates import Candidate, extract, unit_class_of, verb_heads, words
from rag.reader.question import QuestionAnalysis, analyse
from rag.text.ranges import concat_ranges
from rag.text.sentences import article_sentences
from rag.text.words import jieba_default
from rag.types import Article, Passage

WEIGHTS = Path(__file__).parent / "weights.json"

QTYPES = ("number", "date", "person", "place", "organization", "phrase")
KINDS = ("number", "date", "term", "person", "organization", "place", "noun")
FEATURES: tuple[str, ...] = (
    *(f"{q}*{k}" for q in QTYPES for k in KINDS),
    "unit_match",
    "unit_class_match",
    "unit_class_mismatch",
    "number_without_unit",
    "sent_cover",
    "sent_cover_bigrams",
    "sent_rank",
    "passage_rank",
    "in_question",
    "all_in_question",
    "left_align",
    "right_align",
    "left_adjacent",
    "right_adjacent",
    "near_cover",
    "distance",
    "length",
    "tokens",
    "quoted",
    "redundancy",
    "in_title",
    "after_title_word",
    "first_in_sentence",
    "wh_noun_suffix",
    "wh_noun_last_char",
    "head_follows",
    "head_precedes",
    "clean_left",
    "clean_right",
    "starts_with_verb",
)
_AT = {f: i for i, f in enumerate(FEATURES)}  # feature name -> column
CONF_FEATURES = (
    "prob",
    "margin",
    "sent_cover",
    "sent_cover_bigrams",
    "near_cover",
    "type_fit",
    "article_cover",
    "missing_max",
    "window_cover",
    "left_align",
    "right_align",
    "wh_context",
)

_STOP = set(
    "的 了 是 在 和 与 及 并 等 也 都 而 被 把 将 对 为 以 于 从 向 到 由 其 这 那 该 此 之 "
    "有 个 一 上 中 下 里 后 前 时 会 要 能 可 就 又 还 让 给 着 过 吗 呢 吧 啊 么 什么 哪 哪个 哪些 "
    "哪家 哪里 哪一 谁 多少 几 怎样 如何 怎么 是否 叫 名字 一共 共 多 文中 文章 其中 当时 今年 去年".split()
)
# function words next to a span ("是", "为" before it; "的", "个" after it), one character each
_LEFT_FUNCTION = "是为的叫在有了由达共约到给把被向和与"
_RIGHT_FUNCTION = "的是了个名位家项年天"
_TRIM_LEFT = re.compile(f"[{_LEFT_FUNCTION}]+$")  # what _trim_left removes, as a pattern


def _trim_left(s: str) -> str:
    """``s`` without the function words it ends with (as ``_TRIM_LEFT.sub("", s)``, whose
    ``$`` also matches before a final newline, at a fraction of its cost)."""
    return _TRIM_LEFT.sub("", s) if s.endswith("\n") else s.rstrip(_LEFT_FUNCTION)


def _trim_right(s: str) -> str:
    """``s`` without the function words it starts with."""
    return s.lstrip(_RIGHT_FUNCTION)


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _flat(s: str) -> str:
    """``s`` without spaces, tabs and newlines (a PDF line break is not a word break)."""
    return "".join(s.split()) if " " in s or "\n" in s or "\t" in s else s


def _bigrams(s: str) -> set[str]:
    s = _flat(s)
    return {s[i : i + 2] for i in range(len(s) - 1)}


@lru_cache(maxsize=50_000)
def _idf(word: str) -> float:
    """A corpus-free rarity weight: jieba's dictionary frequency (unknown words are rare)."""
    dt = jieba_default()
    f = dt.FREQ.get(word, 0)
    return math.log((dt.total + 1) / (f + 1)) / 10.0


@dataclass(frozen=True)
class QuestionTerms:
    analysis: QuestionAnalysis
    terms: tuple[tuple[str, float], ...]  # content words and their weights
    bigrams: frozenset[str]  # character bigrams outside the question word
    wh_noun: str = ""  # the noun the question word asks about: 哪家"纪念馆", 哪个"社区"
    head: str = ""  # the noun a "叫什么" question names: 治理协调"机制"叫什么

    @cached_property
    def weight(self) -> float:
        return sum(w for _, w in self.terms) or 1.0


def question_terms(question: str) -> QuestionTerms:
    qa = analyse(question)
    text = qa.text
    body = text if qa.wh_start < 0 else text[: qa.wh_start] + "\u3000" + text[qa.wh_end :]
    terms: dict[str, float] = {}
    for s, e, tag in words(body):
        w = body[s:e]
        if w in _STOP or not _CJK.search(w) and not re.search(r"[A-Za-z0-9]", w):
            continue
        if len(w) == 1 and tag not in ("n", "nr", "ns", "nt", "nz", "j"):
            continue
        terms[w] = _idf(w)
    wh_noun = head = ""
    if qa.wh_start >= 0:
        right = re.sub(r"^[个家座所位种项类名处支]", "", qa.right)
        ws = words(right[:12])
        if ws and ws[0][2] in _NOUN_TAGS:
            wh_noun = right[ws[0][0] : ws[0][1]]
        m = re.match(r"(?:哪一?[个家座所位种项类支]?|什么)(..+)$", qa.wh)
        if m and m.group(1) not in ("地方", "时候", "时间"):
            wh_noun = m.group(1)
        left = _HEAD_TRIM.sub("", qa.left)
        ws = words(left[-12:])
        if ws and ws[-1][2] in _NOUN_TAGS and len(left) >= 2 and len(qa.right) <= 2:
            head = left[-12:][ws[-1][0] : ws[-1][1]]
    return QuestionTerms(
        qa, tuple(terms.items()), frozenset(_bigrams(body) - {"\u3000"}), wh_noun, head
    )


_NOUN_TAGS = {"n", "nr", "ns", "nt", "nz", "j", "ng", "vn"}
_HEAD_TRIM = re.compile(r"(被称为|被称作|被誉为|称为|称作|叫做|叫作|名为|叫|是|为|的)+$")


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


@dataclass
class _Sentence:
    passage: int
    article: Article
    start: int  # in article text
    end: int
    text: str
    cover: float = 0.0
    cover_bigrams: float = 0.0
    rank: int = 0
    terms: tuple[int, ...] = ()  # the question words it holds (indices into qt.terms)


def _cover(qt: QuestionTerms, text: str) -> float:
    return sum(w for t, w in qt.terms if t in text) / qt.weight


@dataclass(frozen=True)
class _ChunkSentences:
    """The sentences a chunk overlaps: where each starts in the article (its identity), the
    span read (a run-on over 400 characters is cut to the chunk), its text, and the codes
    of its bigrams without whitespace (see :func:`_codes`), all rows together."""

    starts: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]
    texts: tuple[str, ...]
    codes: np.ndarray
    rows: np.ndarray
    whole: str  # from the first sentence's start to the last one's end: which words to look for


@lru_cache(maxsize=8192)
def _chunk_sentences(text: str, c0: int, c1: int) -> _ChunkSentences:
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
        return _ChunkSentences((), (), (), empty, empty, "")
    w0, whole = read[0][0], text[read[0][0] : read[-1][1]]
    ranges = np.array(read, dtype=np.int64) - w0
    keys = _range_codes(whole, ranges[:, 0], ranges[:, 1], np.arange(len(read)) << 44)
    return _ChunkSentences(
        tuple(starts), tuple(read), texts, keys & ((1 << 44) - 1), keys >> 44, whole
    )


@lru_cache(maxsize=4096)
def _sentence_index(text: str) -> tuple[tuple[tuple[int, int], ...], list[int]]:
    """An article's sentence spans and their ends (sorted), to find a chunk's by bisection."""
    spans = article_sentences(text)
    return spans, [e for _, e in spans]


def select_sentences(
    qt: QuestionTerms, passages: Sequence[Passage], keep: int = 6
) -> list[_Sentence]:
    """The sentences of the passages that hold most of the question, best first."""
    terms = [t for t, _ in qt.terms]
    weights = [w for _, w in qt.terms]
    seen: dict[str, set[int]] = {}  # article id -> the starts of its sentences taken
    found: list[tuple[int, Article, _ChunkSentences, int]] = []  # passage, article, table, row
    covers: list[float] = []
    helds: list[tuple[int, ...]] = []
    code_parts: list[tuple[np.ndarray, np.ndarray]] = []
    for pi, p in enumerate(passages):
        a = p.article
        if a is None:
            continue
        c0 = p.chunk.text_start
        table = _chunk_sentences(a.text, c0, c0 + len(p.chunk.text))
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
    hit = _member(codes, _codes(qt.bigrams))
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
        out.append(_Sentence(pi, a, s, e, text, covers[i], held_bigrams[i], r, helds[i]))
    return out


def _adjacent(test, pieces: list[str]) -> float:
    """How many (up to 4) characters of the question's side the text's side repeats, over 4.

    ``pieces`` are the side's last (or first) 4, 3, 2, 1 characters; ``test`` is the text
    side's ``endswith`` (or ``startswith``).
    """
    for p in pieces:
        if test(p):
            return len(p) / 4
    return 0.0


_TITLE_BEFORE = re.compile(
    r"(书记|主任|局长|处长|部长|队长|院长|校长|馆长|经理|主席|委员|记者|主编|专家|教授|网格员|"
    r"民警|负责人|大学士|讲师|同志|女士|先生|代表|干部)$"
)


@dataclass(slots=True)  # read-only but for ``trims`` (cached, shared); frozen costs 5× to make
class _Read:
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
    trims: dict[tuple[int, int], _Block] = field(
        default_factory=dict, compare=False
    )  # its trimmed forms, made when a question first trims it


_STATIC = list(
    _AT[f]
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
_KIND_AT = {k: i for i, k in enumerate(KINDS)}
_PER_SENTENCE = [_AT[f] for f in ("sent_cover", "sent_cover_bigrams", "sent_rank", "passage_rank")]


def _read(text: str, c: Candidate) -> tuple[_Read, tuple[float, ...]]:
    """The question-free part of a candidate, and its question-free columns (``_STATIC``)."""
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
        float(_starts_with_verb(c.text)),
    )
    read = _Read(
        c,
        _KIND_AT[c.kind],
        _trim_left(before),
        _trim_right(after),
        before.rstrip("“《「‘"),
        after.lstrip("”》」’"),
        unit_class_of(c.unit) if c.kind == "number" else None,
        c.kind in _TRIMMABLE and len(c.text) >= 4,
    )
    return read, static


def _codes(bigrams, channel: int = 0) -> list[int]:
    """Each two-character string as one integer: both code points side by side, 21 bits
    each, above them the channel (0: the candidate's text, 1: before it, 2: after it)."""
    tag = channel << 42
    return [tag | (ord(b[0]) << 21) | ord(b[1]) for b in bigrams]


# multipliers for _member's hash (odd 64-bit constants of well-known mixers)
_MIXERS = tuple(
    np.uint64(m)
    for m in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53)
)
_SLOT_BITS = 12
_SLOT_SHIFT = np.uint64(64 - _SLOT_BITS)


def _member(codes: np.ndarray, wanted: Sequence[int]) -> np.ndarray:
    """Which of ``codes`` are among ``wanted`` (a few dozen distinct codes).

    A small hash table: each wanted code in its own slot of 4096 (multiplicative hashing,
    with the first multiplier under which no two wanted codes share a slot), and a code
    is wanted if its slot holds it: half the time of a bisection per code (5,600 codes,
    the usual count, 30 against 58 µs); a bisection when every multiplier collides.
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
    return _member_sorted(codes, w)


def _member_sorted(codes: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """:func:`_member` by a bisection per code."""
    w = np.unique(wanted)
    return w[np.minimum(np.searchsorted(w, codes), len(w) - 1)] == codes


def _row_codes(text: str, s: int, e: int) -> tuple[list[int], int]:
    """The codes of the bigrams of ``text[s:e]`` (channel 0) and of the ten characters before
    (1) and after (2) it, all distinct, and how many are the span's own."""
    own = _codes(_bigrams(text[s:e]))
    before = _codes(_bigrams(text[max(s - 10, 0) : s]), 1)
    return own + before + _codes(_bigrams(text[e : e + 10]), 2), len(own)


def _span_codes_one_by_one(text: str, spans: np.ndarray) -> np.ndarray:
    """What :func:`_span_codes` computes, by its definition, candidate by candidate."""
    keys = [
        (row << 44) | code
        for row, (s, e) in enumerate(spans[:, :2].tolist())
        for code in _row_codes(text, s, e)[0]
    ]
    return np.array(sorted(keys), dtype=np.int64)


def _span_codes(text: str, spans: np.ndarray) -> np.ndarray:
    """The distinct bigram codes of every candidate's text and sides, as ``row << 44 | code``.

    For candidate ``row`` spanning [s, e) of ``text``: channel 0 is ``_bigrams(text[s:e])``,
    1 the bigrams of the ten characters before, 2 of the ten after, each side taken
    without whitespace when it holds a space, tab or newline (as :func:`_flat` does).
    Sorted, so that each row's codes come together and in row order.
    """
    n = len(text)
    if len(spans) <= 2 or n < 2:  # a trimmed candidate: less work one by one
        return _span_codes_one_by_one(text, spans)
    s, e = spans[:, 0], spans[:, 1]
    a = np.concatenate([s, np.maximum(s - 10, 0), e])  # channel by channel, rows in order
    b = np.concatenate([e, s, np.minimum(e + 10, n)])
    rows = np.arange(3 * len(spans), dtype=np.int64) % len(spans)
    tags = (rows << 44) | (np.repeat(np.arange(3, dtype=np.int64), len(spans)) << 42)
    return _range_codes(text, a, b, tags)


# which code points are whitespace (str.isspace); none is above U+3000, the last entry
# stands for every code point above the table
_IS_SPACE = np.array([chr(i).isspace() for i in range(0x3001)] + [False])


def _code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as int64, in one copy (no call per character)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(
        np.int64
    )


def _range_codes(text: str, a: np.ndarray, b: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """The distinct values of ``tags[i] | code`` over the bigram codes of every range
    ``text[a[i]:b[i]]`` (a range holding a space, tab or newline taken without whitespace,
    as :func:`_bigrams` does), sorted. All from two arrays of the text's pair codes (as
    written, and without whitespace)."""
    n = len(text)
    c = _code_points(text)
    space = _IS_SPACE[np.minimum(c, len(_IS_SPACE) - 1)]
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


# a block's ``ext`` columns: the question-free features (_STATIC order), then these
_SPAN, _NBIG, _LAST, _FIRST, _NCODES, _TEXT_LAST, _OPEN_LAST, _CLOSE_FIRST = (
    len(_STATIC) + i for i in (0, 3, 4, 5, 6, 7, 8, 9)
)
_EXT = len(_STATIC) + 10


def _ord_last(s: str) -> int:
    return ord(s[-1]) if s else -1


def _ord_first(s: str) -> int:
    return ord(s[0]) if s else -1


def _ext_row(r: _Read, static: tuple[float, ...], n_big: int = 0, n_codes: int = 0) -> tuple:
    """A candidate's ``ext`` row (see :class:`_Block`); the two counts are filled in later
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
class _Block:
    """Candidates of one sentence (or one trimmed candidate) in the arrays a question needs.

    ``ext`` is the question-free feature columns (in ``_STATIC`` order) followed by what the question's part is
    computed from: the span (start, end, kind index), how many distinct bigrams the text
    has, the code points that end ``before_trim`` and start ``after_trim``, how many codes
    the row has in ``codes``, and the code points that end the text, end ``before_open``
    and start ``after_close`` (-1: empty). ``codes`` holds the bigrams of each text and of
    the ten characters each side, channel-tagged (see :func:`_codes`), row after row. So
    "how many of the question's bigrams does it hold", on every side of every candidate of
    a question, is one membership test and one count, and a string test ("does it end with
    the question's noun") is needed only where the character it turns on already matches.
    ``hashes``: each text's hash, to count equal texts among a question's candidates.
    """

    reads: tuple[_Read, ...]
    ext: np.ndarray  # (candidates, _EXT), float32 (every value is exact in it)
    codes: np.ndarray  # int64
    hashes: np.ndarray  # int64
    titled: dict[str, tuple[bool, ...]] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, text: str, pairs: Sequence[tuple[_Read, tuple[float, ...]]]) -> _Block:
        """The block of candidates of ``text`` (their reads and static columns)."""
        reads = tuple(r for r, _ in pairs)
        if len(pairs) == 1:
            return cls._one(text, *pairs[0])
        if not pairs:
            empty = np.zeros(0, dtype=np.int64)
            return cls(reads, np.zeros((0, _EXT), dtype=np.float32), empty, empty)
        ext = np.array([_ext_row(r, static) for r, static in pairs], dtype=np.float32)
        keys = _span_codes(text, ext[:, _SPAN : _SPAN + 3].astype(np.int64))
        rows = keys >> 44
        ext[:, _NCODES] = np.bincount(rows, minlength=len(reads))
        ext[:, _NBIG] = np.bincount(rows[(keys >> 42) & 3 == 0], minlength=len(reads))
        hashes = np.array([hash(r.cand.text) for r in reads], dtype=np.int64)
        return cls(reads, ext, keys & ((1 << 44) - 1), hashes)

    @classmethod
    def _one(cls, text: str, r: _Read, static: tuple[float, ...]) -> _Block:
        """:meth:`of` for a single candidate (a trimmed one) without the arrays' overhead."""
        c = r.cand
        s, e = c.start, c.end
        codes, n_big = _row_codes(text, s, e)
        codes.sort()
        row = _ext_row(r, static, n_big, len(codes))
        hashes = np.array([hash(c.text)], dtype=np.int64)
        return cls((r,), np.array([row], dtype=np.float32), np.array(codes, dtype=np.int64), hashes)

    def __len__(self) -> int:
        return len(self.reads)

    def in_title(self, title: str) -> tuple[bool, ...]:
        got = self.titled.get(title)
        if got is None:
            if len(self.titled) > 8:  # the same sentence in many articles: rare, bounded
                self.titled.clear()
            got = self.titled[title] = tuple(r.cand.text in title for r in self.reads)
        return got


def _trimmed_block(text: str, r: _Read, start: int, end: int) -> _Block:
    """``r`` cut to [start, end) (in ``text``) as a block of one row, made once, kept on r."""
    got = r.trims.get((start, end))
    if got is None:
        c = r.cand
        t = Candidate(start, end, text[start:end], c.kind, c.unit, c.quoted, c.tokens)
        got = r.trims[(start, end)] = _Block.of(text, [_read(text, t)])
    return got


@dataclass(frozen=True)
class _SentenceReads:
    block: _Block  # every candidate of the sentence
    trimmable: tuple[_Read, ...]  # the reads a question may trim


@lru_cache(maxsize=4096)
def _sentence_reads(text: str) -> _SentenceReads:
    """The candidates of a sentence, each with its question-free part; one pass per sentence.

    Bounded: some 40 candidates a sentence at about a kilobyte each, so 4096 sentences (the
    hot set of a busy service) stay under 200 MB.
    """
    block = _Block.of(text, [_read(text, c) for c in extract(text)])
    return _SentenceReads(block, tuple(r for r in block.reads if r.trimmable))


@dataclass(frozen=True)
class Featurised:
    """The candidates of one question: feature matrix ``x`` (one row each, FEATURES order)."""

    sentences: list[_Sentence]  # each row's sentence
    reads: list[_Read]  # each row's candidate
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
    """The candidates and their features as one matrix; rows are made only when asked for.

    The question-free columns come from the sentence cache; what depends on the question is
    computed here over every candidate at once where it can be (bigram counts, nearness),
    per sentence where it must (the article's title), per candidate only where a cheap
    test has already picked the few that need it.
    """
    qa = qt.analysis
    sentences = select_sentences(qt, passages, keep)
    left = _trim_left(qa.left)[-8:]
    right = _trim_right(qa.right)[:8]
    qtext = qa.text
    # each sentence's cached candidates, then the ones this question trims out of them: only
    # a candidate whose first or last two characters the question holds can be trimmed
    q_pairs = {qtext[i : i + 2] for i in range(len(qtext) - 1)}
    row_sents: list[_Sentence] = []
    blocks: list[_Block] = []
    titles: list[bool] = []
    sizes: list[int] = []  # candidates per sentence, in order
    for sent in sentences:
        sr = _sentence_reads(sent.text)
        text, title = sent.text, sent.article.title
        blocks.append(sr.block)
        titles.extend(sr.block.in_title(title))
        size = len(sr.block)
        for r in sr.trimmable:
            head, tail = r.cand.text[:2] in q_pairs, r.cand.text[-2:] in q_pairs
            if head or tail:
                for s, e in _trims(r.cand, qtext, head, tail):
                    blocks.append(_trimmed_block(text, r, s, e))
                    titles.append(text[s:e] in title)
                    size += 1
        row_sents.extend([sent] * size)
        sizes.append(size)
    n = len(row_sents)
    if not n:
        return Featurised([], [], np.zeros((0, len(FEATURES)), dtype=np.float32))
    reads = list(chain.from_iterable(b.reads for b in blocks))
    at = _AT
    ext = np.concatenate([b.ext for b in blocks])
    x = np.zeros((n, len(FEATURES)), dtype=np.float32)
    x[:, _STATIC] = ext[:, : len(_STATIC)]
    spans = ext[:, _SPAN : _SPAN + 3].astype(np.int64)
    x[np.arange(n), at[f"{qa.answer_type}*{KINDS[0]}"] + spans[:, 2]] = 1.0
    # per sentence: how much of the question it holds and its rank, copied to its candidates
    per_sentence = [
        (t.cover, t.cover_bigrams, 1.0 / (1 + t.rank), 1.0 / (1 + t.passage)) for t in sentences
    ]
    x[:, _PER_SENTENCE] = np.asarray(per_sentence, dtype=np.float32).repeat(sizes, axis=0)
    x[:, at["near_cover"]], x[:, at["distance"]] = _nearness(qt, sentences, sizes, spans)
    # bigram overlaps of the text and of each side with the question's, every row at once
    qbig, left_bigrams, right_bigrams = _bigrams(qtext), _bigrams(left), _bigrams(right)
    codes = np.concatenate([b.codes for b in blocks])
    rows = np.repeat(np.arange(n), ext[:, _NCODES].astype(np.int64))
    hit = _member(codes, _codes(qbig) + _codes(left_bigrams, 1) + _codes(right_bigrams, 2))
    held = np.bincount(rows * 3 + (codes >> 42), weights=hit, minlength=3 * n).reshape(n, 3)
    # in the question as a whole: a text of two or more characters can be only if the
    # question holds all its bigrams
    n_big = ext[:, _NBIG].astype(np.float64)
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
        ks = np.flatnonzero(ext[:, _LAST] == ord(left[-1]))
        x[ks, at["left_adjacent"]] = [
            _adjacent(reads[k].before_trim.endswith, left_ends) for k in ks.tolist()
        ]
    if right:
        right_starts = [right[:k] for k in range(min(len(right), 4), 0, -1)]
        ks = np.flatnonzero(ext[:, _FIRST] == ord(right[0]))
        x[ks, at["right_adjacent"]] = [
            _adjacent(reads[k].after_trim.startswith, right_starts) for k in ks.tolist()
        ]
    # how often the same text stands among the candidates
    hashes = np.concatenate([b.hashes for b in blocks])
    ordered = np.sort(hashes)
    same = np.searchsorted(ordered, hashes, "right") - np.searchsorted(ordered, hashes, "left")
    x[:, at["redundancy"]] = np.log1p(same - 1.0)
    x[:, at["in_title"]] = titles
    if qt.wh_noun:
        last = ext[:, _TEXT_LAST] == ord(qt.wh_noun[-1])
        x[:, at["wh_noun_last_char"]] = last
        ks = np.flatnonzero(last)
        x[ks, at["wh_noun_suffix"]] = [reads[k].cand.text.endswith(qt.wh_noun) for k in ks.tolist()]
    if qt.head:
        ks = np.flatnonzero(ext[:, _CLOSE_FIRST] == ord(qt.head[0]))
        x[ks, at["head_follows"]] = [reads[k].after_close.startswith(qt.head) for k in ks.tolist()]
        ks = np.flatnonzero(ext[:, _OPEN_LAST] == ord(qt.head[-1]))
        x[ks, at["head_precedes"]] = [reads[k].before_open.endswith(qt.head) for k in ks.tolist()]
    if qa.unit or qa.unit_class:
        for k in np.flatnonzero(spans[:, 2] == _KIND_AT["number"]).tolist():
            r = reads[k]
            unit = r.cand.unit
            if qa.unit and unit and (unit.endswith(qa.unit) or qa.unit.endswith(unit)):
                x[k, at["unit_match"]] = 1.0
            if qa.unit_class and r.unit_class:
                match = r.unit_class == qa.unit_class
                x[k, at["unit_class_match" if match else "unit_class_mismatch"]] = 1.0
    return Featurised(row_sents, reads, x)


def _nearness(
    qt: QuestionTerms,
    sentences: Sequence[_Sentence],
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
        for p in _positions(sent.text, terms[k][0])
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


_BOUNDARY = re.compile(
    r"[\s，。、；：！？“”《》（）()「」,.;:!?的在和与及是为由到赴从向对将把被等了]"
)


@lru_cache(maxsize=20_000)
def _starts_with_verb(text: str) -> bool:
    if text[:2] not in verb_heads():  # no verb of two or more characters starts so: no need to cut
        return False
    ws = words(text)
    return bool(ws) and ws[0][2] == "v" and ws[0][1] - ws[0][0] >= 2


_TRIMMABLE = ("organization", "place", "noun")


def _trims(c: Candidate, question: str, head: bool, tail: bool) -> list[tuple[int, int]]:
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


def _positions(text: str, term: str) -> list[int]:
    out, i = [], text.find(term)
    while i >= 0 and len(out) < 8:
        out.append(i)
        i = text.find(term, i + 1)
    return out


def confidence_features(qt: QuestionTerms, probs: np.ndarray, r: CandidateRow) -> np.ndarray:
    """What the calibrator sees about the winning candidate.

    Besides the ranker's own margin: how much of the question the winner's sentence, its
    neighbourhood and its whole article hold, and the weight of the most important question
    word missing from the neighbourhood (a question about something the corpus lacks
    usually finds a passage on the same subject that misses exactly that word).
    """
    order = np.sort(probs)[::-1]
    x = r.x
    at = _AT
    type_fit = max(x[at[f"{q}*{k}"]] for q, k in _FITS)
    text = r.article.text
    window = text[max(0, r.start - 120) : r.end + 120]
    top = max((w for _, w in qt.terms), default=1.0) or 1.0
    missing = max((w for t, w in qt.terms if t not in window), default=0.0) / top
    return np.array(
        [
            order[0],
            order[0] - (order[1] if len(order) > 1 else 0.0),
            x[at["sent_cover"]],
            x[at["sent_cover_bigrams"]],
            x[at["near_cover"]],
            type_fit,
            _cover(qt, text),
            missing,
            _cover(qt, window),
            x[at["left_align"]],
            x[at["right_align"]],
            _wh_context(qt, text[max(0, r.start - 40) : r.end + 40]),
        ],
        dtype=np.float32,
    )


def _wh_context(qt: QuestionTerms, near: str) -> float:
    """How much of the words right around the question word stand near the answer."""
    qa = qt.analysis
    if qa.wh_start < 0:
        return 0.0
    around = _bigrams(_trim_left(qa.left)[-6:]) | _bigrams(_trim_right(qa.right)[:6])
    return len(around & _bigrams(near)) / len(around) if around else 0.0


_FITS = (
    ("number", "number"),
    ("date", "date"),
    ("person", "person"),
    ("place", "place"),
    ("organization", "organization"),
    ("phrase", "term"),
    ("phrase", "noun"),
)


def _sigmoid(z: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


class OfflineReader:
    """Rank candidate spans with learned weights; confidence from a calibrated model."""

    name = "offline"
    offline = True

    def __init__(self, model: dict) -> None:
        if list(model.get("features", [])) != list(FEATURES):
            raise ValueError(
                "the offline reader's weights do not match its features; "
                "retrain them with: python -m eval.train_reader"
            )
        self.model = model
        self.coef = np.asarray(model["coef"], dtype=np.float32)
        self.intercept = float(model["intercept"])
        cal = model["calibration"]
        self.cal_coef = np.asarray(cal["coef"], dtype=np.float32)
        self.cal_intercept = float(cal["intercept"])
        self.threshold = float(model.get("threshold", 0.5))
        self.keep = int(model.get("sentences", 6))

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> OfflineReader:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def read(self, question: str, passages: Sequence[Passage]) -> Reading:
        qt = question_terms(question)
        feats = featurise_matrix(qt, passages, self.keep)
        if not len(feats):
            return Reading((), 0.0, qt.analysis.answer_type, self.threshold)
        probs = np.asarray(_sigmoid(feats.x @ self.coef + self.intercept), dtype=np.float32)
        order = np.argsort(-probs, kind="stable")[:20].tolist()
        best = feats.row(order[0])
        conf = float(
            _sigmoid(confidence_features(qt, probs, best) @ self.cal_coef + self.cal_intercept)
        )
        guesses = tuple(feats.guess(k, float(probs[k])) for k in order)
        return Reading(guesses, conf, qt.analysis.answer_type, self.threshold)
