"""Read a page's lines once, top to bottom, into drafts of articles (line indices, no text yet).

Each line goes to the first step that claims it: closing credits, a byline, a marked column
label, a markdown heading, a quote in a quote column, a heading-like line (a title, an unmarked
column label or a sub-heading); anything else is running text. The steps share a small state:
the current draft, the current column, the mode (inside a feature, a run of briefs, just after
closing credits, or none yet) and whether a markdown kicker stands above the next heading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rag.ingest import patterns as P
from rag.ingest.cleaning import COLONS, STOPS, Line, continues, ends_sentence
from rag.ingest.front_matter import Contents

# inside a feature, inside a run of briefs, just after closing credits, or no article yet
Mode = Literal["feature", "briefs", "closed", "none"]


@dataclass
class Draft:
    """An article being assembled: indices into the page's non-blank lines."""

    title_lines: list[int]
    column: str | None = None
    author: str | None = None
    body: list[int] = field(default_factory=list)
    sections: dict[int, str] = field(default_factory=dict)  # body line index -> heading
    md_level: int = 0
    title: str | None = None  # when the title is only part of its line(s)
    title_start: int | None = None


@dataclass(frozen=True)
class _Heading:
    """A heading-like line read together with what follows it."""

    title: list[int]  # its line, or two when the title is broken over two lines
    after_at: int | None  # the first line after the title and any subtitle
    after: str  # that line's text ('' at the end)
    inline: tuple[str, str] | None  # (title, author) when the byline shares the title's line
    has_byline: bool
    in_toc: bool
    toc_column: str | None


def draft_articles(
    lines: list[Line], skip: set[int], toc: Contents, front: range, max_title_len: int
) -> list[Draft]:
    """The drafts of ``lines``; ``skip`` (front matter, furniture) grows with lines a draft took."""
    return _DraftBuilder(lines, skip, toc, front, max_title_len).run()


