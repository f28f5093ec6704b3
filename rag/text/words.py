"""jieba's word segmentation, the same words, computed by jieba-rs (``rjieba``).

jieba in pure Python is most of the time it takes to find the candidates of a sentence the
reader has not seen. jieba-rs implements the same algorithm (prefix dictionary, best route,
HMM for unknown words) over the same dictionary, in Rust, many times faster. It splits two
things differently, and both are put back here, so that every word comes out as jieba's would:

- what lies outside jieba's word characters (punctuation, symbols, rare CJK extensions)
  is cut here exactly as jieba cuts it (one character at a time, whitespace apart);
- a run of letters, digits and symbols that is not a dictionary word ("6-268") is split
  as jieba's HMM step splits it ("6", "-", "268").

Search mode (:meth:`WordCutter.cut_for_search`) is jieba's own: the two- and
three-character dictionary words inside each longer word, then the word.
``tests/test_words.py`` checks both against jieba on every sentence of the sample corpus.

>>> WordCutter().cut("天津港口发展很快")
['天津', '港口', '发展', '很快']
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jieba

_lock = threading.Lock()

# jieba's own Han range (its re_han_default), narrower than lexicon.HAN: the words must be
# split exactly where jieba splits them
_JIEBA_HAN = "\u4e00-\u9fd5"
# jieba's: the characters its dictionary cuts, whitespace, and its HMM step's non-Chinese runs
_BLOCK = re.compile(f"([{_JIEBA_HAN}a-zA-Z0-9+#&\\._%\\-]+)")
_SPACE = re.compile(r"(\r\n|\s)")
_ALNUM = re.compile(r"([a-zA-Z0-9]+(?:\.\d+)?%?)")
_CHINESE = re.compile(f"[{_JIEBA_HAN}]")


@lru_cache(maxsize=1)
def jieba_default() -> jieba.Tokenizer:
    """jieba's default tokenizer, initialised once (its dictionary: frequencies, tags)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _lock:
        jieba.initialize()
    return jieba.dt


class WordCutter:
    """jieba's ``cut(text, HMM=True)`` and ``cut_for_search``, with words of its own added.

    ``added``: words and frequencies (jieba's ``add_word``). Thread-safe once built.
    """

    def __init__(self, added: Iterable[tuple[str, int]] = ()) -> None:
        import rjieba

        self.freq = jieba_default().FREQ  # the dictionary's words (read only)
        self.added = dict(added)
        self._rs = rjieba.Jieba()
        for word, freq in self.added.items():
            self._rs.add_word(word, freq, None)

    def known(self, word: str) -> bool:
        """A dictionary word (jieba's ``FREQ.get(word)`` is true)."""
        return bool(self.added.get(word) or self.freq.get(word))

    def cut(self, text: str) -> list[str]:
        out: list[str] = []
        for i, block in enumerate(_BLOCK.split(text)):
            if not block:
                continue
            if i % 2:  # a run of word characters: the dictionary and the HMM
                for w in self._rs.cut(block, True):
                    if len(w) > 1 and not _CHINESE.search(w) and not self.known(w):
                        out.extend(p for p in _ALNUM.split(w) if p)
                    else:
                        out.append(w)
            else:  # anything else: whitespace apart, the rest one character at a time
                for piece in _SPACE.split(block):
                    if _SPACE.match(piece):
                        out.append(piece)
                    else:
                        out.extend(piece)
        return out

    def cut_for_search(self, text: str) -> list[str]:
        out: list[str] = []
        known = self.known
        for w in self.cut(text):
            n = len(w)
            if n > 2:
                out.extend(g for g in (w[i : i + 2] for i in range(n - 1)) if known(g))
            if n > 3:
                out.extend(g for g in (w[i : i + 3] for i in range(n - 2)) if known(g))
            out.append(w)
        return out
