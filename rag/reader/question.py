"""Question analysis: what kind of answer is asked for, and the words around the gap.

>>> q = analyse("西北角60多家商户自愿掏腰包，一共凑了多少钱？")
>>> q.answer_type, q.unit_class, q.left
('number', 'money', '西北角60多家商户自愿掏腰包，一共凑了')
>>> analyse("尖山街道党工委书记是谁？").answer_type
'person'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.reader.candidates import UNIT_CLASS, unit_class_of

# (answer type, pattern of the question word); the first that matches wins
_WH: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (t, re.compile(p))
    for t, p in (
        (
            "date",
            r"哪一?年|何年|哪一?天|哪一?日|何时|什么时候|什么时间|哪个月|几月|几号|哪一?年份|哪段时间|日期",
        ),
        (
            "number",
            r"百分之几|多少个百分点|占比多少|多少|几[^乎]|多大|多长|多高|多重|多远|多久|第几|几$",
        ),
        (
            "person",
            r"谁|哪位|哪一位|哪个人|哪些人|什么人|姓名|叫什么名字(?=[？?。]?$)",
        ),
        (
            "place",
            r"哪里|哪儿|何地|何处|什么地方|哪个地方|哪个地区|哪座城市|哪个城市|哪个国家|哪个省|"
            r"哪座|哪个区|哪个县|哪个镇|哪个村|哪个社区|哪个街道|哪片|在哪",
        ),
        (
            "organization",
            r"哪家|哪个部门|哪一部门|哪个单位|哪些单位|哪个机构|什么机构|什么组织|哪个组织|哪所|"
            r"哪个集团|哪个协会|什么单位|哪个企业|哪个公司|全称|哪支|哪个团队|哪个党支部|哪个党组织|哪级",
        ),
        (
            "phrase",
            r"叫什么|是什么|什么|哪些|哪个|哪项|哪一项|哪种|哪类|哪两|哪三|哪几|哪[一二三四五六七八九十]|如何|怎样|怎么",
        ),
    )
)

# nouns right before "叫什么名字" that make it a question about a person
_PERSON_NOUN = re.compile(
    r"(员|长|者|人|书记|主任|主编|专家|教师|老师|大学士|干部|家|手|生|士|官|师|委员|代表|女士|先生|"
    r"同志|英雄|模范|党员|村民|居民|记者|作者|负责人|总经理|经理|董事|局长|校长|院长|支书)[^，,]{0,3}$"
)
# what a "多少/几" question counts, by the word that follows it
_COUNTED = tuple(
    (cls, re.compile(p))
    for cls, p in (
        ("money", r"钱|资金|贷款|投资|金额|资本|经费|收入|产值|规模|营收|税|补贴|奖金|融资|额"),
        ("percent", r"百分|比例|增长|下降|减少|提高|提升|增幅|降幅|占比|比重|率"),
        ("people", r"人|名|位|党员|干部|员工|职工|志愿者|群众|游客|学生|居民|村民"),
        ("time", r"多久|多长时间|年|月|天|小时|分钟|时长"),
        ("length", r"多长|多远|公里|米|千米|里程|长度"),
        ("area", r"面积|多大|亩|平方"),
    )
)


@dataclass(frozen=True)
class QuestionAnalysis:
    text: str
    answer_type: str  # number, date, person, place, organization, phrase
    wh_start: int  # where the question word stands in ``text`` (-1: not found)
    wh_end: int
    unit: str | None  # the classifier after 多少/几 (名, 个, 万元...), when there is one
    unit_class: str | None  # money, percent, people, time, length, area, count
    left: str  # the words before the question word (what precedes the gap in a statement)
    right: str  # the words after it

    @property
    def wh(self) -> str:
        return self.text[self.wh_start : self.wh_end] if self.wh_start >= 0 else ""


_TAIL = re.compile(r"[？?。！!，,\s]+$")
_UNIT_AFTER = re.compile(
    "^(" + "|".join(sorted((re.escape(u) for u in UNIT_CLASS), key=len, reverse=True)) + ")"
)


def analyse(question: str) -> QuestionAnalysis:
    """The question's answer type, its question word, the unit it counts in, and the words
    on each side of the question word."""
    text = _TAIL.sub("", question.strip())
    best: tuple[int, str, re.Match[str]] | None = None
    for rank, (kind, pat) in enumerate(_WH):
        m = pat.search(text)
        if m and (best is None or rank < best[0]):
            best = (rank, kind, m)
            break
    if best is None:
        return QuestionAnalysis(text, "phrase", -1, -1, None, None, text, "")
    _, kind, m = best
    s, e = m.start(), m.end()
    if kind == "number" and m.group().startswith("几") and len(m.group()) == 2:
        e = s + 1  # "几个": the question word is 几, the classifier follows
    if kind == "phrase" and re.search(r"叫什么名字", text) and _PERSON_NOUN.search(text[:s]):
        kind = "person"
    if kind == "person" and text[s:e] == "叫什么名字" and not _PERSON_NOUN.search(text[:s]):
        kind = "phrase"
    unit = cls = None
    if kind == "number":
        after = text[e:]
        um = _UNIT_AFTER.match(after)
        if um:
            unit = um.group(1)
            cls = unit_class_of(unit)
        if cls is None or cls == "count":
            near = text[max(0, s - 8) : e + 6]
            for name, pat in _COUNTED:
                # money and percent read the question around 多少; the others only the word
                # after it ("今年新建了几个" is a count, not a time)
                if pat.search(near if name in ("money", "percent") else after[:4]):
                    cls = name
                    break
        if cls is None:
            cls = "count"
    return QuestionAnalysis(text, kind, s, e, unit, cls, text[:s], text[e:])
