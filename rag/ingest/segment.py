"""Split a document into the articles a reader would name.

The segmenter reads the page line by line with a small amount of state (the current
column, the current article, whether we are inside a feature or a run of news briefs)
and a few strong cues: markdown headings, bylines (``文 / 本刊记者 XXX``), a writing
group under a title, closing credits (``（XXX 供稿）``), column labels, and titles
listed in the issue's table of contents.

>>> from rag.types import Document
>>> doc = Document("a.txt", "古街续文脉\\n文 / 本刊记者 谢小燕\\n天津是一座历史文化名城，古街热闹非凡。\\n")
>>> [(a.title, a.author) for a in ArticleSegmenter().segment(doc)]
[('古街续文脉', '谢小燕')]
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field

from rag.ingest import patterns as P
from rag.ingest.cleaning import Line, continues, ends_sentence, is_furniture, read_lines
from rag.text.mapped import MappedText
from rag.types import Article, Document, OffsetRuns

_TOC_START = ("目录", "CONTENTS", "目 录")
_STATEMENT_STARTS = ("本刊", "声明")


@dataclass
class _Draft:
    """An article being assembled."""

    title_lines: list[int]
    column: str | None = None
    author: str | None = None
    kind: str = "feature"  # feature | brief | untitled
    body: list[int] = field(default_factory=list)
    sections: dict[int, str] = field(default_factory=dict)  # body line index -> heading
    md_level: int = 0
    title: str | None = None  # when the title is only part of its line(s)
    title_start: int | None = None


@dataclass
class _Toc:
    """Titles (and the columns they sit under) from a table of contents."""

    keys: list[tuple[str, str | None]] = field(default_factory=list)  # (compact key, column)

    def column_for(self, key: str) -> tuple[bool, str | None]:
        """Whether a body line is a title listed in the contents, and the column it sits under."""
        if len(key) < 4:
            return False, None
        for entry, column in self.keys:
            if entry.startswith(key) or (len(entry) >= 6 and key.startswith(entry)):
                return True, column
        # extraction typos (换/焕, a doubled character): a long title may differ slightly
        if len(key) >= 8:
            for entry, column in self.keys:
                if len(entry) + 1 >= len(key):
                    sm = difflib.SequenceMatcher(None, key, entry[: len(key)])
                    # the quick ratios bound the real one from above: most entries stop there
                    if (
                        sm.real_quick_ratio() >= 0.9
                        and sm.quick_ratio() >= 0.9
                        and sm.ratio() >= 0.9
                    ):
                        return True, column
        return False, None


class ArticleSegmenter:
    """Turn a document into articles with titles, bylines, columns and exact spans.

    >>> seg = ArticleSegmenter(max_title_len=40)
    """

    def __init__(self, max_title_len: int = 40, min_body_chars: int = 20) -> None:
        self.max_title_len = max_title_len
        self.min_body_chars = min_body_chars

    # -- public -----------------------------------------------------------------
    def segment(self, doc: Document) -> list[Article]:
        lines = [ln for ln in read_lines(doc.text) if ln.text]
        if not lines:
            return []
        publication, issue, date = _publication_info(lines)
        skip, toc, front = self._front_matter(lines)
        drafts = self._drafts(lines, skip, toc, front)
        articles: list[Article] = []
        seen: dict[str, int] = {}
        for d in drafts:
            art = self._build(doc, lines, d, seen, publication, issue, date)
            if art is not None:
                articles.append(art)
        if not articles:  # a short note, a plain upload: the whole file is one article
            art = self._build(
                doc, lines, self._whole(doc, lines), seen, publication, issue, date, 1
            )
            articles = [art] if art is not None else []
        return articles

    def _whole(self, doc: Document, lines: list[Line]) -> _Draft:
        """The document as one article: its first line as title when it looks like one."""
        first = lines[0].text
        titled = bool(first.strip()) and len(first) <= self.max_title_len
        if len(lines) > 1 and titled and not ends_sentence(first):
            return _Draft(title_lines=[0], body=list(range(1, len(lines))))
        stem = doc.source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        return _Draft(
            title_lines=[0], body=list(range(len(lines))), title=stem, title_start=lines[0].start
        )

    # -- front matter -----------------------------------------------------------
    def _front_matter(self, lines: list[Line]) -> tuple[set[int], _Toc, range]:
        """Line indices of the table of contents, masthead and statements; the TOC titles."""
        skip = {i for i, ln in enumerate(lines) if is_furniture(ln.text) or len(ln.text) <= 1}
        toc = _Toc()
        start = next(
            (
                i
                for i, ln in enumerate(lines)
                if ln.text.replace(" ", "").upper().startswith(("目录", "CONTENTS"))
            ),
            None,
        )
        if start is None:
            return skip, toc, range(0)
        end = start + 1
        column: str | None = None
        while end < len(lines):  # the contents run until the first real sentence
            s = lines[end].text
            if len(s) >= 20 and s[-1] in "。！？" and not s.startswith(_STATEMENT_STARTS):
                break
            end += 1
        # the title, byline or label just above that sentence belong to the first article
        for _ in range(4):
            k = end - 1
            prev = lines[k]
            if (
                k <= start
                or k in skip
                or prev.loose[:1].isdigit()
                or prev.text.startswith(("■", "-", "声明"))
            ):
                break
            if P.issue_of(prev.text) or prev.text.startswith(_STATEMENT_STARTS):
                break
            if not (
                P.is_heading_like(prev.text, self.max_title_len)
                or P.byline_author(prev.loose) is not None
                or P.column_label(prev.text) is not None
            ):
                break
            end = k
        for i in range(start, end):
            skip.add(i)
            s = lines[i].text
            label = P.column_label(s)
            if label is not None and not label[1]:
                column = label[0]
                continue
            nxt_line = lines[i + 1].loose if i + 1 < end else ""
            prev_line = lines[i - 1].loose if i > start else ""
            if (
                len(s) <= 10
                and not s[0].isdigit()
                and nxt_line[:1].isdigit()
                and not prev_line[:1].isdigit()  # an author line follows its numbered entry
                and P.is_heading_like(s)
            ):
                toc.keys.append((P.compact(s), column))  # a kicker may be printed again in the body
                if P.column_label(lines[i - 1].text) is None:
                    column = s  # an unmarked section name above numbered entries
                continue
            key = P.compact(lines[i].loose.lstrip("0123456789 "))
            key = key.lstrip("0123456789")
            if len(key) >= 4:
                toc.keys.append((key, column))
                if i + 1 < end:  # titles broken over two TOC lines
                    nxt = P.compact(lines[i + 1].loose).lstrip("0123456789")
                    toc.keys.append((key + nxt, column))
        return skip, toc, range(start, end)

    # -- the state machine ------------------------------------------------------
    def _drafts(self, lines: list[Line], skip: set[int], toc: _Toc, front: range) -> list[_Draft]:
        drafts: list[_Draft] = []
        cur: _Draft | None = None
        column: str | None = None
        mode = "none"  # feature | briefs | closed | none
        kicker = False
        n = len(lines)
        i = 0

        def next_idx(k: int) -> int | None:
            k += 1
            while k < n and k in skip:
                k += 1
            return k if k < n else None

        def open_article(title: list[int], kind: str, col: str | None, level: int = 0) -> _Draft:
            d = _Draft(title_lines=title, column=col, kind=kind, md_level=level)
            drafts.append(d)
            return d

        while i < n:
            if i in skip:
                if i in front:  # the contents and masthead end whatever came before them
                    cur, mode, column = None, "none", None
                i += 1
                continue
            ln = lines[i]
            s = ln.text
            j = next_idx(i)
            nxt = lines[j].text if j is not None else ""
            level = _md_level(ln.raw)

            # closing credits end the article
            who = P.supplied_by(s)
            if who is not None or P.is_excerpt_note(s) or P.is_author_note(s):
                if cur is not None:
                    if who and not cur.author:
                        cur.author = who
                    elif not who and not cur.author and P.is_excerpt_note(s):
                        cur.author = s.strip("（）()").removeprefix("摘编自").removeprefix("摘自")
                mode = "closed"
                i += 1
                continue

            # a byline with nothing to attach to is furniture
            by = P.byline_author(ln.loose)
            if by is not None:
                if cur is not None and not cur.author:
                    cur.author = by or _name_after(lines, j)
                    cur.body.append(i)  # the byline is text a reader can ask about
                    if not by and j is not None and len(nxt) <= 8:
                        cur.body.append(j)
                        skip.add(j)
                i += 1
                continue

            label = P.column_label(s)
            if label is not None:
                column, rest = label
                if rest and P.is_heading_like(rest, self.max_title_len):
                    cur = open_article([i], "brief", column)
                    cur.title, cur.title_start = _part_of_line(ln, rest)
                else:
                    # a column with no headline of its own is named by its label
                    cur = open_article([i], "brief", column)
                    cur.title, cur.title_start = _part_of_line(ln, column)
                mode = "briefs"
                i += 1
                continue

            # markdown headings (newspaper pages converted to markdown)
            if level:
                heading_next = j is not None and _md_level(lines[j].raw) > 0
                if heading_next:
                    # a kicker or a department label above the real title
                    column = lines[i].loose
                    kicker = True
                    i += 1
                    continue
                if (
                    not kicker
                    and cur is not None
                    and cur.md_level
                    and level > cur.md_level
                    and mode == "feature"
                ):
                    cur.sections[i] = lines[i].loose
                    cur.body.append(i)
                else:
                    cur = open_article([i], "feature", column, level)
                    mode = "feature"
                    column = None
                kicker = False
                i += 1
                continue

            inline = _inline_byline(s)
            # a quote column (声音): each short quoted sentence, then its "——source" line
            if mode == "briefs" and len(s) <= 24 and s[-1] in "。！？" and nxt.startswith("—"):
                cur = open_article([i], "brief", column)
                i += 1
                continue
            heading = P.is_heading_like(s, self.max_title_len) and not _cut_tail(lines, i, skip)
            if heading and not P.is_enumerated(s):
                title = [i]
                k = j
                # a title broken over two lines
                if (
                    inline is None
                    and k is not None
                    and P.is_heading_like(nxt, self.max_title_len)
                    and P.column_label(nxt) is None
                    and _title_continues(s, nxt, toc, lines, next_idx(k), skip)
                ):
                    title.append(k)
                    k = next_idx(k)
                while k is not None and lines[k].text.startswith("—"):  # a subtitle under the title
                    k = next_idx(k)
                after = lines[k].text if k is not None else ""
                in_toc, toc_column = toc.column_for(
                    P.compact("".join(lines[t].loose for t in title))
                )
                has_byline = (
                    P.byline_author(after) is not None
                    or P.is_group_author(after)
                    or inline is not None
                )
                short_label = (
                    (mode != "feature" or (cur is not None and not cur.author))
                    and not has_byline  # a byline belongs to an article: s is its title
                    and len(s) <= 5
                    and len(title) == 1
                    and k is not None
                    and P.is_heading_like(after, self.max_title_len)
                    and len(after) >= 6
                    and not in_toc
                    and _followed_by_body(lines, next_idx(k), skip, self.max_title_len, False)
                )
                if (
                    len(s) <= 4
                    and len(title) == 1
                    and cur is not None
                    and not cur.author
                    and not cur.md_level
                    and _followed_by_body(lines, k, skip, self.max_title_len, False)
                ):  # a label over a piece with no headline of its own (解读)
                    cur = open_article([i], "brief", column)
                    mode = "briefs"
                    i += 1
                    continue
                if short_label:  # an unmarked column label: 焦点, 数说, 城事
                    column = s
                    mode = "briefs"
                    cur = None
                    i += 1
                    continue
                starts_article = (
                    in_toc or has_byline or cur is None or mode in ("briefs", "closed", "none")
                )
                if starts_article and _followed_by_body(
                    lines, k, skip, self.max_title_len, has_byline
                ):
                    kind = (
                        "brief" if mode == "briefs" and not has_byline and not in_toc else "feature"
                    )
                    col = toc_column if in_toc else column
                    cur = open_article(title, kind, col)
                    if inline is not None:
                        cur.title, cur.title_start = _part_of_line(ln, inline[0])
                        cur.author = inline[1]
                    elif P.is_group_author(after):
                        cur.author = after
                        cur.body.append(k)  # type: ignore[arg-type]
                        skip.add(k)  # type: ignore[arg-type]
                    mode = "briefs" if kind == "brief" else "feature"
                    i = (title[-1]) + 1
                    continue
                if cur is not None:
                    cur.sections[i] = s
                    cur.body.append(i)
                i += 1
                continue

            # body text
            if mode == "closed":
                # a page break can put the end of an earlier article after the next one
                resumed = _cut_article(drafts, lines, s)
                if resumed is not None:
                    cur = resumed
                mode = "feature"
            if cur is None:
                cur = open_article([], "untitled", column)
                mode = "feature"
            cur.body.append(i)
            i += 1
        return drafts

    # -- building ---------------------------------------------------------------
    def _build(
        self,
        doc: Document,
        lines: list[Line],
        d: _Draft,
        seen: dict[str, int],
        publication: str | None,
        issue: str | None,
        date: str | None,
        min_body_chars: int | None = None,
    ) -> Article | None:
        body_lines = [lines[i] for i in d.body]
        if not d.title_lines:
            return None  # text with no title: page furniture or a fragment
        parts: list[MappedText] = []
        sections: list[tuple[int, str]] = []
        prev = ""
        prev_is_section = False
        for idx, ln in zip(d.body, body_lines):
            is_section = idx in d.sections
            if parts and (is_section or prev_is_section or not continues(prev, ln.text)):
                parts.append(MappedText("\n", (parts[-1].offsets[-1] + 1,)))
            if is_section:
                sections.append((sum(len(p) for p in parts), d.sections[idx]))
            parts.append(ln.norm)
            prev = ln.text
            prev_is_section = is_section
        body = MappedText.join(parts)
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
def _md_level(raw: str) -> int:
    s = raw.lstrip()
    n = len(s) - len(s.lstrip("#"))
    return n if 0 < n <= 6 and s[n : n + 1] == " " else 0


def _lead(raw: str) -> int:
    """Characters before a line's text proper (indent, markdown marker)."""
    s = raw.lstrip()
    k = len(raw) - len(s)
    n = _md_level(raw)
    if n:
        k += n
        while k < len(raw) and raw[k] == " ":
            k += 1
    return k


