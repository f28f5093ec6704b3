"""Candidate answer spans in a sentence: numbers with units, dates, quoted terms, names.

Every candidate is a ``(start, end)`` span of the text it was found in, so offsets stay
exact. Kinds: number, date, term (quoted or a book title), person, organization, place,
noun (other noun phrases).

>>> found = extract("截至6月共接待研学团队400余支、超2.5万人次。")
>>> [(c.text, c.kind) for c in found if c.kind in ("number", "date")]
[('6月', 'date'), ('400余支', 'number'), ('超2.5万人次', 'number'), ('2.5万人次', 'number')]
>>> [c.text for c in found if c.kind == "organization"]
['研学团队', '团队']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rag.text.lexicon import HAN, HAN_CHAR, NAME_BREAK_CHARS, TITLE_WORDS, ends_with_one_of

UNIT_CLASS: dict[str, str] = {
    **dict.fromkeys(("元", "万元", "亿元", "千元", "美元", "万美元", "亿美元", "块"), "money"),
    **dict.fromkeys(("%", "％", "个百分点", "成", "倍"), "percent"),
    **dict.fromkeys(("名", "人", "人次", "万人次", "位", "万人", "名人", "余人"), "people"),
    **dict.fromkeys(("年", "个月", "月", "天", "日", "小时", "分钟", "秒", "周", "年间"), "time"),
    **dict.fromkeys(
        ("公里", "千米", "米", "里", "厘米", "毫米", "公分", "英里", "海里", "英尺"), "length"
    ),
    **dict.fromkeys(("平方米", "平方公里", "亩", "公顷", "万亩", "万平方米"), "area"),
    **dict.fromkeys(
        ("吨", "万吨", "公吨", "公斤", "万公斤", "千克", "斤", "台斤", "克", "毫克"), "mass"
    ),
    **dict.fromkeys(
        (
            "个",
            "项",
            "类",
            "家",
            "条",
            "座",
            "栋",
            "辆",
            "支",
            "件",
            "架",
            "颗",
            "所",
            "批",
            "场",
            "次",
            "期",
            "届",
            "只",
            "台",
            "处",
            "张",
            "本",
            "部",
            "篇",
            "份",
            "套",
            "间",
            "层",
            "级",
            "步",
            "种",
            "款",
            "门",
            "户",
            "组",
            "队",
            "班",
            "段",
            "片",
            "株",
            "棵",
            "头",
            "块",
            "标准箱",
            "万标准箱",
            "千瓦",
            "万千瓦",
            "度",
            "立方米",
            "万册",
            "册",
            "集",
            "幅",
            "艘",
            "列",
            "趟",
            "单",
            "笔",
            "起",
            "宗",
            "封",
            "轮",
            "季",
            "户次",
            # measures of other corpora than the sample's (volume, energy)
            "升",
            "公升",
            "毫升",
            "万立方米",
            "千瓦时",
            "万千瓦时",
            "兆瓦",
        ),
        "count",
    ),
}
_UNITS = sorted(UNIT_CLASS, key=len, reverse=True)
_UNIT_RE = "(?:" + "|".join(re.escape(u) for u in _UNITS) + ")"
_DIGITS = r"\d+(?:[.,]\d+)*"
_CN = "[零〇一二两三四五六七八九十百千]+"
_MAG = "(?:万亿|亿|万|千|百)"
_APPROX_PRE = "(?:超过|超|约|近|逾|达|共|仅)?"
_NUMBER = re.compile(
    rf"{_APPROX_PRE}(?:{_DIGITS}|{_CN}(?=[余多]?{_MAG}?{_UNIT_RE}))(?:[余多])?{_MAG}?(?:[余多])?"
    rf"(?:{_UNIT_RE})?(?:(?:{_DIGITS}|{_CN}){_MAG}?(?:[余多])?{_UNIT_RE})*"
)
_PERCENT_CN = re.compile(r"百分之[零一二两三四五六七八九十百点]+")
_DATE = re.compile(
    r"(?:\d{4}|[一二〇零三四五六七八九]{4})\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?)?"
    r"(?:[上中下]旬|初|底|末|年底|年初)?"
    r"|\d{1,2}\s*月\s*\d{1,2}\s*[日号]|\d{1,2}\s*月(?:[上中下]旬|初|底|末)?"
    r"|[一二三四五六七八九十]{1,3}月[一二三四五六七八九十]{1,3}日"
    r"|(?:今|去|明|前)年(?:\d{1,2}月)?"
)
_QUOTED = re.compile(
    r"“([^“”\n]{1,30})”|《([^《》\n]{1,40})》|「([^「」\n]{1,30})」|‘([^‘’\n]{1,20})’"
)

_ORG_SUFFIX = re.compile(
    r"(局|委|委员会|中心|公司|集团|大学|学院|学校|中学|小学|医院|法院|检察院|协会|促进会|学会|研究会|"
    r"馆|部|厅|办|办公室|所|社|银行|合作社|工作站|党委|党组|党支部|支部|总支|工委|政府|联合会|"
    r"基金会|出版社|报社|电视台|研究院|研究所|实验室|企业|组织|机构|团队|队|处|科|署|站|院|厂|店|联盟)$"
)
_PLACE_SUFFIX = re.compile(
    r"(省|市|区|县|镇|乡|村|街道|社区|街|路|道|巷|港|湾|河|湖|山|岛|园|公园|广场|小区|新区|"
    r"开发区|保税区|生态城|商圈|大厦|国|州|里|庄|屯|营|口|城)$"
)
_TITLES = ends_with_one_of(TITLE_WORDS)
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘"
    "祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟"
    "艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞"
    "姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝廉"
)
_NOUNISH = {"n", "nr", "ns", "nt", "nz", "nrt", "nrfg", "j", "ng", "eng", "an", "vn", "b"}
_NOUN_CORE = {"n", "nr", "ns", "nt", "nz", "nrt", "nrfg", "j", "ng", "eng"}


_FUNCTION_CHARS = set("的了在是和与及等说为将把被从向对到也都就又还而着过之其以于赴")
# words that end like a body or a place but name none
_NOT_NAMES = set(
    "全部 内部 外部 局部 各部 干部 全市 本市 该市 我市 全区 本区 该区 我区 辖区 全村 本村 该村 "
    "全国 各国 全镇 本镇 各地 全省 本省 各省 全社 全局 全院 全校 各区 各村 各镇".split()
)
_NOT_NAME_ENDS = tuple(sorted(_NOT_NAMES))  # for str.endswith
_BREAK = re.compile(f"[{NAME_BREAK_CHARS}]")
# coordinated names of one kind: "杨柳青镇、辛口镇"
_COORD_SUFFIX = "(?:镇|村|区|县|市|省|街道|社区|公司|大学|局|委)"
_COORD = re.compile(f"([{HAN}]{{2,8}}?{_COORD_SUFFIX})(?:、[{HAN}]{{2,8}}?{_COORD_SUFFIX})+")


@dataclass(slots=True)  # read-only by convention (cached, shared); frozen is slower to make
class Candidate:
    """A candidate answer: ``text`` is ``sentence[start:end]``."""

    start: int
    end: int
    text: str
    kind: str
    unit: str | None = None
    quoted: bool = False  # inside “” or 《》 in the text
    tokens: int = 1  # how many words it spans (names and noun phrases)


@lru_cache(maxsize=1)
def _tagger():
    """jieba's words (cut by jieba-rs) and its dictionary of part-of-speech tags (lookup, no
    HMM tagging)."""
    import jieba.posseg

    from rag.text.words import WordCutter

    return WordCutter(), jieba.posseg.dt.word_tag_tab


@lru_cache(maxsize=1)
def verb_heads() -> frozenset[str]:
    """The first two characters of every verb of two or more characters in jieba's tag
    dictionary: a text whose first word is such a verb starts with one of them (an unknown
    word is never tagged a verb)."""
    return frozenset(w[:2] for w, t in _tagger()[1].items() if t == "v" and len(w) >= 2)


_ENG = re.compile(r"[A-Za-z][A-Za-z0-9.\-]*")
_NUM = re.compile(r"[\d.%％]+")
_HAN = re.compile(f"[{HAN}]+")


def _guess_tag(word: str, freq: dict[str, int]) -> str:
    """The tag of a word jieba's tag dictionary does not hold."""
    if _ENG.fullmatch(word):
        return "eng"
    if _NUM.fullmatch(word):
        return "m"
    if len(word) in (2, 3) and word[0] in _SURNAMES and word not in freq:
        return "nr"  # an unknown 2-3 character word after a surname: a name, most often
    return "nz" if len(word) >= 2 and _HAN.fullmatch(word) else "x"


