"""Split a document into the articles a reader would name, and build each Article.

The front matter (table of contents, masthead) is found first
(:mod:`rag.ingest.front_matter`); the lines are then read once into drafts
(:mod:`rag.ingest.drafts`) using a few strong cues: markdown headings, bylines
(``文 / 本刊记者 XXX``), a writing group under a title, closing credits (``（XXX 供稿）``),
column labels, and titles listed in the issue's table of contents. This module owns the
step from a draft to an :class:`~rag.types.Article`: its text, offset map, span and id.

>>> from rag.types import Document
>>> doc = Document("a.txt", "古街续文脉\\n文 / 本刊记者 谢小燕\\n天津是一座历史文化名城，古街热闹非凡。\\n")
>>> [(a.title, a.author) for a in ArticleSegmenter().segment(doc)]
[('古街续文脉', '谢小燕')]
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from rag.ingest.cleaning import Line, continues, ends_sentence, paragraph_break, read_lines
from rag.ingest.drafts import Draft, draft_articles
from rag.ingest.front_matter import front_matter, publication_info
from rag.ingest.patterns import md_level
from rag.text.mapped import MappedText
from rag.types import Article, Document, OffsetRuns

# publication, issue and date, as the masthead names them
Masthead = tuple[str | None, str | None, str | None]


class ArticleSegmenter:
    """Turn a document into articles with titles, bylines, columns and exact spans.

    >>> seg = ArticleSegmenter(max_title_len=40)
    """

    def __init__(self, max_title_len: int = 40, min_body_chars: int = 20) -> None:
        self.max_title_len = max_title_len
        self.min_body_chars = min_body_chars

    # -- public -----------------------------------------------------------------
    def segment(self, doc: Document) -> list[Article]:
        """The articles of ``doc``; the whole document as one when no draft makes an article."""
        lines = [ln for ln in read_lines(doc.text) if ln.text]
        if not lines:
            return []
        masthead = publication_info(lines)
        skip, toc, front = front_matter(lines, self.max_title_len)
        drafts = draft_articles(lines, skip, toc, front, self.max_title_len)
        articles: list[Article] = []
        seen: dict[str, int] = {}
        for d in drafts:
            art = self._build(doc, lines, d, seen, masthead)
            if art is not None:
                articles.append(art)
        if not articles:  # a short note, a plain upload: the whole file is one article
            art = self._build(doc, lines, self._whole(doc, lines), seen, masthead, 1)
            articles = [art] if art is not None else []
        if doc.meta:  # what the file says of itself fills what its text did not say
            articles = [
                replace(a, **{k: v for k, v in doc.meta.items() if not getattr(a, k)})
                for a in articles
            ]
        return articles

    def _whole(self, doc: Document, lines: list[Line]) -> Draft:
        """The document as one article: its first line as title when it looks like one."""
        first = lines[0].text
        titled = bool(first.strip()) and len(first) <= self.max_title_len
        if len(lines) > 1 and titled and not ends_sentence(first):
            return Draft(title_lines=[0], body=list(range(1, len(lines))))
        stem = doc.source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        return Draft(
            title_lines=[0], body=list(range(len(lines))), title=stem, title_start=lines[0].start
        )

    # -- building ---------------------------------------------------------------
    def _build(
        self,
        doc: Document,
        lines: list[Line],
        d: Draft,
        seen: dict[str, int],
        masthead: Masthead,
        min_body_chars: int | None = None,
    ) -> Article | None:
        """The article of a draft; None without a title or with too little text.

        ``seen`` counts the titles built so far, so that two articles of one title get two ids.
        """
        if not d.title_lines:
            return None  # text with no title: page furniture or a fragment
        body, sections = _body_text(lines, d)
        least = self.min_body_chars if min_body_chars is None else min_body_chars
        if sum(1 for c in body.text if not c.isspace()) < least:
            return None
        title = d.title or "".join(lines[i].loose for i in d.title_lines)
        start = (
            d.title_start
            if d.title_start is not None
            else lines[d.title_lines[0]].start + _lead(lines[d.title_lines[0]].raw)
        )
        end = max(body.offsets[-1] + 1, lines[d.title_lines[-1]].end)
        n = seen.get(title, 0)
        seen[title] = n + 1
        digest = hashlib.sha1(f"{doc.source}\x00{title}\x00{n}".encode()).hexdigest()[:10]
        stem = doc.source.rsplit("/", 1)[-1].split(".")[0][:12]
        publication, issue, date = masthead
        return Article(
            id=f"{stem}-{digest}",
            title=title,
            source=doc.source,
            start=start,
            end=end,
            text=body.text,
            offsets=OffsetRuns.of(body.offsets),
            author=d.author or None,
            column=d.column,
            publication=publication,
            issue=issue,
            date=date,
            sections=tuple(sections),
        )


# -- helpers ------------------------------------------------------------------------
def _body_text(lines: list[Line], d: Draft) -> tuple[MappedText, list[tuple[int, str]]]:
    """A draft's body lines joined into paragraphs, and where each section heading starts."""
    parts: list[MappedText] = []
    sections: list[tuple[int, str]] = []
    prev = ""
    prev_is_section = False
    for idx in d.body:
        ln = lines[idx]
        is_section = idx in d.sections
        if parts and (is_section or prev_is_section or not continues(prev, ln.text)):
            parts.append(paragraph_break(parts[-1]))
        if is_section:
            sections.append((sum(len(p) for p in parts), d.sections[idx]))
        parts.append(ln.norm)
        prev = ln.text
        prev_is_section = is_section
    return MappedText.join(parts), sections


def _lead(raw: str) -> int:
    """Characters before a line's text proper (indent, markdown marker)."""
    s = raw.lstrip()
    k = len(raw) - len(s)
    n = md_level(raw)
    if n:
        k += n
        while k < len(raw) and raw[k] == " ":
            k += 1
    return k
