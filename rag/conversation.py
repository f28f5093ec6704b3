"""Follow-up questions: a question that leans on the conversation before it, completed into
one that stands alone, so that retrieval and reading work as for any question.

People ask ``天津古文化街今年十一期间客流多少？`` and then ``销售额呢？``, ``同比增长多少？``,
``它是哪个街道管的？``. No generative model is needed for the usual forms; three rules, in
this order, read the previous turn's question *as it was understood* (its standalone form):

- **ellipsis** — ``X呢？`` / ``那X呢？``: ``X`` takes the place of what it stands for in the
  previous question: a time for its time (``去年呢？``), a place, body or name for its topic
  (``南开区呢？``), anything else for the words the previous question asked about, right
  before its question word (``销售额呢？``);
- **reference** — 它/其/该…/这个…/此…/他/她…: the pronoun, with the measure word or noun
  that follows a demonstrative, becomes the previous topic (a person for 他/她: the
  previous answer when it was a person, else the person the previous question named);
- **no topic of its own** — a short question that names nothing (``同比增长多少？``,
  ``什么时候开工？``): the words of the previous question before its question word go in
  front.

A question that names something of its own and has none of these marks is a new question
and stays as it is. What was understood is shown to the person (``理解为：…``) and the
answer follows the usual contract. Measured on ``eval/conversations.jsonl`` (``rag eval
--conversations``).

>>> history = [Turn("天津古文化街今年十一期间客流多少？", answer="120万人次")]
>>> rewrite("销售额呢？", history).question
'天津古文化街今年十一期间销售额多少？'
>>> rewrite("它是哪个街道管的？", history).question
'天津古文化街是哪个街道管的？'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.reader.candidates import words
from rag.reader.question import analyse

MAX_HISTORY = 8  # turns a request may carry; only the last one is read

_ELLIPSIS = re.compile(r"^(?:那么?|还有|那如果)?(?P<frag>.{1,24}?)(?:呢|怎么样|如何)[？?。!！]*$")
_TIME = re.compile(
    r"(?:\d{4}|[一二〇零○]{4})年(?:\d{1,2}月)?(?:\d{1,2}日)?|\d{1,2}月(?:\d{1,2}日)?|"
    r"今年|去年|前年|明年|上半年|下半年|全年|当年|同期|第[一二三四1-4]季度|[一二三四1-4]季度"
)
# a pronoun (其 reads as "its"), or a demonstrative, whose measure word and noun go with
# it (该村, 这个活动)
_REFERENCE = re.compile(
    r"(?P<pron>它们|它|他们|她们|他|她|其|这里|那里|此处|此地|当地)"
    r"|(?P<dem>该|这个|这一|这些|这项|这家|这座|这所|这条|这位|这|此|那个|那些)"
)
_DEM_NOUN = {"n", "ng", "zg", "q", "nz", "j", "l", "vn", "s", "ns", "nt"}
_NAMED = {"ns", "nt", "nr", "nrt", "nrfg"}  # places, bodies, people
_RUN_START = _NAMED | {"n", "nz", "j", "l", "eng", "ng"}
_RUN_ON = _RUN_START | {"zg", "vn"}  # 市+城市+管理+委, 田炳+昇
_ATTRIBUTE_TAGS = {"n", "nz", "j", "l", "ng", "an", "eng"}
_PERSON_TAGS = {"nr", "nrt", "nrfg"}
_QUOTED = re.compile(r"[“\"《「『][^”\"》」』]{1,30}[”\"》」』]")
_TAIL = re.compile(r"[？?。！!，,\s]+$")
_QUALIFIER = re.compile(
    r"(同比|环比|比上年|比去年|较上年|较去年|相比|增长|增幅|下降|降幅|占|其中|平均|人均)"
)
_LINKING = re.compile(r"^被|^(?:将|把|对|向|由|从)(?=.)|.(?:为|于)$")
_CLASSIFIER = re.compile(r"^[个家条名位项座所种类批次户人元件台辆]")


@dataclass(frozen=True)
class Turn:
    """One earlier turn: what was asked, what it was understood as, what was answered."""

    question: str
    standalone: str | None = None
    answer: str | None = None
    answer_type: str | None = None
    article_id: str | None = None  # the article the answer was cited from

    @property
    def understood(self) -> str:
        return self.standalone or self.question


@dataclass(frozen=True)
class Rewrite:
    """The question to answer, and whether (and by which rule) it was completed."""

    question: str
    rule: str | None = None  # ellipsis, reference, topic; None: asked as it stands

    @property
    def changed(self) -> bool:
        return self.rule is not None


def _runs(text: str, start: set[str], on: set[str] | None = None) -> list[tuple[int, int]]:
    """Spans of consecutive words: one tagged in ``start`` opens a run, words tagged in
    ``on`` (default ``start``) carry it on; quoted terms are runs of their own."""
    on = on or start
    spans: list[tuple[int, int]] = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]
    begin = end = -1
    for s, e, tag in words(text):
        if _LINKING.search(text[s:e]):  # 被誉为, tagged a noun by jieba, links, never names
            tag = "v"
        if any(a <= s < b for a, b in spans):
            if begin >= 0:
                spans.append((begin, end))
                begin = -1
            continue
        if (begin < 0 and tag in start) or (begin >= 0 and tag in on):
            if begin < 0:
                begin = s
            end = e
        elif begin >= 0:
            spans.append((begin, end))
            begin = -1
    if begin >= 0:
        spans.append((begin, end))
    return sorted(spans)


def _topic_span(question: str) -> tuple[int, int] | None:
    a = analyse(question)
    left = a.left if a.wh_start >= 0 else a.text
    runs = [(s, e) for s, e in _runs(left, _RUN_START, _RUN_ON) if e - s >= 2]
    runs = [(s, e) for s, e in runs if not _TIME.fullmatch(left[s:e])]
    tagged = [(s, t) for s, e, t in words(left) if e - s >= 2]
    for wanted in (_NAMED, {"nz", "eng"}):  # a place, body or person first (红星村, 天津港)
        for s, e in runs:
            if any(s <= at < e and t in wanted for at, t in tagged):
                return s, e
    return runs[0] if runs else None


def topic_of(question: str) -> str | None:
    """What a question is about: the first run of words before its question word that
    names a place, body or person (else the first that names anything): ``天津古文化街`` of
    ``天津古文化街今年十一期间客流多少``."""
    span = _topic_span(question)
    if span is None:
        return None
    a = analyse(question)
    left = a.left if a.wh_start >= 0 else a.text
    return left[span[0] : span[1]]


def _person(turn: Turn) -> str | None:
    if turn.answer and turn.answer_type == "person":
        return turn.answer
    text = turn.understood
    for s, e, tag in words(text):
        if tag in _PERSON_TAGS and e - s >= 2:
            return text[s:e]
    return turn.answer if turn.answer and analyse(text).answer_type == "person" else None


def _names_something(question: str) -> bool:
    """Whether the question names a place, body or person of its own, or a quoted term."""
    a = analyse(question)
    if _QUOTED.search(a.text):
        return True
    return any(
        t in _NAMED and e - s >= 2 for s, e, t in words(a.text) if not (a.wh_start <= s < a.wh_end)
    )


def _attribute(a) -> tuple[str, int, int] | None:
    """What the question asks about, as (side, start, end): the noun after its question
    word (多少家**店铺**), else the last noun run before it that is not its topic."""
    right = a.right
    cls = _CLASSIFIER.match(right)
    skip = cls.end() if cls else 0
    for s, e in _runs(right, _ATTRIBUTE_TAGS):
        if s <= skip + 1:
            return "right", s, e
    topic = _topic_span(a.text)
    runs = [
        (s, e)
        for s, e in _runs(a.left, _ATTRIBUTE_TAGS)
        if topic is None or e <= topic[0] or s >= topic[1]
    ]
    return ("left", *runs[-1]) if runs else None


def _ellipsis(frag: str, prev: str) -> str | None:
    a = analyse(prev)
    body = a.text
    if _TIME.fullmatch(frag):  # 去年呢: the same question, another time
        m = _TIME.search(body)
        if m:
            return body[: m.start()] + frag + body[m.end() :] + "？"
        span = _topic_span(prev)
        at = span[1] if span else 0
        return body[:at] + frag + body[at:] + "？"
    if a.wh_start < 0:
        return None
    fw = words(frag)
    topic_span = _topic_span(prev)
    topic = body[topic_span[0] : topic_span[1]] if topic_span else ""
    if fw and fw[-1][2] in _NAMED and topic:  # 南开区呢: the same question, another place
        return body.replace(topic, frag, 1) + "？"
    attr = _attribute(a)
    wh_on = body[a.wh_start :]
    if frag.endswith("的") or any(t.startswith("v") and t != "vn" for _, _, t in fw):
        # 向京津冀拓展延伸的呢: what the topic did, asked the same way
        if attr and attr[0] == "left":
            return topic + frag + a.left[attr[1] :] + wh_on + "？"
        return topic + frag + wh_on + "？"
    if attr and attr[0] == "right":  # 多少家店铺 -> 多少从业人员
        return body[: a.wh_end] + frag + a.right[attr[2] :] + "？"
    if attr:  # 十一期间客流多少 -> 十一期间销售额多少; 吞吐量突破了多少 -> 航线多少 (the
        _, s, e = attr  # old attribute's own verb goes with it)
        return a.left[:s] + frag + wh_on + "？"
    return a.left + frag + wh_on + "？"


def _salient(prev: Turn) -> str | None:
    """What a follow-up most likely refers to: the previous answer when it named a place
    or a body (``哪个村`` → ``红星村``: the next question is about that village), else the
    previous question's topic."""
    if prev.answer and prev.answer_type in ("place", "organization") and len(prev.answer) <= 20:
        return prev.answer
    return topic_of(prev.understood)


