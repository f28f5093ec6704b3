"""Sentence-aware chunks inside one article, never across two.

>>> from rag.types import Article
>>> text = "第一句话。第二句话！第三句话？"
>>> art = Article("a-1", "标题", "a.txt", 0, 15, text, tuple(range(len(text))))
>>> [c.text for c in Chunker(size=10, overlap=0).chunk(art)]
['第一句话。第二句话！', '第三句话？']
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.text.sentences import sentence_spans
from rag.types import Article, Chunk

_CLAUSE_END = re.compile(r"[，、：:,]")


def _split_long(text: str, start: int, end: int, size: int) -> Iterable[tuple[int, int]]:
    """A sentence longer than ``size``: cut at clause marks, else hard."""
    while end - start > size:
        window = text[start : start + size]
        cut = max((m.end() for m in _CLAUSE_END.finditer(window)), default=0)
        cut = cut if cut > size // 3 else size
        yield start, start + cut
        start += cut
    if end > start:
        yield start, end


# chosen on the dev split and the CMRC 2018 trial (scripts/tune_retrieval.py): smaller chunks
# more often cut the sentence that answers from the passage around it
CHUNK_SIZE = 320
CHUNK_OVERLAP = 80


class Chunker:
    """Pack whole sentences into chunks of about ``size`` characters.

    ``overlap`` characters' worth of trailing sentences are repeated at the start of the
    next chunk so that an answer near a boundary is whole in at least one chunk.
    """

    def __init__(self, size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP) -> None:
        if size < 8:
            raise ValueError("chunk size must be at least 8 characters")
        if not 0 <= overlap < size:
            raise ValueError("overlap must be >= 0 and smaller than the chunk size")
        self.size = size
        self.overlap = overlap

    def chunk(self, article: Article) -> list[Chunk]:
        text = article.text
        units: list[tuple[int, int]] = []
        for s, e in sentence_spans(text):
            units.extend(_split_long(text, s, e, self.size))
        chunks: list[Chunk] = []
        i = 0
        while i < len(units):
            j = i
            while j < len(units) and (j == i or units[j][1] - units[i][0] <= self.size):
                j += 1
            a, b = units[i][0], units[j - 1][1]
            # trim the newlines that separate paragraphs at chunk edges
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            if b > a:
                start, end = article.original_span(a, b)
                chunks.append(
                    Chunk(
                        id=f"{article.id}-{len(chunks):03d}",
                        article_id=article.id,
                        title=article.title,
                        source=article.source,
                        start=start,
                        end=end,
                        text=text[a:b],
                        text_start=a,
                        section=article.section_at(a),
                    )
                )
            if j >= len(units):
                break
            # step back over whole sentences for the overlap, but always move forward
            k = j
            while k - 1 > i and units[j - 1][1] - units[k - 1][0] <= self.overlap:
                k -= 1
            i = k
        return chunks

    def chunk_all(self, articles: Iterable[Article]) -> list[Chunk]:
        return [c for a in articles for c in self.chunk(a)]
