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

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from rag.candidates import Candidate, _tagger, extract, unit_class_of, words
from rag.chunking import article_sentences
from rag.question import QuestionAnalysis, analyse
from rag.reader import Reading, SpanGuess
from rag.types import Article, Passage

WEIGHTS = Path(__file__).parent / "models" / "offline_reader.json"

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
_TRIM_LEFT = re.compile(r"(是|为|的|叫|在|有|了|由|达|共|约|到|给|把|被|向|和|与)+$")
_TRIM_RIGHT = re.compile(r"^(的|是|了|个|名|位|家|项|年|天)+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _bigrams(s: str) -> set[str]:
    if " " in s or "\n" in s or "\t" in s:
        s = "".join(s.split())
    return {s[i : i + 2] for i in range(len(s) - 1)}


@lru_cache(maxsize=50_000)
def _idf(word: str) -> float:
    """A corpus-free rarity weight: jieba's dictionary frequency (unknown words are rare)."""
    tok, _ = _tagger()
    f = tok.FREQ.get(word, 0)
    return math.log((tok.total + 1) / (f + 1)) / 10.0


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
class _Sentence:
    passage: int
    article: Article
    start: int  # in article text
    end: int
    text: str
    cover: float = 0.0
    cover_bigrams: float = 0.0
    rank: int = 0


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


def _cover(qt: QuestionTerms, text: str) -> float:
    return sum(w for t, w in qt.terms if t in text) / qt.weight


def select_sentences(
    qt: QuestionTerms, passages: Sequence[Passage], keep: int = 6
) -> list[_Sentence]:
    """The sentences of the passages that hold most of the question, best first."""
    out: list[_Sentence] = []
    seen: set[tuple[str, int]] = set()
    nb = len(qt.bigrams) or 1
    for pi, p in enumerate(passages):
        a = p.article
        if a is None:
            continue
        c0 = p.chunk.text_start
        c1 = c0 + len(p.chunk.text)
        for s, e in article_sentences(a.text):
            if e <= c0 or s >= c1 or (a.id, s) in seen:
                continue
            seen.add((a.id, s))
            if e - s > 400:  # PDF run-ons: read the part inside the chunk
                s, e = max(s, c0), min(e, c1)
            text = a.text[s:e]
            sent = _Sentence(pi, a, s, e, text)
            sent.cover = _cover(qt, text)
            sent.cover_bigrams = len(qt.bigrams & _bigrams(text)) / nb
            out.append(sent)
    out.sort(key=lambda x: -(x.cover + x.cover_bigrams + 0.15 / (1 + x.passage)))
    for r, sent in enumerate(out):
        sent.rank = r
    return out[:keep]


def _align(qb: set[str], s_side: str) -> float:
    return len(qb & _bigrams(s_side)) / len(qb) if qb else 0.0


def _common_suffix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


_TITLE_BEFORE = re.compile(
    r"(书记|主任|局长|处长|部长|队长|院长|校长|馆长|经理|主席|委员|记者|主编|专家|教授|网格员|"
    r"民警|负责人|大学士|讲师|同志|女士|先生|代表|干部)$"
)


def featurise(qt: QuestionTerms, passages: Sequence[Passage], keep: int = 6) -> list[CandidateRow]:
    """Every candidate of the best sentences with its feature vector."""
    qa = qt.analysis
    sentences = select_sentences(qt, passages, keep)
    left = _TRIM_LEFT.sub("", qa.left)[-8:]
    right = _TRIM_RIGHT.sub("", qa.right)[:8]
    qbig = _bigrams(qa.text)
    left_bigrams, right_bigrams = _bigrams(left), _bigrams(right)
    found: list[tuple[_Sentence, Candidate]] = []
    for sent in sentences:
        for c in _extract_cached(sent.text):
            found.append((sent, c))
            found.extend((sent, t) for t in _trimmed(c, qa.text))
    counts: dict[str, int] = {}
    for _, c in found:
        counts[c.text] = counts.get(c.text, 0) + 1
    index = _AT
    rows: list[CandidateRow] = []
    term_hits: dict[int, list[tuple[int, int, str, float]]] = {}
    for sent, c in found:
        x = np.zeros(len(FEATURES), dtype=np.float32)
        kind = c.kind
        x[index[f"{qa.answer_type}*{kind}"]] = 1.0
        if kind == "number":
            if c.unit is None:
                x[index["number_without_unit"]] = 1.0
            if qa.unit and c.unit and (c.unit.endswith(qa.unit) or qa.unit.endswith(c.unit)):
                x[index["unit_match"]] = 1.0
            cu = unit_class_of(c.unit)
            if qa.unit_class and cu:
                x[index["unit_class_match" if cu == qa.unit_class else "unit_class_mismatch"]] = 1.0
        x[index["sent_cover"]] = sent.cover
        x[index["sent_cover_bigrams"]] = sent.cover_bigrams
        x[index["sent_rank"]] = 1.0 / (1 + sent.rank)
        x[index["passage_rank"]] = 1.0 / (1 + sent.passage)
        cb = _bigrams(c.text)
        x[index["in_question"]] = len(cb & qbig) / len(cb) if cb else float(c.text in qa.text)
        x[index["all_in_question"]] = float(c.text in qa.text)
        before = sent.text[max(0, c.start - 10) : c.start]
        after = sent.text[c.end : c.end + 10]
        x[index["left_align"]] = _align(left_bigrams, before)
        x[index["right_align"]] = _align(right_bigrams, after)
        x[index["left_adjacent"]] = min(_common_suffix(left, _TRIM_LEFT.sub("", before)), 4) / 4
        x[index["right_adjacent"]] = min(_common_prefix(right, _TRIM_RIGHT.sub("", after)), 4) / 4
        hits = term_hits.get(id(sent))
        if hits is None:  # where each question word stands in this sentence, once
            hits = [(p, p + len(t), t, w) for t, w in qt.terms for p in _positions(sent.text, t)]
            term_hits[id(sent)] = hits
        lo, hi = c.start - 20, c.end + 20
        near = {t: w for s, e, t, w in hits if s >= lo and e <= hi}
        x[index["near_cover"]] = sum(near.values()) / qt.weight
        dist = min(
            (
                c.start - e if e <= c.start else s - c.end if s >= c.end else 0
                for s, e, _, _ in hits
            ),
            default=60,
        )
        x[index["distance"]] = min(dist, 60) / 60
        x[index["length"]] = min(len(c.text), 30) / 10
        x[index["tokens"]] = min(c.tokens, 6) / 3
        x[index["quoted"]] = float(c.quoted)
        x[index["redundancy"]] = math.log1p(counts[c.text] - 1)
        x[index["in_title"]] = float(c.text in sent.article.title)
        x[index["after_title_word"]] = float(bool(_TITLE_BEFORE.search(before)))
        x[index["first_in_sentence"]] = float(c.start <= 1)
        x[index["clean_left"]] = float(not before or bool(_BOUNDARY.match(before[-1])))
        x[index["clean_right"]] = float(not after or bool(_BOUNDARY.match(after[0])))
        x[index["starts_with_verb"]] = float(_starts_with_verb(c.text))
        if qt.wh_noun:
            x[index["wh_noun_suffix"]] = float(c.text.endswith(qt.wh_noun))
            x[index["wh_noun_last_char"]] = float(c.text[-1] == qt.wh_noun[-1])
        if qt.head:
            x[index["head_follows"]] = float(after.lstrip("”》」’").startswith(qt.head))
            x[index["head_precedes"]] = float(before.rstrip("“《「‘").endswith(qt.head))
        rows.append(
            CandidateRow(
                sent.passage,
                sent.article,
                sent.start + c.start,
                sent.start + c.end,
                c.text,
                kind,
                x,
            )
        )
    return rows


_BOUNDARY = re.compile(
    r"[\s，。、；：！？“”《》（）()「」,.;:!?的在和与及是为由到赴从向对将把被等了]"
)


@lru_cache(maxsize=20_000)
def _starts_with_verb(text: str) -> bool:
    ws = words(text)
    return bool(ws) and ws[0][2] == "v" and ws[0][1] - ws[0][0] >= 2


@lru_cache(maxsize=20_000)
def _extract_cached(text: str) -> tuple[Candidate, ...]:
    """Candidates depend on the sentence alone: a sentence read before is not re-read."""
    return tuple(extract(text))


def _trimmed(c: Candidate, question: str) -> list[Candidate]:
    """The candidate without a head or tail the question already names.

    "中新天津生态城锦庐园小区" for "锦庐园小区位于哪里": the answer is what is left.
    """
    if c.kind not in ("organization", "place", "noun") or len(c.text) < 4:
        return []
    out = []
    n = len(c.text)
    for k in range(2, n - 1):  # the longest tail the question names
        if c.text[k:] in question:
            out.append(
                Candidate(c.start, c.start + k, c.text[:k], c.kind, c.unit, c.quoted, c.tokens)
            )
            break
    for k in range(n - 2, 1, -1):  # the longest head the question names
        if c.text[:k] in question:
            out.append(
                Candidate(c.start + k, c.end, c.text[k:], c.kind, c.unit, c.quoted, c.tokens)
            )
            break
    return out


def _positions(text: str, term: str) -> list[int]:
    out, i = [], text.find(term)
    while i >= 0 and len(out) < 8:
        out.append(i)
        i = text.find(term, i + 1)
    return out


def confidence_features(
    qt: QuestionTerms, probs: np.ndarray, rows: Sequence[CandidateRow], best: int
) -> np.ndarray:
    """What the calibrator sees about the winning candidate.

    Besides the ranker's own margin: how much of the question the winner's sentence, its
    neighbourhood and its whole article hold, and the weight of the most important question
    word missing from the neighbourhood (a question about something the corpus lacks
    usually finds a passage on the same subject that misses exactly that word).
    """
    order = np.sort(probs)[::-1]
    r = rows[best]
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
    around = _bigrams(_TRIM_LEFT.sub("", qa.left)[-6:]) | _bigrams(
        _TRIM_RIGHT.sub("", qa.right)[:6]
    )
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

    def score(self, rows: Sequence[CandidateRow]) -> np.ndarray:
        if not rows:
            return np.zeros(0, dtype=np.float32)
        return np.stack([r.x for r in rows]) @ self.coef + self.intercept

    def read(self, question: str, passages: Sequence[Passage]) -> Reading:
        qt = question_terms(question)
        rows = featurise(qt, passages, self.keep)
        if not rows:
            return Reading((), 0.0, qt.analysis.answer_type, self.threshold)
        probs = np.asarray(_sigmoid(self.score(rows)), dtype=np.float32)
        order = np.argsort(-probs, kind="stable")
        conf = float(
            _sigmoid(
                confidence_features(qt, probs, rows, int(order[0])) @ self.cal_coef
                + self.cal_intercept
            )
        )
        guesses = tuple(
            SpanGuess(
                rows[i].passage,
                rows[i].start,
                rows[i].end,
                rows[i].text,
                float(probs[i]),
                rows[i].kind,
            )
            for i in order[:20]
        )
        return Reading(guesses, conf, qt.analysis.answer_type, self.threshold)
