"""Clean text extracted from PDFs while keeping a map back to the original characters.

Every kept character remembers its offset in the original file, so a span of the
cleaned text maps back to the exact original text a citation quotes. Cleaning only
deletes characters or replaces one character by one (width and quote forms), never
inserts, which is what keeps the map exact.

>>> mt = clean_text("对新征 程上天津工作提出了重要要求,其 中之一\\n\\n就是要在")
>>> mt.text
'对新征程上天津工作提出了重要要求，其中之一就是要在'
>>> mt.offsets[:5]
(0, 1, 2, 4, 5)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from rag.text.mapped import MappedText, is_cjk, is_cjk_punct

# One-to-one substitutions: half-width punctuation next to Chinese becomes full-width,
# full-width letters and digits become ASCII, corner brackets become curly quotes.
_HALF_TO_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}
_ALWAYS = {"「": "“", "」": "”", "『": "‘", "』": "’", "\u3000": " ", "\u00a0": " ", "\t": " "}
_ALWAYS.update({chr(c): chr(c - 0xFEE0) for c in range(0xFF10, 0xFF1A)})  # ０-９
_ALWAYS.update({chr(c): chr(c - 0xFEE0) for c in range(0xFF21, 0xFF3B)})  # Ａ-Ｚ
_ALWAYS.update({chr(c): chr(c - 0xFEE0) for c in range(0xFF41, 0xFF5B)})  # ａ-ｚ
_ALWAYS["％"] = "%"
_ALWAYS["．"] = "."

TERMINAL = '。！？!?…；;”’"」』）)》■□★☆✎▲◆●'  # a line ending in one of these ends a sentence
STOPS = "。！？"  # the full-width marks that end a printed sentence (a subset of TERMINAL)
COLONS = "：:"  # a line ending in a colon announces what follows: no cut sentence, no title

_FURNITURE = re.compile(
    r"^(扫码(收听|看|观看|阅读|聆听)|扫描二维码|长按(识别)?二维码|(本版|本期)(组稿|编辑|责编|统筹)"
    r"|(总编辑|副总编辑|社长|副社长|主编|副主编|执行主编|文字采编|美术编辑|责任编辑|责任校对|编辑部电话|发行部电话"
    r"|广告经营许可证号|邮发代号|发行范围|联系地址|邮政编码|网络地址|电子邮箱|合作媒体|法律顾问|主管主办|编辑出版"
    r"|发行单位|国际标准刊号|国内统一刊号|定价|印刷)(\s|/|：|:|$|\d)"
    r"|每月\d+日出版|https?://|<?https?://|www\.|ISSN\s|CN\s?\d|.{0,16}(公众号|公号|视频号|客户端|全媒体矩阵)$|抖音搜索)"
)


def _zh(ch: str) -> bool:
    return bool(ch) and (is_cjk(ch) or is_cjk_punct(ch))


@dataclass(frozen=True)
class Line:
    """One line of the original text: where it is and its normalised form."""

    start: int  # offset of the line's first character in the original
    end: int  # offset just past its last character (before the newline)
    raw: str
    norm: MappedText  # markers stripped, stray spaces removed, punctuation unified

    @property
    def text(self) -> str:
        return self.norm.text

    @property
    def loose(self) -> str:
        """The raw line with markdown markers dropped and inner spaces kept (for titles)."""
        s = re.sub(r"^\s*(#{1,6}\s+|[-*]\s+(?=\d))", "", self.raw).replace("**", "")
        return " ".join(s.split())


def split_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield (offset, line) for each line of ``text`` (without newline)."""
    pos = 0
    for line in text.split("\n"):
        yield pos, line
        pos += len(line) + 1


