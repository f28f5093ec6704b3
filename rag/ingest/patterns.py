"""What the lines of a Chinese newspaper or magazine page look like.

Pure functions over one normalised line; the segmenter combines them with context.
"""

from __future__ import annotations

import re

from rag.text.lexicon import HAN
from rag.text.mapped import is_cjk

_BYLINE = re.compile(
    r"^(?:文\s*[/／|丨]\s*|(?:本刊)?(?:特约)?(?:记者|通讯员|撰稿|作者)[:：\s]\s*)(?P<who>.*)$"
)
_SUPPLIED = re.compile(r"^[（(](?P<who>[^（()）]{2,40}?)\s*(?:供稿|供图|撰稿|/文)[）)]$")
_EXCERPT = re.compile(r"^[（(](?:摘编?自|来源[:：]|转自|据)(?P<who>[^（()）]{2,40})[）)]$")
_GROUP = re.compile(
    r"^(?:中共)?[" + HAN + r"“”·、]{2,30}"
    r"(?:理论学习中心组|党组|党委|党工委|党总支|党支部|组织部|社会工作部|宣传部|统战部|机关工委|工委|委员会|研究室|"
    r"机关党委|机关党办|办公室|办公厅|宣讲团|课题组|联合会)$"
)
_COLUMN_MARKED = re.compile(
    r"^(?:[·•]\s*(?P<a>[^·•]{1,10}?)\s*[·•]|■\s*(?P<b>.{1,12})|【(?P<c>[^】]{1,10})】)\s*(?P<rest>.*)$"
)
_ENUMERATED = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[)）]|\d{1,2}[、.．]\s*\D|第[一二三四五六七八九十]+[，、])"
)
_ISSUE = re.compile(r"(?P<year>(?:19|20)\d{2})\s*年\s*第\s*(?P<no>\d{1,3})\s*期")
_HALF = re.compile(r"(上半月|下半月|上旬|中旬|下旬)")
_DATE = re.compile(r"(?:19|20)\d{2}年\d{1,2}月\d{1,2}日")
_ROLE_WORDS = ("记者", "通讯员", "本刊", "特约", "实习生")


def byline_author(line: str) -> str | None:
    """The author named in a byline (``文 / 本刊记者 谢小燕`` → ``谢小燕``), '' if cut short."""
    m = _BYLINE.match(line)
    if not m:
        return None
    return clean_author(m.group("who"))


def clean_author(who: str) -> str:
    """Drop roles and titles before the names: ``东丽区委常委、区委组织部部长 潘作成`` → ``潘作成``."""
    who = who.strip().strip("/／")
    for word in _ROLE_WORDS:
        who = who.replace(word, " ")
    parts = who.split()
    if not parts:
        return ""
    # a role with its holder ("区委组织部部长 潘作成"): keep the trailing short name tokens
    names: list[str] = []
    for tok in reversed(parts):
        if len(tok) <= 4 and all(is_cjk(c) or c == "·" for c in tok):
            names.append(tok)
        else:
            break
    if names:
        return " ".join(reversed(names))
    m = re.search(
        r"(?:书记|部长|主任|局长|区长|所长|院长|社长|主编|教授|研究员)([" + HAN + r"·]{2,4})$",
        parts[-1],
    )
    if m:
        return m.group(1)
    return " ".join(parts)


def supplied_by(line: str) -> str | None:
    """``（和平区委组织部 供稿）`` → ``和平区委组织部``: an article's closing credit."""
    m = _SUPPLIED.match(line)
    return m.group("who").strip() if m else None


def is_excerpt_note(line: str) -> bool:
    """``（摘编自新华网）``: an article's closing source note."""
    return bool(_EXCERPT.match(line))


def is_author_note(line: str) -> bool:
    """``（作者系……）``: a note on the author that closes an article."""
    return bool(re.match(r"^[（(]\s*作者(?:系|为|单位|简介)", line))


def is_group_author(line: str) -> bool:
    """A writing group printed under a title, e.g. ``中共天津市西青区委理论学习中心组``."""
    s = line.replace(" ", "")
    return len(s) <= 32 and bool(_GROUP.match(s))


def column_label(line: str) -> tuple[str, str] | None:
    """A marked column label (``·城事·``, ``■ 卷首``, ``【解读】``) and any text after it."""
    m = _COLUMN_MARKED.match(line)
    if not m:
        return None
    label = (m.group("a") or m.group("b") or m.group("c") or "").strip()
    return (label, m.group("rest").strip()) if label else None


def is_enumerated(line: str) -> bool:
    """``一、`` ``（二）`` ``3.``: a numbered sub-heading or list item, never an article title."""
    return bool(_ENUMERATED.match(line))


def is_heading_like(line: str, max_len: int = 40) -> bool:
    """Short, unpunctuated as a sentence: a title, a sub-heading or a label."""
    s = line.strip()
    if len(s) < 2 or len(s) > max_len:
        return False
    if s.startswith(("——", "—", "（", "(", "“", "《")) and not _looks_like_quoted_title(s):
        return False
    if any(p in s[:-1] for p in "。；"):
        return False
    last = s[-1]
    if last in "，、；：:,;。":
        return False
    if last in "！？!?" and (len(s) > 30 or "，" in s):
        return False
    return s.count("，") <= 1


def _looks_like_quoted_title(s: str) -> bool:
    # “烟火”西北角 …, 《小楼春秋》: a title may open with a quote or book-title mark
    return s[0] in "“《" and s[-1] not in "。；，" and len(s) <= 40


def md_level(raw: str) -> int:
    """The level of a markdown heading line (``## 标题`` → 2), 0 for any other line."""
    s = raw.lstrip()
    n = len(s) - len(s.lstrip("#"))
    return n if 0 < n <= 6 and s[n : n + 1] == " " else 0


def inline_byline(s: str) -> tuple[str, str] | None:
    """A title with its byline run into the same line: (title, author)."""
    m = re.search(r"\s*文\s*[/／]", s)
    if not m or m.start() < 4:
        return None
    author = byline_author(s[m.start() :].strip())
    return s[: m.start()], author or ""


def issue_of(line: str) -> str | None:
    """``下半月 2024年第11期·总第1148期`` → ``2024年第11期 下半月``."""
    m = _ISSUE.search(line)
    if not m:
        return None
    half = _HALF.search(line)
    issue = f"{m.group('year')}年第{m.group('no')}期"
    return f"{issue} {half.group(1)}" if half else issue


def date_of(line: str) -> str | None:
    m = _DATE.search(line)
    return m.group(0) if m else None


def compact(s: str) -> str:
    """A comparison key for titles: letters, digits and CJK only."""
    return "".join(c for c in s if c.isalnum())