def _reference(question: str, prev: Turn) -> str | None:
    topic = _salient(prev)
    for m in _REFERENCE.finditer(question):
        pron = m.group("pron")
        if pron in ("他", "她", "他们", "她们"):
            who = _person(prev)
            if who:
                return question[: m.start()] + who + question[m.end() :]
            continue
        if not topic:
            continue
        end = m.end()
        if m.group("dem"):  # 该村 / 这个活动 / 这些企业: the noun after it is the topic too
            taken = 0
            for _, e, tag in words(question[end:]):
                if tag not in _DEM_NOUN or e > 4:
                    break
                taken = e
            end += taken
        name = topic + "的" if pron == "其" else topic
        return question[: m.start()] + name + question[end:]
    return None


def rewrite(question: str, history: Sequence[Turn]) -> Rewrite:
    """``question`` completed from the last turn of ``history`` (unchanged without one)."""
    q = question.strip()
    if not history or not q:
        return Rewrite(question)
    prev = history[-1]
    m = _ELLIPSIS.match(q)
    if m:
        done = _ellipsis(_TAIL.sub("", m.group("frag")), prev.understood)
        if done:
            return Rewrite(done, "ellipsis")
    done = _reference(q, prev)
    if done:
        return Rewrite(done, "reference")
    if not _names_something(q) and len(_TAIL.sub("", q)) <= 16:
        # "同比增长多少？" qualifies what the previous question asked about: it follows all of
        # that question's words before its question word; anything else follows the topic
        a = analyse(prev.understood)
        left = a.left if a.wh_start >= 0 else ""
        topic = _salient(prev)
        base = left if _QUALIFIER.match(q) else (topic or left)
        if base:
            return Rewrite(base + q, "topic")
    return Rewrite(question)
