"""Web pages: the main text of a saved page, its title and what the page says of itself.

A saved page holds much that is not its article: navigation, breadcrumbs, a cookie banner,
share buttons, comments, related links, the footer. :func:`read_page` keeps the article:

- :func:`html_to_text` walks the page for its visible text and its structure (paragraphs as
  blocks, ``<hN>`` as ``#`` lines, ``<br>`` as line breaks; scripts and styles dropped);
- trafilatura (a maintained main-content extractor, best of the open ones in published
  comparisons) says which text is the page's main content, comments excluded;
- a line of the walk is kept when trafilatura kept it: a line of at least ``ANCHOR``
  characters wherever it stands in trafilatura's text, in order; a shorter line (a
  sub-heading, a one-word paragraph) only between the kept lines around it, so that a
  menu item such as ``首页`` is not kept for occurring somewhere in the article.

The title is the page's (trafilatura reads ``og:title``, ``<title>`` without the site's
name, ``<h1>``): it heads the text as a ``#`` line when the kept text does not start with
it. Author, date and site name come from the page's metadata. The kept text is "the text
as read" of the file, so every offset points into it, as for any other format. Without
trafilatura, or when it finds no main text, the whole visible text is kept.

>>> page = read_page("<title>通知_某网</title><nav><a>首页</a></nav><p>" + "正文内容。" * 30 + "</p>")
>>> page.text.splitlines()[0], "首页" in page.text
('# 通知', False)
"""

from __future__ import annotations

import bisect
import html
import logging
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache

log = logging.getLogger("rag.ingest.web")

_DROP_TAGS = ["script", "style", "noscript", "template", "head", "title"]
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "header", "hgroup", "hr", "html", "li", "main", "nav", "ol", "p", "pre", "section",
        "summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
_HEADING = re.compile(r"h([1-6])")
_PARA, _LINE = "\x00", "\x01"  # sentinels for block and <br> breaks while walking HTML
# wider than lexicon.HAN and is_cjk: a source line break next to CJK punctuation, kana or a
# full-width form is a wrap too (such text is written without spaces)
_CJK = "[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]"
_CJK_WRAP = re.compile(rf"(?<={_CJK})[ \t\r\f]*\n[ \t\r\n\f]*(?={_CJK})")
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


def _squeeze(line: str) -> str:
    """Collapse HTML whitespace; a source line break between CJK characters vanishes."""
    return _HTML_SPACE.sub(" ", _CJK_WRAP.sub("", line)).strip()


def html_to_text(markup: str) -> str:
    """Visible text of an HTML page: blocks separated by blank lines, ``<hN>`` as ``#`` lines."""
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
    from bs4.element import NavigableString, PreformattedString, Tag

    with warnings.catch_warnings():  # a page whose text looks like a URL or a file name is
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)  # still just a page
        soup = BeautifulSoup(markup, "html.parser")
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    parts: list[str] = []

    def walk(node: Tag, pre: bool = False) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, PreformattedString):  # comments, doctype, CDATA
                    text = str(child).replace(_PARA, "").replace(_LINE, "")
                    parts.append(text.replace("\n", _LINE) if pre else text)
            elif not isinstance(child, Tag):
                continue
            elif child.name == "br":
                parts.append(_LINE)
            elif heading := _HEADING.fullmatch(child.name):
                title = _squeeze(child.get_text())
                if title:
                    parts.append(f"{_PARA}{'#' * int(heading.group(1))} {title}{_PARA}")
            elif child.name in _BLOCK_TAGS:
                parts.append(_PARA)
                walk(child, pre or child.name == "pre")
                parts.append(_PARA)
            elif child.name in ("td", "th"):
                parts.append(" ")
                walk(child, pre)
                parts.append(" ")
            else:
                walk(child, pre)

    walk(soup)
    blocks = []
    for block in "".join(parts).split(_PARA):
        lines = [line for line in map(_squeeze, block.split(_LINE)) if line]
        if lines:
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# --------------------------------------------------------------------------- main text

ANCHOR = 8  # a line this long is kept wherever trafilatura has it; shorter ones only in place
_NOT_TEXT = re.compile(r"[\s#|*_>\-\u3000]+")


@dataclass(frozen=True)
class WebPage:
    """A page's main text (what is indexed and what offsets point into) and its metadata."""

    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None  # YYYY-MM-DD
    site: str | None = None

    @property
    def meta(self) -> dict[str, str]:
        """What the page says of itself, for its articles: author, date, publication."""
        got = {"author": self.author, "date": self.date, "publication": self.site}
        return {k: v for k, v in got.items() if v}


@lru_cache(maxsize=1)
def _trafilatura():
    try:
        import trafilatura
    except ImportError:
        log.warning("trafilatura is not installed: web pages keep all their visible text")
        return None
    return trafilatura


