"""Giving the neural reader's spans the extent a reader expects, and the kind the question
asks for.

A span model picks token boundaries; Chinese writes terms without spaces, so its errors are
mostly of extent: a quoted term runs on past its closing quote (``滨城瞪羚”计划``), a count
loses its measure word (``126万`` for ``126万架``), a date its month. :func:`shape` fixes
these with the text's own units, never inventing text: a span is cut at a quote mark it
does not open, widened to the whole quotation it sits in, and widened or narrowed to a
number or date that :func:`rag.reader.candidates.extract` finds there, when the question
asks for one. :func:`fits` says whether a span can be the kind of answer asked for.

>>> text = "推出“滨城瞪羚”计划，起降126万架。"
>>> text[slice(*shape(text, 3, 9, "phrase"))]
'滨城瞪羚'
>>> text[slice(*shape(text, 13, 17, "number"))]
'126万架'
>>> text[slice(*shape(text, 13, 19, "number"))]  # a value and what follows it
'126万架'
"""

from __future__ import annotations

import re

from rag.reader.candidates import extract

OPENERS = "“「『《‘〈（("
CLOSERS = "”」』》’〉）)"
_PAIR = dict(zip(OPENERS, CLOSERS))
_BREAK = re.compile(r"[。！？；!?;\n]")
_NUMERAL = re.compile(r"\d|[零〇一二两三四五六七八九十百千万亿]")
_DATE_WORD = re.compile(r"\d|[年月日]|[一二三四五六七八九十]+月|世纪|年代|春|夏|秋|冬")
_QUOTE_REACH = 40  # how far a quotation may open before the span


def fits(span: str, answer_type: str | None) -> bool:
    """Whether ``span`` can be the kind of answer asked for (numbers hold a numeral, dates a
    numeral or a date word); other kinds take any span."""
    if answer_type == "number":
        return bool(_NUMERAL.search(span))
    if answer_type == "date":
        return bool(_DATE_WORD.search(span))
    return True


def _balance_quotes(text: str, start: int, end: int) -> tuple[int, int]:
    span = text[start:end]
    # a closing mark the span does not open: the span ran past a quotation's end
    depth: list[str] = []
    for i, c in enumerate(span):
        if c in _PAIR:
            depth.append(c)
        elif c in CLOSERS:
            if depth and _PAIR[depth[-1]] == c:
                depth.pop()
                continue
            opener = text.rfind(OPENERS[CLOSERS.index(c)], max(0, start - _QUOTE_REACH), start)
            if i == 0:  # the span starts on a closing mark: drop it
                return _balance_quotes(text, start + 1, end) if start + 1 < end else (start, end)
            end = start + i
            if opener >= 0 and not _BREAK.search(text, opener, start):
                start = opener + 1  # the whole quotation, not its tail
            return start, end
    # an opening mark the span does not close: the span starts a quotation it leaves early
    if depth:
        i = span.rfind(depth[-1])
        closer = text.find(_PAIR[depth[-1]], end, end + _QUOTE_REACH)
        if i == 0 and closer >= 0 and not _BREAK.search(text, end, closer):
            return start + 1, closer  # the quotation, whole
        if i > 0:
            return start, start + i  # what stands before the stray mark
    return start, end


def _sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    lo = max(0, start - 80)
    breaks = [m.end() for m in _BREAK.finditer(text, lo, start)]
    a = breaks[-1] if breaks else lo
    m = _BREAK.search(text, end, min(len(text), end + 80))
    return a, m.start() if m else min(len(text), end + 80)


def _snap_to_value(text: str, start: int, end: int, answer_type: str) -> tuple[int, int]:
    """The number or date the span lies in (widened), or the one it holds (narrowed)."""
    a, b = _sentence_around(text, start, end)
    kinds = {"number": ("number",), "date": ("date",)}[answer_type]
    found = [c for c in extract(text[a:b]) if c.kind in kinds]
    spans = [(a + c.start, a + c.end) for c in found]
    around = [(s, e) for s, e in spans if s <= start and end <= e and (s, e) != (start, end)]
    if around:  # the value the span is part of: the shortest that holds it
        return min(around, key=lambda se: se[1] - se[0])
    inside = [(s, e) for s, e in spans if start <= s and e <= end]
    if inside and not fits(_strip_values(text, start, end, inside), answer_type):
        # the span is a value plus words around it: keep the longest value
        return max(inside, key=lambda se: (se[1] - se[0], -se[0]))
    return start, end


def _strip_values(text: str, start: int, end: int, values: list[tuple[int, int]]) -> str:
    keep = [True] * (end - start)
    for s, e in values:
        for i in range(s, e):
            keep[i - start] = False
    return "".join(c for c, k in zip(text[start:end], keep) if k)


def shape(text: str, start: int, end: int, answer_type: str | None) -> tuple[int, int]:
    """``[start, end)`` of ``text`` with quotations balanced and, for number and date
    questions, snapped to the value the source writes."""
    s, e = _balance_quotes(text, start, end)
    if e <= s:
        s, e = start, end
    if answer_type in ("number", "date"):
        s, e = _snap_to_value(text, s, e, answer_type)
    return s, e