def _inline_byline(s: str) -> tuple[str, str] | None:
    """A title with its byline run into the same line: (title, author)."""
    m = re.search(r"\s*文\s*[/／]", s)
    if not m or m.start() < 4:
        return None
    author = P.byline_author(s[m.start() :].strip())
    return s[: m.start()], author or ""


def _part_of_line(ln: Line, part: str) -> tuple[str, int]:
    """The title printed as ``part`` of a line, as printed, and where it starts."""
    i = ln.norm.text.find(part)
    if i < 0:
        return part, ln.start
    j = i + len(part)
    start, end = ln.norm.span(i, j)
    return " ".join(ln.raw[start - ln.start : end - ln.start].split()), start


def _cut_article(drafts: list[_Draft], lines: list[Line], s: str) -> _Draft | None:
    """A recent article whose text stops mid-sentence and which ``s`` continues."""
    for d in reversed(drafts[-3:-1]):
        if d.body:
            last = lines[d.body[-1]].text
            if continues(last, s):
                return d
    return None


def _name_after(lines: list[Line], j: int | None) -> str:
    """A byline whose name went to the next line (``文 / 本刊记者`` then ``张婉妮``)."""
    if j is None:
        return ""
    s = lines[j].text
    return P.clean_author(s) if len(s) <= 8 else ""