@dataclass
class _DraftBuilder:
    """The state of one top-to-bottom reading; each ``_step`` method claims a line or passes."""

    lines: list[Line]
    skip: set[int]  # grows with the lines a draft takes ahead of the reading
    toc: Contents
    front: range  # the contents' lines: reaching one ends the current article
    max_title_len: int
    drafts: list[Draft] = field(default_factory=list)
    cur: Draft | None = None  # the draft that running text joins
    column: str | None = None  # the column the next article opens under
    mode: Mode = "none"
    kicker: bool = False  # a markdown kicker stands above the next heading

    def run(self) -> list[Draft]:
        i = 0
        while i < len(self.lines):
            i = self._take(i)
        return self.drafts

    def _take(self, i: int) -> int:
        """Give line i to the first step that claims it; the index of the next line to read."""
        if i in self.skip:
            if i in self.front:  # the contents and masthead end whatever came before them
                self.cur, self.mode, self.column = None, "none", None
            return i + 1
        j = self._next(i)
        steps = (
            self._step_credits,
            self._step_byline,
            self._step_column_label,
            self._step_md_heading,
            self._step_quote,
            self._step_heading,
        )
        for step in steps:
            after = step(i, j)
            if after is not None:
                return after
        self._body(i)
        return i + 1

    # -- helpers over the lines -------------------------------------------------
    def _next(self, k: int) -> int | None:
        """The next line after k that is not skipped."""
        k += 1
        while k < len(self.lines) and k in self.skip:
            k += 1
        return k if k < len(self.lines) else None

    def _text(self, k: int | None) -> str:
        return self.lines[k].text if k is not None else ""

    def _open(self, title: list[int], column: str | None, level: int = 0) -> Draft:
        """Start a new draft; it becomes the current one."""
        self.cur = Draft(title_lines=title, column=column, md_level=level)
        self.drafts.append(self.cur)
        return self.cur

    # -- the steps: each returns the next line to read, or None to pass the line on --
    def _step_credits(self, i: int, j: int | None) -> int | None:
        """Closing credits (供稿, 摘自, 作者系) end the article, naming its author if no byline did."""
        s = self.lines[i].text
        who = P.supplied_by(s)
        if who is None and not P.is_excerpt_note(s) and not P.is_author_note(s):
            return None
        cur = self.cur
        if cur is not None:
            if who and not cur.author:
                cur.author = who
            elif not who and not cur.author and P.is_excerpt_note(s):
                cur.author = s.strip("（）()").removeprefix("摘编自").removeprefix("摘自")
        self.mode = "closed"
        return i + 1

    def _step_byline(self, i: int, j: int | None) -> int | None:
        """A byline names the current article's author; one with nothing to attach to is furniture."""
        by = P.byline_author(self.lines[i].loose)
        if by is None:
            return None
        cur = self.cur
        if cur is not None and not cur.author:
            cur.author = by or _name_after(self.lines, j)
            cur.body.append(i)  # the byline is text a reader can ask about
            if not by and j is not None and len(self.lines[j].text) <= 8:
                cur.body.append(j)
                self.skip.add(j)
        return i + 1

    def _step_column_label(self, i: int, j: int | None) -> int | None:
        """A marked column label (``·城事·``) opens a brief titled by the text after the label."""
        ln = self.lines[i]
        label = P.column_label(ln.text)
        if label is None:
            return None
        self.column, rest = label
        # a column with no headline of its own is named by its label
        named = rest if rest and P.is_heading_like(rest, self.max_title_len) else self.column
        cur = self._open([i], self.column)
        cur.title, cur.title_start = _part_of_line(ln, named)
        self.mode = "briefs"
        return i + 1

    def _step_md_heading(self, i: int, j: int | None) -> int | None:
        """A markdown heading (a newspaper page converted to markdown): a title or a section."""
        level = P.md_level(self.lines[i].raw)
        if not level:
            return None
        if j is not None and P.md_level(self.lines[j].raw) > 0:
            # a kicker or a department label above the real title
            self.column = self.lines[i].loose
            self.kicker = True
            return i + 1
        cur = self.cur
        if (
            not self.kicker
            and cur is not None
            and cur.md_level
            and level > cur.md_level
            and self.mode == "feature"
        ):
            cur.sections[i] = self.lines[i].loose
            cur.body.append(i)
        else:
            self._open([i], self.column, level)
            self.mode = "feature"
            self.column = None
        self.kicker = False
        return i + 1

    def _step_quote(self, i: int, j: int | None) -> int | None:
        """A quote column (声音): each short quoted sentence, then its "——source" line."""
        s = self.lines[i].text
        quoted = self.mode == "briefs" and len(s) <= 24 and s[-1] in STOPS
        if not (quoted and self._text(j).startswith("—")):
            return None
        self._open([i], self.column)
        return i + 1

    def _step_heading(self, i: int, j: int | None) -> int | None:
        """A heading-like line: a new article's title, an unmarked column label, or a section."""
        s = self.lines[i].text
        if not P.is_heading_like(s, self.max_title_len) or _cut_tail(self.lines, i, self.skip):
            return None
        if P.is_enumerated(s):
            return None
        h = self._read_heading(i, j)
        if self._labels_untitled_piece(s, h):  # a label over a piece with no headline (解读)
            self._open([i], self.column)
            self.mode = "briefs"
            return i + 1
        if self._is_unmarked_column(s, h):  # an unmarked column label: 焦点, 数说, 城事
            self.column = s
            self.mode = "briefs"
            self.cur = None
            return i + 1
        starts_article = (
            h.in_toc
            or h.has_byline
            or self.cur is None
            or self.mode in ("briefs", "closed", "none")
        )
        if starts_article and _followed_by_body(
            self.lines, h.after_at, self.skip, self.max_title_len, h.has_byline
        ):
            self._open_titled(h)
            return h.title[-1] + 1
        if self.cur is not None:
            self.cur.sections[i] = s
            self.cur.body.append(i)
        return i + 1

    # -- headings ---------------------------------------------------------------
    def _read_heading(self, i: int, j: int | None) -> _Heading:
        """Line i as a title: its line(s), the line after it, its byline, its contents entry."""
        s = self.lines[i].text
        nxt = self._text(j)
        inline = P.inline_byline(s)
        title = [i]
        k = j
        # a title broken over two lines
        if (
            inline is None
            and k is not None
            and P.is_heading_like(nxt, self.max_title_len)
            and P.column_label(nxt) is None
            and _title_continues(s, nxt, self.toc, self.lines, self._next(k), self.skip)
        ):
            title.append(k)
            k = self._next(k)
        while k is not None and self.lines[k].text.startswith("—"):  # a subtitle under the title
            k = self._next(k)
        after = self._text(k)
        in_toc, toc_column = self.toc.column_for(
            P.compact("".join(self.lines[t].loose for t in title))
        )
        has_byline = (
            P.byline_author(after) is not None or P.is_group_author(after) or inline is not None
        )
        return _Heading(title, k, after, inline, has_byline, in_toc, toc_column)

    def _labels_untitled_piece(self, s: str, h: _Heading) -> bool:
        """A short label (解读) over running text that continues an article with no byline."""
        cur = self.cur
        return (
            len(s) <= 4
            and len(h.title) == 1
            and cur is not None
            and not cur.author
            and not cur.md_level
            and _followed_by_body(self.lines, h.after_at, self.skip, self.max_title_len, False)
        )

    def _is_unmarked_column(self, s: str, h: _Heading) -> bool:
        """A short line over a longer title with body text under it: a column's name."""
        return (
            (self.mode != "feature" or (self.cur is not None and not self.cur.author))
            and not h.has_byline  # a byline belongs to an article: s is its title
            and len(s) <= 5
            and len(h.title) == 1
            and h.after_at is not None
            and P.is_heading_like(h.after, self.max_title_len)
            and len(h.after) >= 6
            and not h.in_toc
            and _followed_by_body(
                self.lines, self._next(h.after_at), self.skip, self.max_title_len, False
            )
        )

    def _open_titled(self, h: _Heading) -> None:
        """Open the article that heading ``h`` titles, with the author its byline names."""
        brief = self.mode == "briefs" and not h.has_byline and not h.in_toc
        cur = self._open(h.title, h.toc_column if h.in_toc else self.column)
        if h.inline is not None:
            cur.title, cur.title_start = _part_of_line(self.lines[h.title[0]], h.inline[0])
            cur.author = h.inline[1]
        elif h.after_at is not None and P.is_group_author(h.after):
            cur.author = h.after
            cur.body.append(h.after_at)
            self.skip.add(h.after_at)
        self.mode = "briefs" if brief else "feature"

    # -- running text -------------------------------------------------------------
    def _body(self, i: int) -> None:
        """Running text joins the current article, one a page break cut, or a new untitled one."""
        if self.mode == "closed":
            # a page break can put the end of an earlier article after the next one
            resumed = _cut_article(self.drafts, self.lines, self.lines[i].text)
            if resumed is not None:
                self.cur = resumed
            self.mode = "feature"
        cur = self.cur
        if cur is None:
            cur = self._open([], self.column)
            self.mode = "feature"
        cur.body.append(i)


# -- lines in their context ---------------------------------------------------------
def _part_of_line(ln: Line, part: str) -> tuple[str, int]:
    """The title printed as ``part`` of a line, as printed, and where it starts."""
    i = ln.norm.text.find(part)
    if i < 0:
        return part, ln.start
    j = i + len(part)
    start, end = ln.norm.span(i, j)
    return " ".join(ln.raw[start - ln.start : end - ln.start].split()), start


def _cut_article(drafts: list[Draft], lines: list[Line], s: str) -> Draft | None:
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
        len(prev) > 40
        and not ends_sentence(prev)
        and prev[-1] not in COLONS
        and s[-1] in STOPS + "!?"
    )


def _title_continues(
    first: str, second: str, toc: Contents, lines: list[Line], after: int | None, skip: set[int]
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
        if s.startswith("—") or s[-1] in COLONS:  # a subtitle, or 编者按：
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
