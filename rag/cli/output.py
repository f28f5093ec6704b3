"""What the commands print: table cells in display columns, JSON, and an answer for a terminal."""

from __future__ import annotations

import json
import sys
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.types import Answer


def width(s: str) -> int:
    """Display columns of ``s``: wide and full-width characters (Chinese) take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def fit(s: str, columns: int) -> str:
    """Cut or pad ``s`` to a display width (Chinese characters take two columns)."""
    out, w = [], 0
    for c in s:
        cw = width(c)
        if w + cw > columns:
            out.append("…")
            w += 1
            break
        out.append(c)
        w += cw
    return "".join(out) + " " * max(0, columns - w)


def print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def format_answer(ans: Answer) -> str:
    """The answer, the evidence with the answer marked 【】, and a citation line."""
    lines = []
    flat = lambda t: " ".join(t.split())  # noqa: E731 - PDF line breaks inside a quote
    if ans.answer is None:
        lines.append("答案：语料中没有找到可靠的答案（the corpus does not say）")
        if ans.best_guess:
            lines.append(
                f"  (best guess {flat(ans.best_guess)!r}, confidence {ans.confidence:.2f})"
            )
        lines.append("最接近的段落：")
        for n, p in enumerate(ans.passages[:3], 1):
            c = p.chunk
            title = c.title if c.title.startswith("《") else f"《{c.title}》"
            lines.append(f"  {n}. {title} {c.source}:{c.start}-{c.end}")
            lines.append(f"     {flat(c.text)[:120]}{'…' if len(c.text) > 120 else ''}")
        return "\n".join(lines)
    ev = ans.evidence
    if ans.doubtful:  # more likely wrong than right: say so before the answer
        lines.append(
            f"答案（不确定）：可能是 {flat(ans.answer)}    "
            f"(confidence {ans.confidence:.2f}: more likely wrong than right; check the source)"
        )
    else:
        lines.append(f"答案：{flat(ans.answer)}    (confidence {ans.confidence:.2f})")
    if ev is not None and ev.answer_start is not None:
        i, j = ev.answer_start - ev.start, ev.answer_end - ev.start
        lines.append(f"依据：{flat(ev.text[:i])}【{flat(ev.text[i:j])}】{flat(ev.text[j:])}")
    for c in ans.citations:
        lines.append(f"出处：{c.line()}")
    return "\n".join(lines)
