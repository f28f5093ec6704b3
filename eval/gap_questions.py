"""Gap questions generated from a corpus's own sentences, for training the offline reader.

A sentence with one candidate (a number with its unit, a date, a name, a quoted term...)
has the candidate replaced by a question word and some of its words dropped; the candidate
is the answer. Real questions (the eval set's ``dev`` split) are added beside them by the
trainer (``eval/train_reader.py``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from rag.reader.candidates import extract, words
from rag.text.lexicon import CLAUSE_BREAK
from rag.text.sentences import sentence_spans


@dataclass
class Example:
    question: str
    answers: tuple[str, ...]
    weight: float
    qid: str = ""
    articles: frozenset[str] = frozenset()  # ids of the articles that hold the answer


_WH = {
    "person": ("谁", "哪位"),
    "organization": ("哪个单位", "哪家机构", "哪个部门"),
    "place": ("哪里", "什么地方", "哪个地方"),
    "term": ("什么", "哪个"),
    "noun": ("什么",),
}


def _wh_for(kind: str, text: str, unit: str | None, rng: random.Random) -> str | None:
    if kind == "number":
        if unit and not re.search(r"\d.*[^\d\s.%].*\d", text):
            return rng.choice(("多少", "几")) + unit if len(unit) <= 2 else "多少" + unit
        return "多少"
    if kind == "date":
        if "日" in text or "号" in text:
            return rng.choice(("哪天", "哪一天", "什么时候"))
        if "月" in text:
            return rng.choice(("哪个月", "什么时候"))
        return rng.choice(("哪一年", "哪年", "何时"))
    if kind in ("organization", "place") and rng.random() < 0.6:
        m = _SUFFIX.search(text)
        if m and len(m.group()) < len(text):
            return rng.choice(("哪个", "哪家", "什么")) + m.group()
    return rng.choice(_WH[kind]) if kind in _WH else None


_SUFFIX = re.compile(
    r"(委员会|中心|公司|集团|大学|学院|医院|协会|促进会|纪念馆|博物馆|馆|局|委|部|社区|街道|"
    r"小区|公园|生态城|新区|保税区|镇|村|区|县|市|省)$"
)


def generate_questions(articles, n: int, seed: int = 13) -> list[Example]:
    """Gap questions from the corpus's own sentences (the answer is the removed span)."""
    rng = random.Random(seed)
    pool = []
    for a in articles:
        for s, e in sentence_spans(a.text):
            if 16 <= e - s <= 160:
                pool.append(a.text[s:e].strip())
    rng.shuffle(pool)
    out: list[Example] = []
    for sent in pool:
        if len(out) >= n:
            break
        cands = [
            c
            for c in extract(sent)
            if (c.kind in ("number", "date", "person", "term") and not c.text.startswith("一"))
            or (c.kind in ("organization", "place") and len(c.text) >= 3)
            or (c.kind == "noun" and c.tokens >= 2 and rng.random() < 0.15)
        ]
        if not cands:
            continue
        c = rng.choice(cands)
        wh = _wh_for(c.kind, c.text, c.unit, rng)
        if wh is None:
            continue
        # the clause holding the gap and up to one clause on either side
        cuts = [0] + [m.end() for m in CLAUSE_BREAK.finditer(sent)] + [len(sent)]
        i = max(k for k in range(len(cuts)) if cuts[k] <= c.start)
        j = min(k for k in range(len(cuts)) if cuts[k] >= c.end)
        lo = cuts[max(0, i - rng.choice((0, 1)))]
        hi = cuts[min(len(cuts) - 1, j + rng.choice((0, 1)))]
        left, right = sent[lo : c.start], sent[c.end : hi]
        left = _drop_words(left, rng)
        right = _drop_words(right, rng)
        q = re.sub(r"[。！？；，、\s]+$", "", f"{left}{wh}{right}")
        if c.kind == "term" and left.endswith("“"):
            q = q.replace("“" + wh + "”", wh)
        if len(q) < 8:
            continue
        out.append(Example(q + "？", (c.text,), 1.0))
    return out


def _drop_words(text: str, rng: random.Random, p: float = 0.2) -> str:
    """Paraphrase a little: drop some words, as a question rarely repeats a sentence."""
    kept = [
        text[s:e] for s, e, tag in words(text) if not (tag not in ("m", "x") and rng.random() < p)
    ]
    return "".join(kept)
