"""Word lists and character classes shared by search, the readers and the trainer.

Each list lives here once. Where two users need lists that differ, both are here, one
written as the other plus (or minus) the words that make the difference, so that the
difference has a name.

>>> "的" in SEARCH_STOPWORDS and "的" in QUESTION_STOPWORDS
True
>>> bool(HAN_CHAR.search("abc天津"))
True
"""

from __future__ import annotations

import re

# --------------------------------------------------------------- CJK characters

# the CJK Unified Ideographs block, as a character-class range (inside [...])
HAN = "\u4e00-\u9fff"
HAN_CHAR = re.compile(f"[{HAN}]")  # one Chinese character

# --------------------------------------------------------------- stopwords

# function words and question words that neither search nor the reader's question terms count
FUNCTION_WORDS = frozenset(
    "的 了 是 在 和 与 及 并 等 也 都 而 被 把 将 对 为 以 于 从 向 其 这 那 该 此 之 有 个 一 "
    "上 中 下 里 会 要 能 就 又 还 吗 呢 吧 啊 什么 哪 哪个 哪些 哪里 哪一 谁 多少 几 怎样 如何 "
    "怎么 是否 叫".split()
)
# search (index/tokens.py): also the question phrasings and the verbs of officialese that
# every article repeats ("推进", "开展"), which would match any passage
SEARCH_STOPWORDS = FUNCTION_WORDS | frozenset(
    "或 则 即 各 每 所 曾 已 已经 可以 通过 进行 开展 推动 推进 加强 深入 全面 持续 一个 何 几个 "
    "为何 为什么 请问 请 什么样 多大 多长 多久 哪年 哪天 何时 时候 哪儿 第几 名叫 称为 称作 "
    "是什么 叫什么 有哪些".split()
)
# the offline reader's question terms: also the words a question states its frame with
# ("文中", "一共", "去年"), which say nothing of where its answer stands
QUESTION_STOPWORDS = FUNCTION_WORDS | frozenset(
    "到 由 让 给 着 过 后 前 时 可 么 哪家 名字 一共 共 多 文中 文章 其中 当时 今年 去年".split()
)

# --------------------------------------------------------------- boundaries

# where a sentence's clauses end: what a gap question keeps around its gap, and what the
# pipeline's evidence is cut at
CLAUSE_BREAK = re.compile(r"[，；：,;:]")

# punctuation and the function characters that can stand between two names: a name found
# by its last word never reaches back over one of them (rag/reader/candidates.py)
NAME_BREAK_CHARS = r"\s，。、；：！？“”《》（）()「」,.;:!?的在和与及是为对把被将从向到等"
# what ends a candidate cleanly on either side (the offline reader's clean_left/right):
# the name breaks and three more function characters
SPAN_BOUNDARY_CHARS = NAME_BREAK_CHARS + "由赴了"

# --------------------------------------------------------------- titles

# a title right before a span: the span is likely a person's name (the offline reader's
# after_title_word feature)
TITLE_WORDS_BEFORE_NAMES = (
    "书记",
    "主任",
    "局长",
    "处长",
    "部长",
    "队长",
    "院长",
    "校长",
    "馆长",
    "经理",
    "主席",
    "委员",
    "记者",
    "主编",
    "专家",
    "教授",
    "网格员",
    "民警",
    "负责人",
    "大学士",
    "讲师",
    "同志",
    "女士",
    "先生",
    "代表",
    "干部",
)
# titles, roles and occupations a word before a surname ends with: the next two or three
# characters are taken as a name (candidate extraction)
TITLE_WORDS = (
    *TITLE_WORDS_BEFORE_NAMES,
    "科长",
    "组长",
    "社长",
    "站长",
    "所长",
    "厂长",
    "行长",
    "会长",
    "理事长",
    "董事长",
    "总经理",
    "编辑",
    "作者",
    "教师",
    "老师",
    "博士",
    "宣讲员",
    "党员",
    "村民",
    "居民",
    "志愿者",
    "医生",
    "律师",
    "工程师",
    "研究员",
    "馆员",
    "班长",
    "团长",
    "指导员",
    "主管",
    "创始人",
    "传承人",
)


def ends_with_one_of(words_: tuple[str, ...]) -> re.Pattern[str]:
    """A pattern whose ``search`` finds whether a text ends with one of ``words_``."""
    return re.compile("(" + "|".join(words_) + ")$")
