"""Chinese tokenisation for search: jieba in search mode, plus terms learned from the corpus.

Quoted names (“海河净网”), book titles (《基层党建实务手册》) and other proper nouns that
jieba's dictionary does not know are learned from the corpus at build time and added to
a private word cutter (:mod:`rag.text.words`), so that a question naming them matches them whole.

>>> tok = SearchTokenizer(terms=["海河净网"])
>>> "海河净网" in tok.tokens("持续深化“海河净网”专项行动")
True
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.text.lexicon import HAN, SEARCH_STOPWORDS
from rag.text.mapped import is_cjk
from rag.text.ranges import concat_ranges

STOPWORDS = SEARCH_STOPWORDS  # words that carry the question, not its content
_QUOTED = re.compile(r"[“《「『]([^”》」』\n]{2,16})[”》」』]")
_PUNCT = re.compile(r"^[\W_]+$")
_CJK_RUN = re.compile(f"[{HAN}]{{2,}}")


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
        from rag.text.words import WordCutter

        self.bigrams = bigrams
        self.terms = sorted(set(terms))
        self._cutter = WordCutter((term, 2000) for term in self.terms)

    def tokens(self, text: str) -> list[str]:
        """Words (search mode) plus the character bigrams of Chinese runs.

        Bigrams make a name or a term that jieba splits differently in the question and in
        the passage still match; words keep the precision of whole terms.
        """
        text = text.lower()
        out = []
        for w in self._cutter.cut_for_search(text):
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


@dataclass
class TokenTable:
    """The tokens of many texts as ids into one vocabulary: a compact list of token lists.

    Row ``i`` is ``[vocab[j] for j in ids[indptr[i]:indptr[i + 1]]]``. A 100x corpus has
    some 15 million tokens: as Python strings in lists they take gigabytes and every pass
    over them is a Python loop; as two integer arrays BM25 and the embedder count them
    with NumPy.

    >>> t = TokenTable.from_lists([["天津", "港口"], ["天津"]])
    >>> t.rows(), len(t.vocab)
    ([['天津', '港口'], ['天津']], 2)
    """

    vocab: list[str]
    indptr: np.ndarray  # int64, len(rows) + 1
    ids: np.ndarray  # int32 into vocab

    @classmethod
    def from_lists(cls, rows: Iterable[Sequence[str]]) -> TokenTable:
        vocab: dict[str, int] = {}
        ids: list[int] = []
        indptr = [0]
        for row in rows:
            ids.extend([vocab.setdefault(t, len(vocab)) for t in row])
            indptr.append(len(ids))
        return cls(list(vocab), np.array(indptr, np.int64), np.array(ids, np.int32))

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def row(self, i: int) -> list[str]:
        v = self.vocab
        return [v[j] for j in self.ids[self.indptr[i] : self.indptr[i + 1]].tolist()]

    def rows(self) -> list[list[str]]:
        return [self.row(i) for i in range(len(self))]

    def counts(
        self,
        n_cols: int | None = None,
        col_of: np.ndarray | None = None,
        transpose: bool = False,
    ):
        """(rows x vocab) CSR matrix of token counts; ``col_of`` maps ids to other columns
        (-1 drops the token), into ``n_cols`` columns; ``transpose``: (vocab x rows) instead.

        Counted by sorting one integer key per token (row and column side by side) in place:
        at 100x (some 20 million tokens) SciPy's COO-to-CSR conversion held several copies of
        every token and was the peak of the build's memory.
        """
        from scipy import sparse

        n_rows = len(self)
        n_cols = len(self.vocab) if n_cols is None else n_cols
        # one key per token, made and sorted in place: (row, column), or (column, row)
        cols = self.ids.astype(np.int64)
        if col_of is not None:
            cols = col_of[cols]
        kept = cols >= 0 if col_of is not None else None
        rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(self.indptr))
        n_major, n_minor = (n_cols, n_rows) if transpose else (n_rows, n_cols)
        key, minor = (cols, rows) if transpose else (rows, cols)
        del cols, rows
        key *= max(n_minor, 1)
        key += minor
        del minor
        if kept is not None:
            key = key[kept]
        key.sort()
        new = np.ones(len(key), dtype=bool)
        np.not_equal(key[1:], key[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        del new
        data = np.diff(np.append(starts, len(key))).astype(np.float32)
        key = key[starts]
        del starts
        majors = key // max(n_minor, 1)
        key -= majors * max(n_minor, 1)
        index_type = np.int32 if max(n_major, n_minor, len(key)) < 2**31 else np.int64
        indices = key.astype(index_type)
        del key
        indptr = np.zeros(n_major + 1, dtype=index_type)
        np.cumsum(np.bincount(majors, minlength=n_major), out=indptr[1:])
        return sparse.csr_matrix((data, indices, indptr), shape=(n_major, n_minor))

    def take(self, index: Sequence[int] | np.ndarray) -> TokenTable:
        """The rows at ``index``, in that order (same vocabulary)."""
        index = np.asarray(index, dtype=np.int64)
        lengths = np.diff(self.indptr)[index]
        indptr = np.zeros(len(index) + 1, np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return TokenTable(self.vocab, indptr, self.ids[concat_ranges(self.indptr[index], lengths)])

    @classmethod
    def join(cls, tables: Iterable[TokenTable]) -> TokenTable:
        """The rows of every table in turn, over the union of their vocabularies."""
        vocab: dict[str, int] = {}
        indptrs, ids, end = [np.zeros(1, np.int64)], [], 0
        for t in tables:
            remap = np.fromiter(
                (vocab.setdefault(w, len(vocab)) for w in t.vocab), np.int32, len(t.vocab)
            )
            ids.append(remap[t.ids])
            indptrs.append(t.indptr[1:] + end)
            end += int(t.indptr[-1])
        return cls(
            list(vocab),
            np.concatenate(indptrs),
            np.concatenate(ids) if ids else np.zeros(0, np.int32),
        )

    def compact(self) -> TokenTable:
        """Without the vocabulary no row uses (what removed sources leave), order kept."""
        used = np.zeros(len(self.vocab), bool)
        used[self.ids] = True
        if used.all():
            return self
        new_id = np.cumsum(used, dtype=np.int64) - 1
        vocab = [t for t, u in zip(self.vocab, used.tolist()) if u]
        return TokenTable(vocab, self.indptr, new_id[self.ids].astype(np.int32))

    def save(self, path: Path) -> None:
        """``path`` (.npz) holds the arrays; ``path`` with .vocab.json the vocabulary."""
        np.savez(path, indptr=self.indptr, ids=self.ids)
        path.with_suffix(".vocab.json").write_text(
            json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, path: Path) -> TokenTable:
        z = np.load(path)
        vocab = json.loads(path.with_suffix(".vocab.json").read_text(encoding="utf-8"))
        t = cls(list(vocab), z["indptr"].astype(np.int64), z["ids"].astype(np.int32))
        n = len(t.ids)
        if (
            not isinstance(vocab, list)
            or len(t.indptr) < 1
            or t.indptr[0] != 0
            or t.indptr[-1] != n
            or np.any(np.diff(t.indptr) < 0)
            or (n and (t.ids.min() < 0 or t.ids.max() >= len(vocab)))
        ):
            raise ValueError(f"{path.name}: the token table is inconsistent")
        return t


_POOL_TOKENIZER: SearchTokenizer | None = None


def _tokens_table(tokenizer: SearchTokenizer, texts: list[str]) -> TokenTable:
    return TokenTable.from_lists(tokenizer.tokens(t) for t in texts)


def _pool_tokens(texts: list[str]) -> TokenTable:
    assert _POOL_TOKENIZER is not None
    return _tokens_table(_POOL_TOKENIZER, texts)


def tokenize_many(
    tokenizer: SearchTokenizer, texts: list[str], workers: int | None = None
) -> TokenTable:
    """``tokenizer.tokens`` of every text as a :class:`TokenTable`, on every core when there
    are many.

    jieba is pure Python: a large build spends most of its time here, so the texts are
    split over forked worker processes, which inherit the tokenizer as it is (no reload) and
    send back integer arrays plus their batch's vocabulary, not millions of strings.
    """
    import multiprocessing
    import os

    workers = workers or os.cpu_count() or 1
    if workers < 2 or len(texts) < 2000 or "fork" not in multiprocessing.get_all_start_methods():
        return _tokens_table(tokenizer, texts)
    global _POOL_TOKENIZER
    _POOL_TOKENIZER = tokenizer
    try:
        size = max(64, len(texts) // (workers * 8))
        batches = [texts[i : i + size] for i in range(0, len(texts), size)]
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return TokenTable.join(pool.imap(_pool_tokens, batches))
    finally:
        _POOL_TOKENIZER = None
