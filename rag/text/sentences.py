"""Sentence spans: where each sentence of a text starts and ends.

>>> sentence_spans("第一句。第二句！")
[(0, 4), (4, 8)]
"""

from __future__ import annotations

import re
from functools import lru_cache

# inside running text: a run of end marks and the closing quotes after it; cleaning.TERMINAL,
# which judges whether a printed line is done, also takes a closing bracket or a ■ as an end
_SENTENCE_END = re.compile(r"[。！？!?；;…]+[”’」』）)]*|\n+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence in ``text`` (the terminator stays with its sentence)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end()
        if text[start:end].strip():
            spans.append((start, end))
        start = end
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


@lru_cache(maxsize=4096)
def article_sentences(text: str) -> tuple[tuple[int, int], ...]:
    """:func:`sentence_spans` of an article's text, computed once per text (the readers and
    the evidence step ask for the same articles over and over). Keyed by the text itself, so
    an article changed by an index update is never served stale spans."""
    return tuple(sentence_spans(text))