def _norm(s: str) -> str:
    return _NOT_TEXT.sub("", s)


def keep_main_lines(visible: str, main: str) -> str:
    """The lines of ``visible`` (blocks split by blank lines) that ``main`` holds, in order."""
    target = _norm(main)
    blocks = [b.split("\n") for b in visible.split("\n\n")]
    found: dict[tuple[int, int], tuple[int, int]] = {}  # (block, line) -> span in target
    cursor = 0
    for bi, lines in enumerate(blocks):
        for li, line in enumerate(lines):
            n = _norm(line)
            if len(n) >= ANCHOR and (at := target.find(n, cursor)) >= 0:
                found[(bi, li)] = (at, at + len(n))
                cursor = at + len(n)
    anchors = sorted(found)
    kept: list[str] = []
    for bi, lines in enumerate(blocks):
        keep = []
        for li, line in enumerate(lines):
            if (bi, li) in found:
                keep.append(line)
                continue
            n = _norm(line)
            if not n:
                continue
            at = bisect.bisect_left(anchors, (bi, li))  # the kept lines around this one
            lo = found[anchors[at - 1]][1] if at > 0 else 0
            hi = found[anchors[at]][0] if at < len(anchors) else len(target)
            if anchors and n in target[lo:hi]:
                keep.append(line)
        if keep:
            kept.append("\n".join(keep))
    return "\n\n".join(kept)


_SITE_SEPARATOR = re.compile(r"\s*(?:[_|｜]|\s[-–—]\s)\s*")


def page_title(title: str | None, text: str) -> str | None:
    """The headline: the page's own heading when the ``<title>`` holds it, else the
    ``<title>``'s first part before a site-name separator (``标题_频道_某某网``, ``标题 - 某网``)."""
    if not title:
        return None
    whole = _norm(title)
    for line in text.splitlines():
        if line.startswith("#") and (n := _norm(line)) and n in whole:
            return line.lstrip("#").strip()
    parts = [p for p in _SITE_SEPARATOR.split(title) if p.strip()]
    return parts[0].strip() if parts else title


def _headed(text: str, title: str | None) -> str:
    """``text`` starting with the page's title as a ``#`` line."""
    if not title:
        return text
    first, _, rest = text.partition("\n")
    if _norm(first) == _norm(title):
        return text if first.startswith("#") else f"# {first}\n{rest}".rstrip("\n")
    return f"# {title}\n\n{text}" if text else f"# {title}"


_BYLINE_LABEL = re.compile(r"^(?:作者|文|撰文|记者|記者|编辑|編輯|by)\s*[:：/／]?\s*", re.I)
_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)


def _author(value: str | None) -> str | None:
    """A byline's name without its label (``作者：林晓雯`` → ``林晓雯``); None for a list or
    a sentence."""
    name = _BYLINE_LABEL.sub("", " ".join((value or "").split()))
    return name if name and len(name) <= 30 else None


def _site(sitename: str | None, title: str | None, markup: str) -> str | None:
    """The site's name: the page's own (``og:site_name``) unless it is the headline again,
    else the last part of ``<title>`` after a separator (``标题_频道_某某网`` → ``某某网``)."""
    name = " ".join((sitename or "").split())
    if name and not (title and _norm(name) in _norm(title)):
        return name
    m = _TITLE_TAG.search(markup)
    parts = (
        [p.strip() for p in _SITE_SEPARATOR.split(html.unescape(m.group(1))) if p.strip()]
        if m
        else []
    )
    if len(parts) >= 2 and len(parts[-1]) <= 20 and _norm(parts[-1]) != _norm(title or ""):
        return parts[-1]
    return None


def _date(value: str | None) -> str | None:
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", value or "")
    return m.group(0) if m else None


def read_page(markup: str) -> WebPage:
    """The main text of the page ``markup`` with its title, author, date and site name."""
    visible = html_to_text(markup)
    traf = _trafilatura()
    if traf is None:
        return WebPage(visible)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            doc = traf.bare_extraction(
                markup, with_metadata=True, include_comments=False, include_tables=True
            )
    except Exception as e:  # noqa: BLE001 - lxml and the extractor raise many kinds on odd markup
        log.warning(
            "main text extraction failed (%s: %s): the whole page is kept", type(e).__name__, e
        )
        return WebPage(visible)
    if doc is None:
        return WebPage(visible)
    main = keep_main_lines(visible, doc.text or "")
    title = page_title(" ".join((doc.title or "").split()) or None, main or visible)
    author = _author(doc.author)
    site = _site(doc.sitename, title, markup)
    found = bool(_norm(main))
    text = _headed(main if found else visible, title)
    return WebPage(text, title, author, _date(doc.date), site)
