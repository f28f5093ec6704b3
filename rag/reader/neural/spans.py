"""From a QA model's start/end logits over one window to the best span and a no-answer score.

Offsets come from the tokenizer's offset mapping (context tokens only: the question's
tokens and the special ones carry no context offset), so a span is always
``context[start:end]`` of the original context string.

>>> import numpy as np
>>> start = np.array([0.0, 1.0, 5.0, 0.0]); end = np.array([0.0, 0.0, 1.0, 6.0])
>>> best_span(start, end, [None, (0, 1), (1, 2), (2, 4)])
(1, 4, 11.0)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np

MAX_ANSWER_TOKENS = 30
_KEEP_AT_END = frozenset("%‰")  # punctuation by category, but part of "5%"


def _trimmable(c: str) -> bool:
    return c.isspace() or unicodedata.category(c).startswith("P")


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) past surrounding whitespace and punctuation (a model's span often
    takes in a comma or a closing quote; the answer shown should not).

    >>> trim("「天津」，", 0, 5)
    (1, 3)
    """
    while start < end and _trimmable(text[start]):
        start += 1
    while start < end and _trimmable(text[end - 1]) and text[end - 1] not in _KEEP_AT_END:
        end -= 1
    return start, end


def top_pointers(
    sequence_ids: Sequence[int | None], start_logits, end_logits, n: int
) -> tuple[list[int], list[int]] | None:
    """The ``n`` best start and the ``n`` best end tokens among a window's context tokens
    (sequence 1 of the question-context pair), or None when the window holds no context."""
    ctx = [t for t, sid in enumerate(sequence_ids) if sid == 1]
    if not ctx:
        return None
    return (
        sorted(ctx, key=lambda t: -start_logits[t])[:n],
        sorted(ctx, key=lambda t: -end_logits[t])[:n],
    )


def best_span(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: Sequence[tuple[int, int] | None],
    max_tokens: int = MAX_ANSWER_TOKENS,
    n_best: int = 20,
) -> tuple[int, int, float] | None:
    """(char start, char end, score) of the best context span, or None if none is valid."""
    valid = np.array([o is not None for o in offsets])
    if not valid.any():
        return None
    s_scores = np.where(valid, start_logits, -np.inf)
    e_scores = np.where(valid, end_logits, -np.inf)
    top_s = np.argsort(-s_scores)[:n_best]
    top_e = np.argsort(-e_scores)[:n_best]
    best = None
    for i in top_s:
        if not np.isfinite(s_scores[i]):
            break
        for j in top_e:
            if j < i or j - i + 1 > max_tokens or not np.isfinite(e_scores[j]):
                continue
            score = float(s_scores[i] + e_scores[j])
            if best is None or score > best[2]:
                best = (offsets[i][0], offsets[j][1], score)
    return best


def null_score(start_logits: np.ndarray, end_logits: np.ndarray) -> float:
    """The no-answer score: both pointers on the first (``<s>``) token."""
    return float(start_logits[0] + end_logits[0])
