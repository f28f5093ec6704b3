"""Reading in one script: the question and the passages folded to Simplified for the reader,
the guesses given back in the characters the article is written in.

Folding keeps every string's length (:func:`rag.text.script.fold`), so a guess's offsets
need no map: they are the same in the folded text and in the article as written, and only
its ``text`` is copied back from the article.

>>> from rag.types import Chunk, Passage
>>> chunk = Chunk("c", "a", "臺灣", "t.txt", 0, 6, "藏書30萬冊")
>>> [p.chunk.text for p in FoldedArticles().passages([Passage(chunk, 1.0)])]
['藏书30万册']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag.reader.base import Reader, Reading
from rag.text.script import fold
from rag.types import Article, Passage


class FoldedArticles:
    """Folded copies of articles, kept (up to ``keep``) so that a question's passages do not
    fold the same article again."""

    def __init__(self, keep: int = 2048) -> None:
        self.keep = keep
        self._folded: dict[tuple[str, int], Article] = {}

    def article(self, article: Article) -> Article:
        key = (article.id, id(article))
        got = self._folded.get(key)
        if got is None:
            if len(self._folded) >= self.keep:
                self._folded.clear()
            got = replace(
                article,
                text=fold(article.text),
                title=fold(article.title),
                sections=tuple((at, fold(h)) for at, h in article.sections),
            )
            self._folded[key] = got
        return got

    def passages(self, passages: Sequence[Passage]) -> list[Passage]:
        out = []
        for p in passages:
            c = p.chunk
            chunk = replace(
                c, text=fold(c.text), title=fold(c.title), section=c.section and fold(c.section)
            )
            article = self.article(p.article) if p.article is not None else None
            out.append(replace(p, chunk=chunk, article=article))
        return out


def read_folded(
    reader: Reader,
    question: str,
    passages: Sequence[Passage],
    folded: FoldedArticles | None = None,
) -> Reading:
    """``reader``'s reading of ``question`` over ``passages``, both folded to one script; each
    guess's text is the article's (or, without an article, the chunk's) own characters."""
    folded = folded or FoldedArticles()
    reading = reader.read(fold(question), folded.passages(passages))
    guesses = []
    for g in reading.guesses:
        p = passages[g.passage]
        own = p.article.text if p.article is not None else p.chunk.text
        text = own[g.start : g.end]
        guesses.append(replace(g, text=text) if len(text) == len(g.text) else g)
    return replace(reading, guesses=tuple(guesses))