def normalize_line(raw: str, base: int) -> MappedText:
    """Normalise one line; ``base`` is its offset in the original text."""
    chars: list[str] = []
    offs: list[int] = []
    i = 0
    n = len(raw)
    # markdown heading marker and list dash before a number ("- 11 标题")
    m = re.match(r"\s*(#{1,6}\s+|[-*]\s+(?=\d))", raw)
    if m:
        i = m.end()
    while i < n:
        ch = raw[i]
        if raw.startswith("**", i):  # markdown bold markers
            i += 2
            continue
        ch = _ALWAYS.get(ch, ch)
        if ch in ("\r", "\ufeff", "\u200b", "\u200c", "\u200d", "\ufffe"):
            i += 1
            continue
        chars.append(ch)
        offs.append(base + i)
        i += 1
    # second pass: context-dependent punctuation width and stray spaces
    out: list[str] = []
    out_offs: list[int] = []
    m_len = len(chars)
    quote_open = True
    # the next non-space character after each position, in one backward pass (a line of
    # spaces must not cost its length squared)
    next_char = [""] * (m_len + 1)
    for j in range(m_len - 1, -1, -1):
        next_char[j] = chars[j] if chars[j] != " " else next_char[j + 1]
    for k, ch in enumerate(chars):
        prev = out[-1] if out else ""
        nxt = next_char[k + 1]
        if ch == " ":
            if not prev or not nxt:
                continue  # leading/trailing
            if prev == " ":
                continue
            if (
                _zh(prev) and (_zh(nxt) or nxt.isdigit() or nxt in _HALF_TO_FULL or nxt == '"')
            ) or (_zh(nxt) and (prev.isdigit() or prev in "%" or prev in _HALF_TO_FULL.values())):
                continue
            out.append(ch)
            out_offs.append(offs[k])
            continue
        if ch in _HALF_TO_FULL and (_zh(prev) or _zh(nxt)):
            # keep "1,000" and "12:30" as they are
            if not (ch in ",:" and prev.isdigit() and nxt.isdigit()):
                ch = _HALF_TO_FULL[ch]
        elif ch == '"' and (_zh(prev) or _zh(nxt) or not prev):
            ch = "“" if quote_open else "”"
            quote_open = not quote_open
        elif ch == "“":
            quote_open = False
        elif ch == "”":
            quote_open = True
        out.append(ch)
        out_offs.append(offs[k])
    return MappedText("".join(out), tuple(out_offs))


def read_lines(text: str) -> list[Line]:
    """All lines of ``text`` with their offsets and normalised forms (blank ones too)."""
    return [
        Line(start=pos, end=pos + len(raw), raw=raw, norm=normalize_line(raw, pos))
        for pos, raw in split_lines(text)
    ]


def is_furniture(line: str) -> bool:
    """Page furniture: scan prompts, masthead and price blocks, bare URLs."""
    s = line.strip()
    return bool(_FURNITURE.match(s)) or (bool(s) and len(s) <= 40 and s.startswith(("http", "www")))


def ends_sentence(s: str) -> bool:
    return bool(s) and s[-1] in TERMINAL


def continues(prev: str, nxt: str, *, min_len: int = 16) -> bool:
    """Whether ``nxt`` continues a sentence that a column or page break cut in ``prev``."""
    if not prev or not nxt or ends_sentence(prev) or prev[-1] in COLONS:
        return False
    if len(prev) < min_len:  # a short unpunctuated line is a heading, not a cut sentence
        return False
    first = nxt[0]
    return is_cjk(first) or first.isdigit() or first in "，、。；：”’）》%"


def paragraph_break(after: MappedText) -> MappedText:
    """The ``"\\n"`` that ends a paragraph, mapped to the character just past ``after``."""
    return MappedText("\n", (after.offsets[-1] + 1,))


def join_paragraphs(lines: list[MappedText], *, min_len: int = 16) -> MappedText:
    """Join lines into paragraphs: a cut sentence is glued back, paragraphs end in '\\n'."""
    parts: list[MappedText] = []
    prev = ""
    for line in lines:
        if not line.text:
            continue
        if parts and not continues(prev, line.text, min_len=min_len):
            parts.append(paragraph_break(parts[-1]))
        parts.append(line)
        prev = line.text
    return MappedText.join(parts)


def clean_text(text: str) -> MappedText:
    """Clean a whole text: normalise lines, drop furniture, glue cut sentences."""
    kept = [ln.norm for ln in read_lines(text) if ln.text and not is_furniture(ln.text)]
    return join_paragraphs(kept)