def unit_class_of(unit: str | None) -> str | None:
    if not unit:
        return None
    for u in _UNITS:
        if unit.endswith(u):
            return UNIT_CLASS[u]
    return None


def words(text: str) -> list[tuple[int, int, str]]:
    """(start, end, tag) of each jieba word of ``text``."""
    cutter, tags = _tagger()
    out = []
    pos = 0
    freq = cutter.freq
    for w in cutter.cut(text):
        n = len(w)
        out.append((pos, pos + n, tags.get(w) or _guess_tag(w, freq)))
        pos += n
    return out


def extract(text: str) -> list[Candidate]:
    """All candidate spans in ``text`` (a sentence or a clause), in order of position."""
    out: list[Candidate] = []
    seen: set[tuple[int, int]] = set()

    def add(s: int, e: int, kind: str, **kw) -> None:
        while s < e and text[s] in " \t\n":
            s += 1
        while e > s and text[e - 1] in " \t\n":
            e -= 1
        if e > s and (s, e) not in seen:
            seen.add((s, e))
            out.append(Candidate(s, e, text[s:e], kind, **kw))

    date_spans = []
    for m in _DATE.finditer(text):
        add(m.start(), m.end(), "date", unit="date")
        date_spans.append((m.start(), m.end()))
    for m in _NUMBER.finditer(text):
        s, e = m.span()
        if not re.search(r"\d|[零〇一二两三四五六七八九十百千]", m.group()):
            continue
        for ds, de in date_spans:  # "2024年20项": the date is not part of the number
            if ds <= s < de:
                s = de
        if e <= s:
            continue
        num = text[s:e]
        if re.fullmatch(r"[一两]\D{1,2}", num) or not re.search(
            r"\d|[零〇一二两三四五六七八九十百千]", num
        ):
            continue  # "一个", "一批": an article, not a count
        um = re.search(_UNIT_RE + "$", num)
        unit = um.group() if um else None
        if unit is None and not re.search(r"\d", num):
            continue
        add(s, e, "number", unit=unit)
        pre = re.match(_APPROX_PRE, num)
        if pre and pre.end():
            add(s + pre.end(), e, "number", unit=unit)  # also without 超/约/近
    for m in _PERCENT_CN.finditer(text):
        add(m.start(), m.end(), "number", unit="%")
    for m in _QUOTED.finditer(text):
        g = next(i for i in range(1, 5) if m.group(i) is not None)
        add(m.start(g), m.end(g), "term", quoted=True)
    _noun_phrases(text, add)
    out.sort(key=lambda c: (c.start, -c.end))
    return out