def _cut_tail(lines: list[Line], i: int, skip: set[int]) -> bool:
    """Whether line i is the tail of a sentence cut by a column or page break."""
    k = i - 1
    while k >= 0 and k in skip:
        k -= 1
    if k < 0:
        return False
    prev = lines[k].text
    s = lines[i].text
    return (
        len(prev) > 40 and not ends_sentence(prev) and prev[-1] not in "：:" and s[-1] in "。！？!?"
    )


def _title_continues(
    first: str, second: str, toc: _Toc, lines: list[Line], after: int | None, skip: set[int]
) -> bool:
    """Whether two heading-like lines are one title broken in two (or a title and its subtitle)."""
    if len(first) <= 5 or P.byline_author(second) is not None or P.is_group_author(second):
        return False
    if any(c in first for c in "（(：:") or P.is_enumerated(second):
        return False
    joined = P.compact(first + second)
    if len(joined) > len(P.compact(first)) + 1 and toc.column_for(joined)[0]:
        return True
    while after is not None and after + 1 < len(lines) and lines[after].text.startswith("—"):
        after += 1
    if after is not None:
        nxt = lines[after].text
        if (P.byline_author(nxt) is not None or P.is_group_author(nxt)) and (
            len(first) <= 20 or len(second) <= 6
        ):
            return True
    # an unfinished quote or a dangling connective means the title goes on
    opened = first.count("“") > first.count("”") or first.count("《") > first.count("》")
    return opened or first.endswith(("的", "与", "和", "之", "在", "为"))


