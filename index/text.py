"""Chinese tokenisation for search: jieba in search mode, plus terms learned from the corpus.

Quoted names (“海河净网”), book titles (《基层党建实务手册》) and other proper nouns that
jieba's dictionary does not know are learned from the corpus at build time and added to
a private jieba tokenizer, so that a question naming them matches them whole.

>>> tok = SearchTokenizer(terms=["海河净网"])
>>> "海河净网" in tok.tokens("持续深化“海河净网”专项行动")
True
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable

from rag.cleaning import is_cjk

# Words that carry the question, not its content.
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "和",
        "与",
        "及",
        "等",
        "对",
        "把",
        "被",
        "为",
        "以",
        "于",
        "从",
        "其",
        "之",
        "也",
        "都",
        "而",
        "并",
        "或",
        "就",
        "这",
        "那",
        "有",
        "个",
        "中",
        "上",
        "下",
        "里",
        "将",
        "向",
        "什么",
        "多少",
        "哪些",
        "哪个",
        "哪里",
        "哪儿",
        "哪",
        "谁",
        "何",
        "几",
        "几个",
        "如何",
        "怎样",
        "怎么",
        "为何",
        "为什么",
        "是否",
        "吗",
        "呢",
        "啊",
        "吧",
        "请问",
        "请",
        "一",
        "一个",
        "该",
        "此",
        "各",
        "每",
        "所",
        "则",
        "即",
        "又",
        "还",
        "曾",
        "已",
        "已经",
        "会",
        "能",
        "要",
        "可以",
        "通过",
        "进行",
        "开展",
        "推动",
        "推进",
        "加强",
        "深入",
        "全面",
        "持续",
        "什么样",
        "多大",
        "多长",
        "多久",
        "哪年",
        "哪天",
        "何时",
        "时候",
        "哪一",
        "第几",
        "叫",
        "名叫",
        "称为",
        "称作",
        "是什么",
        "叫什么",
        "有哪些",
    ]
)
_QUOTED = re.compile(r"[“《「『]([^”》」』\n]{2,16})[”》」』]")
_PUNCT = re.compile(r"^[\W_]+$")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
_jieba_lock = threading.Lock()


def learn_terms(texts: Iterable[str], min_count: int = 1, max_terms: int = 20000) -> list[str]:
    """Quoted names and book titles seen in the corpus, most frequent first."""
    counts: Counter[str] = Counter()
    for t in texts:
        for m in _QUOTED.finditer(t):
            term = m.group(1).strip()
            if 2 <= len(term) <= 16 and any(is_cjk(c) for c in term):
                counts[term] += 1
    return [t for t, n in counts.most_common(max_terms) if n >= min_count]


class SearchTokenizer:
    """jieba search-mode tokens with stopwords removed; private dictionary, thread-safe."""

    def __init__(self, terms: Iterable[str] = (), bigrams: bool = True) -> None:
        import jieba

        self.bigrams = bigrams
        jieba.setLogLevel(logging.WARNING)
        self.terms = sorted(set(terms))
        self._tok = jieba.Tokenizer()
        with _jieba_lock:
            self._tok.initialize()
            for term in self.terms:
                self._tok.add_word(term, freq=2000)

    def tokens(self, text: str) -> list[str]:
        """Words (search mode) plus the character bigrams of Chinese runs.

        Bigrams make a name or a term that jieba splits differently in the question and in
        the passage still match; words keep the precision of whole terms.
        """
        text = text.lower()
        out = []
        for w in self._tok.cut_for_search(text):
            w = w.strip()
            if not w or w in STOPWORDS or _PUNCT.match(w):
                continue
            out.append(w)
        if self.bigrams:
            for run in _CJK_RUN.findall(text):
                out.extend("#" + run[i : i + 2] for i in range(len(run) - 1))
        return out

    def query_tokens(self, text: str) -> list[str]:
        """Tokens of a question: content words, with single characters kept only if Chinese."""
        return self.for_query(self.tokens(text))

    @staticmethod
    def for_query(tokens: Iterable[str]) -> list[str]:
        """:meth:`query_tokens` of tokens already made by :meth:`tokens`."""
        return [w for w in tokens if len(w) > 1 or is_cjk(w)]


_POOL_TOKENIZER: SearchTokenizer | None = None


def _pool_tokens(texts: list[str]) -> list[list[str]]:
    assert _POOL_TOKENIZER is not None
    return [_POOL_TOKENIZER.tokens(t) for t in texts]


def tokenize_many(
    tokenizer: SearchTokenizer, texts: list[str], workers: int | None = None
) -> list[list[str]]:
    """``tokenizer.tokens`` of every text, on every core when there are many.

    jieba is pure Python: a large build spends most of its time here, so the texts are
    split over forked worker processes, which inherit the tokenizer as it is (no reload).
    """
    import multiprocessing
    import os

    workers = workers or os.cpu_count() or 1
    if workers < 2 or len(texts) < 2000 or "fork" not in multiprocessing.get_all_start_methods():
        return [tokenizer.tokens(t) for t in texts]
    global _POOL_TOKENIZER
    _POOL_TOKENIZER = tokenizer
    try:
        size = max(64, len(texts) // (workers * 8))
        batches = [texts[i : i + size] for i in range(0, len(texts), size)]
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            out: list[list[str]] = []
            for part in pool.imap(_pool_tokens, batches):
                out.extend(part)
        return out
    finally:
        _POOL_TOKENIZER = None
