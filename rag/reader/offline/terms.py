"""What the offline reader looks for in a question: its weighted content words, its
character bigrams, the noun its question word asks about, and the character-level text
helpers that question and candidates are compared with (bigrams, function-word trims).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from rag.reader.candidates import words
from rag.reader.question import QuestionAnalysis, analyse
from rag.text.lexicon import HAN_CHAR, QUESTION_STOPWORDS
from rag.text.words import jieba_default

# function words next to a span ("是", "为" before it; "的", "个" after it), one character each
LEFT_FUNCTION = "是为的叫在有了由达共约到给把被向和与"
RIGHT_FUNCTION = "的是了个名位家项年天"
_TRIM_LEFT = re.compile(f"[{LEFT_FUNCTION}]+$")  # what trim_left removes, as a pattern


def trim_left(s: str) -> str:
    """``s`` without the function words it ends with (as ``_TRIM_LEFT.sub("", s)``, whose
    ``$`` also matches before a final newline, at a fraction of its cost)."""
    return _TRIM_LEFT.sub("", s) if s.endswith("\n") else s.rstrip(LEFT_FUNCTION)


def trim_right(s: str) -> str:
    """``s`` without the function words it starts with."""
    return s.lstrip(RIGHT_FUNCTION)


def flat(s: str) -> str:
    """``s`` without spaces, tabs and newlines (a PDF line break is not a word break)."""
    return "".join(s.split()) if " " in s or "\n" in s or "\t" in s else s


def bigrams(s: str) -> set[str]:
    """The distinct character bigrams of ``s`` taken without whitespace (see :func:`flat`)."""
    s = flat(s)
    return {s[i : i + 2] for i in range(len(s) - 1)}


@lru_cache(maxsize=50_000)
def idf(word: str) -> float:
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


_NOUN_TAGS = {"n", "nr", "ns", "nt", "nz", "j", "ng", "vn"}
_HEAD_TRIM = re.compile(r"(被称为|被称作|被誉为|称为|称作|叫做|叫作|名为|叫|是|为|的)+$")


def question_terms(question: str) -> QuestionTerms:
    """The question analysed, its content words weighted by rarity, its bigrams, and the
    nouns around its question word."""
    qa = analyse(question)
    text = qa.text
    body = text if qa.wh_start < 0 else text[: qa.wh_start] + "\u3000" + text[qa.wh_end :]
    body_words = words(body)  # the question's one cut; the sides reuse it where they can
    terms: dict[str, float] = {}
    for s, e, tag in body_words:
        w = body[s:e]
        if w in QUESTION_STOPWORDS or not HAN_CHAR.search(w) and not re.search(r"[A-Za-z0-9]", w):
            continue
        if len(w) == 1 and tag not in ("n", "nr", "ns", "nt", "nz", "j"):
            continue
        terms[w] = idf(w)
    wh_noun = head = ""
    if qa.wh_start >= 0:
        wh_noun = _wh_noun(qa, body_words)
        head = _head(qa, body_words)
    return QuestionTerms(
        qa, tuple(terms.items()), frozenset(bigrams(body) - {"\u3000"}), wh_noun, head
    )


# The body is the question with its question word replaced by U+3000, whitespace, which the
# cutter never joins to a word: the body's words are the left side's, "\u3000", the right
# side's. So a side cut on its own is read from the body's words when it is the whole side.


def _wh_noun(qa: QuestionAnalysis, body_words: list[tuple[int, int, str]]) -> str:
    """The noun the question word asks about: in the question word (哪家"纪念馆") or right
    after it (哪个"社区"), the first word of the next 12 characters."""
    m = re.match(r"(?:哪一?[个家座所位种项类支]?|什么)(..+)$", qa.wh)
    if m and m.group(1) not in ("地方", "时候", "时间"):
        return m.group(1)
    right = re.sub(r"^[个家座所位种项类名处支]", "", qa.right)
    if right == qa.right and len(right) <= 12:
        start = qa.wh_start + 1
        ws = [(s - start, e - start, t) for s, e, t in body_words if s >= start][:1]
    else:
        ws = words(right[:12])
    if ws and ws[0][2] in _NOUN_TAGS:
        return right[ws[0][0] : ws[0][1]]
    return ""


def _head(qa: QuestionAnalysis, body_words: list[tuple[int, int, str]]) -> str:
    """The noun a question ending in its question word names ("治理协调机制叫什么"): the
    last word of the 12 characters before the question word, without 是, 称为, 的..."""
    left = _HEAD_TRIM.sub("", qa.left)
    if len(left) < 2 or len(qa.right) > 2:
        return ""
    if left == qa.left and len(left) <= 12:
        ws = [w for w in body_words if w[1] <= qa.wh_start][-1:]
    else:
        ws = words(left[-12:])
    if ws and ws[-1][2] in _NOUN_TAGS:
        return left[-12:][ws[-1][0] : ws[-1][1]]
    return ""


def cover(qt: QuestionTerms, text: str) -> float:
    """The share of the question's term weight that ``text`` holds."""
    return sum(w for t, w in qt.terms if t in text) / qt.weight