def _followed_by_body(
    lines: list[Line], k: int | None, skip: set[int], max_len: int, has_byline: bool
) -> bool:
    """A title is followed by running text: at once, or after its byline."""
    seen = 0
    while k is not None and k < len(lines) and seen < (3 if has_byline else 1):
        if k in skip:
            k += 1
            continue
        s = lines[k].text
        if len(s) > max_len or ends_sentence(s) and len(s) > 12:
            return True
        if s.startswith("—") or s.endswith(("：", ":")):  # a subtitle, or 编者按：
            k += 1
            continue
        if ends_sentence(s):  # a short first sentence (记者走访古文化街。): look past it
            k += 1
            continue
        if P.supplied_by(s) is not None:
            return False
        seen += 1
        k += 1
    return has_byline


def _publication_info(lines: list[Line]) -> tuple[str | None, str | None, str | None]:
    """Publication name, issue and date from a masthead (``天津支部生活`` / ``2024年第11期``)."""
    for i, ln in enumerate(lines[:400]):
        issue = P.issue_of(ln.text)
        if issue and len(ln.text) <= 40:
            pub = None
            for k in range(i - 1, max(-1, i - 3), -1):
                cand = lines[k].text
                if 2 <= len(cand) <= 16 and P.is_heading_like(cand) and not is_furniture(cand):
                    pub = cand
                    break
            return pub, issue, P.date_of(ln.text)
    return None, None, None