def _noun_phrases(text: str, add) -> None:
    """Runs of nouns; every prefix and suffix of a run (heads come last in Chinese)."""
    ws = words(text)
    # names right after a title: "党建办主任朱志庆", "副总经理王鹏程"
    for k in range(1, len(ws)):
        s, e, _ = ws[k]
        prev = text[ws[k - 1][0] : ws[k - 1][1]]
        w = text[s:e]
        if _TITLES.search(prev) and 2 <= len(w) <= 3 and w[0] in _SURNAMES:
            add(s, e, "person")
        elif _TITLES.search(prev) and len(w) == 1 and w in _SURNAMES and k + 1 < len(ws):
            e2 = ws[k + 1][1]
            if 2 <= e2 - s <= 3:
                add(s, e2, "person")

    # a name jieba cut short: "田炳" + "昇" -> "田炳昇"
    for k, (s, e, tag) in enumerate(ws):
        w = text[s:e]
        if tag not in ("nr", "nrfg", "nrt") or w[0] not in _SURNAMES:
            continue
        if len(w) == 2 and k + 1 < len(ws) and ws[k + 1][1] - ws[k + 1][0] == 1:
            nxt = text[ws[k + 1][0]]
            if HAN_CHAR.match(nxt) and nxt not in _FUNCTION_CHARS:
                add(s, e + 1, "person", tokens=2)
    # coordinated names of one kind: "杨柳青镇、辛口镇"
    starts = {w[0] for w in ws}
    for m in _COORD.finditer(text):
        first = text.index("、", m.start())
        for s0 in range(m.start(), first - 1):
            if s0 in starts:
                add(s0, m.end(), _kind(m.group(), ["n"]), tokens=3)

    # names of bodies and places by their last word, whatever jieba made of the words
    # before it: "天津觉悟社纪念馆", "中新天津生态城", "朝阳里社区"
    for k, (s, e, _) in enumerate(ws):
        w = text[s:e]
        org, place = _ORG_SUFFIX.search(w), _PLACE_SUFFIX.search(w)
        if not (org or place) or len(w) > 6 or w in _NOT_NAMES:
            continue
        for j in range(k - 1, max(-1, k - 7), -1):
            s0 = ws[j][0]
            if e - s0 > 16 or _BREAK.search(text[s0:s]) or (ws[j][2] == "v" and ws[j][1] - s0 > 1):
                break
            if text[s0] in _FUNCTION_CHARS:
                continue
            add(s0, e, "organization" if org else "place", tokens=k - j + 1)

    i = 0
    while i < len(ws):
        if ws[i][2] not in _NOUNISH:
            i += 1
            continue
        j = i
        while j < len(ws) and ws[j][2] in _NOUNISH and not text[ws[j][0] : ws[j][1]].isspace():
            j += 1
        run = ws[i:j]
        i = j
        if not any(t in _NOUN_CORE for _, _, t in run):
            continue
        n = len(run)
        spans = {(a, b) for a in range(n) for b in range(a + 1, n + 1) if a == 0 or b == n}
        if n <= 4:
            spans |= {(a, b) for a in range(n) for b in range(a + 1, n + 1)}
        run_tags = [t for _, _, t in run]
        for a, b in spans:
            if b - a > 6:
                continue
            s, e = run[a][0], run[b - 1][1]
            if e - s < 2 or e - s > 30:
                continue
            add(s, e, _kind(text[s:e], run_tags[a:b]), tokens=b - a)


def _kind(phrase: str, tags: list[str]) -> str:
    if phrase.endswith(_NOT_NAME_ENDS):
        return "noun"
    if len(tags) == 1 and tags[0] in ("nr", "nrfg", "nrt") and 2 <= len(phrase) <= 4:
        return "person"
    if _ORG_SUFFIX.search(phrase) or tags[-1] == "nt":
        return "organization"
    if _PLACE_SUFFIX.search(phrase) or tags[-1] == "ns":
        return "place"
    return "noun"
