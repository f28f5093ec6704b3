"""Answer metrics, CMRC 2018 style: character-level for Chinese, a few lines each.

>>> exact_match("127.6 万人次", ["127.6万人次"])
1.0
>>> round(f1("127.6万", ["127.6万人次"]), 3)
0.667
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence

_PUNCT = set(
    "-:_*^/\\~`+=，。：？！“”；’《》……·、「」（）－～『』,.;:?!'\"()[]{}<>【】〔〕—％%#@&|"
)


def normalize(text: str) -> str:
    """Full width to half width, lower case, no whitespace or punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(
        c for c in text if not c.isspace() and c not in _PUNCT and unicodedata.category(c)[0] != "P"
    )


def _tokens(text: str) -> list[str]:
    """Characters, with runs of ASCII letters and digits kept whole (as CMRC's segmenter does)."""
    out: list[str] = []
    buf = ""
    for c in normalize(text):
        if c.isascii() and c.isalnum() or (c == "." and buf[-1:].isdigit()):
            buf += c
            continue
        if buf:
            out.append(buf)
            buf = ""
        out.append(c)
    if buf:
        out.append(buf)
    return out


def exact_match(prediction: str | None, answers: Sequence[str]) -> float:
    if not answers:
        return float(prediction is None)
    if prediction is None:
        return 0.0
    p = normalize(prediction)
    return float(any(p == normalize(a) for a in answers))


def f1(prediction: str | None, answers: Sequence[str]) -> float:
    if not answers:
        return float(prediction is None)
    if prediction is None:
        return 0.0
    p = _tokens(prediction)
    best = 0.0
    for a in answers:
        g = _tokens(a)
        common = sum((Counter(p) & Counter(g)).values())
        if common:
            prec, rec = common / len(p), common / len(g)
            best = max(best, 2 * prec * rec / (prec + rec))
    return best
