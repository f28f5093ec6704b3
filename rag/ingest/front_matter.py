"""What comes before the first article: the table of contents, the masthead and its statements,
and the publication, issue and date the masthead names.

The segmenter skips these lines; the contents' titles (and the columns they sit under) help
it tell a title in the body from a sub-heading.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from rag.ingest import patterns as P
from rag.ingest.cleaning import STOPS, Line, is_furniture

_CONTENTS_HEADS = ("目录", "CONTENTS")  # compared with spaces removed: "目 录" is one too
_STATEMENT_STARTS = ("本刊", "声明")


@dataclass
class Contents:
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


def front_matter(lines: list[Line], max_title_len: int) -> tuple[set[int], Contents, range]:
    """Line indices to skip (furniture, the contents), the contents' titles, the contents' lines."""
    skip = {i for i, ln in enumerate(lines) if is_furniture(ln.text) or len(ln.text) <= 1}
    start = next(
        (
            i
            for i, ln in enumerate(lines)
            if ln.text.replace(" ", "").upper().startswith(_CONTENTS_HEADS)
        ),
        None,
    )
    if start is None:
        return skip, Contents(), range(0)
    end = _contents_end(lines, start, skip, max_title_len)
    skip.update(range(start, end))
    return skip, _contents_titles(lines, start, end), range(start, end)


def _contents_end(lines: list[Line], start: int, skip: set[int], max_title_len: int) -> int:
    """Where the contents starting at ``start`` stop: at the first article's first lines."""
    end = start + 1
    while end < len(lines):  # the contents run until the first real sentence
        s = lines[end].text
        if len(s) >= 20 and s[-1] in STOPS and not s.startswith(_STATEMENT_STARTS):
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
            P.is_heading_like(prev.text, max_title_len)
            or P.byline_author(prev.loose) is not None
            or P.column_label(prev.text) is not None
        ):
            break
        end = k
    return end


def _contents_titles(lines: list[Line], start: int, end: int) -> Contents:
    """The titles listed in the contents' lines [start, end), each with its column."""
    toc = Contents()
    column: str | None = None
    for i in range(start, end):
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
    return toc


def publication_info(lines: list[Line]) -> tuple[str | None, str | None, str | None]:
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
