"""One script to match in: Traditional and Simplified Chinese folded to Simplified.

A question in one script about a document in the other matches only if both are compared
in the same characters, so the words that are tokenised, counted by BM25, embedded and read
are the *folded* text: OpenCC's ``t2s`` conversion (phrases first, then characters), which
leaves Simplified text as it is. Folding never changes a string's length: character ``i``
of the folded text stands for character ``i`` of the text it came from, so an offset found
in the folded text is the same offset in the text as written, and every answer and
evidence is still copied from the original file in its own script. OpenCC's tables keep
the length on all of DRCD (one million characters) and CMRC; where a phrase would change
the length anyway, that stretch is folded character by character, and a character whose
conversion is not one character is kept as it is (:func:`fold` checks, never trusts).

>>> fold("臺灣的圖書館藏書約30萬冊")
'台湾的图书馆藏书约30万册'
>>> fold("天津港的集装箱航线")
'天津港的集装箱航线'
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache

log = logging.getLogger("rag.text")

# What an index records of how its text was folded: an index built with another value is
# rebuilt in full (its BM25 counts and vectors were made from other characters).
FOLDING = "opencc-t2s"

_local = threading.local()
_RUNS = re.compile(r"\w+|\W")  # every character in exactly one run


class _Identity:
    def convert(self, text: str) -> str:
        return text


@lru_cache(maxsize=1)
def _opencc_missing() -> bool:
    try:
        import opencc  # noqa: F401
    except ImportError:
        log.warning(
            "opencc is not installed: Traditional and Simplified text are matched as written "
            "(pip install opencc)"
        )
        return True
    return False


def _converter():
    """A t2s converter for this thread (each thread its own, so none waits on another)."""
    cc = getattr(_local, "cc", None)
    if cc is None:
        if _opencc_missing():
            cc = _Identity()
        else:
            import opencc

            cc = opencc.OpenCC("t2s")
        _local.cc = cc
    return cc


def fold(text: str) -> str:
    """``text`` in Simplified characters, of the same length, character for character."""
    if not text or text.isascii():
        return text
    cc = _converter()
    out = cc.convert(text)
    if len(out) == len(text):
        return out
    # a phrase changed the length: fold each run on its own, and a run that still changes
    # length one character at a time
    parts = []
    for m in _RUNS.finditer(text):
        run = m.group()
        got = cc.convert(run)
        if len(got) != len(run):
            got = "".join(c if len(c := cc.convert(ch)) == 1 else ch for ch in run)
        parts.append(got)
    return "".join(parts)
