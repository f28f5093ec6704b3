"""Fuzzing the text path: loading arbitrary bytes, the offset map, segmentation, chunking.

``tests/test_cleaning.py`` already fuzzes ``clean_text``'s offsets (generated and arbitrary
text); here the rest of the path is fuzzed: ``load_file`` on arbitrary bytes under the
names a corpus may hold, ``MappedText`` slicing, joining and spans, and the segmenter and
chunker on corpus-like text (bylines, credits, column labels, contents pages, control
characters, blank lines, very long lines). Every run is bounded (``max_examples``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag.ingest.chunking import Chunker
from rag.ingest.cleaning import _ALWAYS, _HALF_TO_FULL, clean_text
from rag.ingest.loaders import UnreadableFile, load_file
from rag.ingest.segment import ArticleSegmenter
from rag.text.mapped import MappedText
from rag.types import Article, Document

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KINDS = {".txt": "text", ".md": "markdown", ".html": "html"}

# -- corpus-like text ------------------------------------------------------------------------
_CJK = "天津古文化街党建引领基层治理新征程习近平总书记社区网格港口游客人次万亿元年月日市区委"
_WORDS = [
    "古街续文脉",
    "党建兴百业",
    "以高质量机关党建促进天津高质量发展",
    "天津古文化街位于天津老城东门外的海河西岸，",
    "今年“十一”期间，天津古文化街累计客流 127.6 万人次。",
    "被誉为“津门故里”",
    "《天津支部生活》",
    "2024年第11期",
    "2025年10月1日",
    "127.6",
    "1,000",
    "12:30",
    "３２０",
    "ＡＢＣ",
    "％",
]
_STRUCTURE = [
    "文/记者 张三",
    "文 / 本刊记者 谢小燕",
    "文／李红",
    "本刊记者 王小明",
    "记者：",
    "（XXX 供稿）",
    "（天津市西青区委 供稿）",
    "（摘自《人民日报》）",
    "中共天津市西青区委理论学习中心组",
    "■ 要闻",
    "·城事·",
    "【解读】",
    "目录",
    "CONTENTS",
    "- 02 新城区建成智慧停车平台 王小明",
    "一、",
    "（二）",
    "3. ",
    "——",
    "编者按：",
    "扫码收听有声文章",
    "总编辑 刘庆",
    "https://example.org",
    "# ",
    "## ",
    "### ",
    "**",
    "> ",
]
_PUNCT = list("，。、；：？！“”‘’《》（）【】…—·,.;:?!()\"'%")
_SPACE = [" ", "  ", "\u3000", "\t", "\u00a0", "\n", "\n\n", "\n\n\n", "\r\n", "\r"]
_CONTROL = ["\x00", "\x01", "\x07", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff"]
_CONTROL += ["\u200b", "\ufffd", "\ufffe", "𠮷", "䶮", "😀"]

piece = st.one_of(
    st.sampled_from(list(_CJK)),
    st.sampled_from(_WORDS),
    st.sampled_from(_STRUCTURE),
    st.sampled_from(_PUNCT),
    st.sampled_from(_SPACE),
    st.sampled_from(_CONTROL),
    st.integers(0, 99999).map(str),
)
long_line = st.text(alphabet=_CJK + "，。 、", min_size=200, max_size=3000)
corpus_text = st.lists(st.one_of(piece, piece, piece, piece, long_line), max_size=120).map("".join)


# -- invariants --------------------------------------------------------------------------------
def _corresponds(original: str, cleaned: str) -> bool:
    """A kept character is the original one, or its width/quote-normalised form."""
    return (
        original == cleaned
        or _ALWAYS.get(original) == cleaned
        or _HALF_TO_FULL.get(original) == cleaned
        or (original == '"' and cleaned in "“”")
    )


def check_articles(doc: Document, articles: list[Article]) -> None:
    text = doc.text
    assert len({a.id for a in articles}) == len(articles), "article ids must be unique"
    for a in articles:
        assert a.source == doc.source
        assert a.title.strip(), a
        assert 0 <= a.start < a.end <= len(text), (a.title, a.start, a.end, len(text))
        assert a.text and len(a.offsets) == len(a.text)
        assert all(x < y for x, y in zip(a.offsets, a.offsets[1:])), "offsets must increase"
        for i, ch in enumerate(a.text):
            s, e = a.original_span(i, i + 1)
            assert a.start <= s < e <= a.end, (a.title, i, ch, s, e, a.start, a.end)
            if ch != "\n":  # a paragraph break maps to the character after its line
                assert _corresponds(text[s], ch), (text[s], ch)
        for pos, heading in a.sections:
            assert 0 <= pos <= len(a.text) and heading


def check_chunks(articles: list[Article], chunker: Chunker) -> None:
    for a in articles:
        chunks = chunker.chunk(a)
        assert len({c.id for c in chunks}) == len(chunks)
        covered: set[int] = set()
        for c in chunks:
            assert c.article_id == a.id and c.source == a.source and c.title == a.title
            assert c.text and c.text == a.text[c.text_start : c.text_start + len(c.text)]
            assert a.start <= c.start < c.end <= a.end
            assert (c.start, c.end) == a.original_span(c.text_start, c.text_start + len(c.text))
            covered.update(range(c.text_start, c.text_start + len(c.text)))
        # nothing of the article is dropped (only whitespace at chunk edges)
        assert all(i in covered for i, ch in enumerate(a.text) if not ch.isspace())


# -- load_file on arbitrary bytes ----------------------------------------------------------------
_TAGS = ["<p>", "</p>", "<h1>", "</h1>", "<h2>", "<br>", "<pre>", "</pre>", "<div>", "<li>"]
_TAGS += ["<script>x</script>", "<!-- c -->", "<!", "<![CDATA[", "&amp;", "&#x110000;", "&#0;"]
_TAGS += ["<td>", "<table>", "<title>t</title>", "<", ">", "<h7>", "</", "<meta charset=gbk>"]
_CHARSETS = ["utf-8", "gbk", "gb2312", "big5", "latin-1", "utf-16", "shift_jis", "x-bogus", ""]

html_text = st.lists(st.one_of(piece, st.sampled_from(_TAGS), long_line), max_size=60).map("".join)


@st.composite
def file_bytes(draw) -> bytes:
    kind = draw(st.sampled_from(["binary", "encoded", "html", "mutated"]))
    if kind == "binary":
        return draw(st.binary(max_size=3000))
    if kind == "html":
        charset = draw(st.sampled_from(_CHARSETS))
        head = f'<html><head><meta charset="{charset}"></head><body>' if charset else ""
        body = head + draw(html_text)
        codec = draw(st.sampled_from(["utf-8", "gb18030", "big5", "utf-16"]))
        return body.encode(codec, errors="replace")
    text = draw(corpus_text)
    codec = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16", "latin-1"]))
    data = text.encode(codec, errors="replace")
    if kind == "mutated" and data:  # flip, cut or splice bytes
        at = draw(st.integers(0, len(data)))
        junk = draw(st.binary(min_size=1, max_size=40))
        data = draw(st.sampled_from([data[:at], data[:at] + junk + data[at:], junk + data]))
    return data


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-files")


@settings(FUZZ, max_examples=300)
@given(data=file_bytes(), suffix=st.sampled_from(sorted(KINDS)))
@example(data=b"\x89PNG\r\n\x1a\n" + bytes(range(256)), suffix=".txt")
@example(data="\ufeff标题\r\n正文。".encode("utf-16"), suffix=".md")
@example(data=b"<h1>a\x01b</h1><pre>x\x01y</pre>", suffix=".html")
def test_load_file_gives_a_document_or_unreadable_file(scratch, data, suffix):
    path = scratch / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        doc = load_file(path, scratch)
    except UnreadableFile as e:
        assert str(e)  # a reason a person can read
        return
    assert isinstance(doc, Document)
    assert doc.source == path.name and doc.kind == KINDS[suffix]
    assert isinstance(doc.text, str) and doc.text.strip()
    assert "\r" not in doc.text and doc.encoding
    if suffix == ".html":
        assert "\x00" not in doc.text and "\x01" not in doc.text  # the walker's sentinels
    elif not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        try:
            plain = data.decode("utf-8")
        except UnicodeDecodeError:
            plain = None
        if plain is not None:  # plain UTF-8 text is kept exactly (line endings aside)
            assert doc.text == plain.replace("\r\n", "\n").replace("\r", "\n")
    # whatever loads goes through the rest of the text path without error
    articles = ArticleSegmenter().segment(doc)
    check_articles(doc, articles)
    check_chunks(articles, Chunker(120, 30))


def test_html_declaring_the_undefined_codec_is_read_or_refused_not_a_crash(scratch):
    """A declared codec that cannot decode: the declaration is ignored (the bytes are decoded
    as any other page) or the file is refused; never a bare UnicodeError."""
    path = scratch / "undefined.html"
    path.write_bytes(b'<meta charset="undefined"><p>\xff\xfe abc \x80</p>')
    try:
        doc = load_file(path, scratch)
    except UnreadableFile:
        return
    assert "abc" in doc.text


# -- MappedText ---------------------------------------------------------------------------------
@settings(FUZZ, max_examples=150)
@given(text=corpus_text, cuts=st.lists(st.integers(0, 10_000), min_size=2, max_size=6))
def test_mapped_text_slices_join_and_spans_map_back(text, cuts):
    mt = clean_text(text)
    n = len(mt)
    points = sorted(c % (n + 1) for c in cuts)
    # slicing and joining keep text and map together
    parts = [mt[a:b] for a, b in zip([0, *points], [*points, n])]
    assert MappedText.join(parts) == mt
    for a, b in zip(points, points[1:]):
        part = mt[a:b]
        assert part.text == mt.text[a:b] and part.offsets == mt.offsets[a:b]
        s, e = mt.span(a, b)
        assert 0 <= s <= e <= len(text)
        if b > a:
            # the original span holds every cleaned character of the slice, in order
            assert all(s <= o < e for o in part.offsets)
            assert e - s >= b - a
            kept = [(o, ch) for o, ch in zip(part.offsets, part.text) if ch != "\n"]
            assert all(_corresponds(text[o], ch) for o, ch in kept)
        else:
            assert s == e
    with pytest.raises(ValueError):
        MappedText("ab", (0,))


# -- the segmenter and the chunker ----------------------------------------------------------------
@settings(FUZZ, max_examples=400)
@given(
    text=corpus_text,
    name=st.sampled_from(["a.txt", "dir/页面.md", "x", ".hidden.txt", "a.b.c.txt"]),
    size=st.integers(8, 400),
    overlap_share=st.floats(0, 0.9),
)
@example(text="", name="a.txt", size=240, overlap_share=0.25)
@example(text="\n\n\u3000\n", name="a.txt", size=240, overlap_share=0.25)
@example(text="# \n## \n文/记者 张三\n（XXX 供稿）\n", name="a.txt", size=8, overlap_share=0.0)
@example(text="目录\nCONTENTS\n- 02 标题 作者\n", name="a.txt", size=240, overlap_share=0.25)
@example(text="标题\n" + "天津" * 3000 + "。", name="a.txt", size=8, overlap_share=0.9)
def test_segmenter_and_chunker_on_corpus_like_text(text, name, size, overlap_share):
    doc = Document(name, text)
    articles = ArticleSegmenter().segment(doc)
    check_articles(doc, articles)
    check_chunks(articles, Chunker(size, min(size - 1, int(size * overlap_share))))


@settings(FUZZ, max_examples=80)
@given(
    blocks=st.lists(
        st.tuples(
            # a title (at least 6 characters: shorter ones over a byline hit the bug below)
            st.text(alphabet=_CJK, min_size=6, max_size=18),
            st.sampled_from(["", "文/记者 张三", "文 / 本刊记者 谢小燕", "中共天津市委党校课题组"]),
            st.lists(  # paragraphs: clauses of Chinese words
                st.lists(
                    st.text(alphabet=_CJK, min_size=2, max_size=12), min_size=5, max_size=30
                ).map("，".join),
                min_size=1,
                max_size=5,
            ),
            st.sampled_from(["", "（XXX 供稿）", "（摘自《人民日报》）"]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_generated_newspaper_pages_segment_with_exact_spans(blocks):
    """Pages built like the sample corpus: title, byline, paragraphs, credit."""
    lines: list[str] = []
    for title, byline, paragraphs, credit in blocks:
        lines += [title, byline, *(p + "。" for p in paragraphs), credit, ""]
    doc = Document("page.txt", "\n\n".join(lines))
    articles = ArticleSegmenter().segment(doc)
    assert articles, "a page of titled, punctuated paragraphs yields at least one article"
    check_articles(doc, articles)
    check_chunks(articles, Chunker())
    # a paragraph long enough to be an article body (20 characters) is in exactly one
    # article: none dropped, none duplicated (shorter pieces may be dropped as fragments)
    for _, _, paragraphs, _ in blocks:
        for p in paragraphs:
            sentence = p + "。"
            if len(sentence) >= 20 and doc.text.count(sentence) == 1:
                holders = [a.title for a in articles if sentence in a.text]
                assert len(holders) == 1, (sentence, holders, doc.text)


def test_a_note_after_a_form_feed_line_still_has_a_title():
    [art] = ArticleSegmenter().segment(
        Document("notes/b.txt", "\x0c\n本市今年新建智慧公园12座，总面积达86公顷。")
    )
    assert art.title.strip()


_LEAD = "天津港口的发展\n\n天津港今年集装箱吞吐量再创新高，港口货物吞吐量同比增长。\n\n"
_DROPPED = {
    "short-title-over-a-byline": (
        _LEAD + "古街续文脉\n\n文 / 本刊记者 谢小燕\n\n"
        "天津是一座历史文化名城，古文化街被誉为津门故里，游客络绎不绝。\n",
        ("古街续文脉", "谢小燕"),
    ),
    "short-first-paragraph": (
        _LEAD + "古文化街游记\n\n记者走访古文化街。\n\n"
        "天津是一座历史文化名城，古文化街被誉为津门故里，游客络绎不绝。\n",
        ("古文化街游记", None),
    ),
}


@pytest.mark.parametrize(
    "case",
    [
        "short-title-over-a-byline",
        pytest.param(
            "short-first-paragraph",
            marks=pytest.mark.xfail(
                strict=True,
                raises=AssertionError,
                reason="BUG (narrowed): after a feature with no byline, a headline whose first "
                "paragraph is one short sentence (记者走访古文化街。) is read as a section heading "
                "of that feature: the text is kept but filed under the wrong title. (The other "
                "case, a title of 5 characters or fewer over a byline taken for a column label "
                "and its whole article dropped, is fixed.)",
            ),
        ),
    ],
)
def test_an_article_after_another_is_never_dropped(case):
    text, expected = _DROPPED[case]
    articles = ArticleSegmenter().segment(Document("page.txt", text))
    assert any("津门故里" in a.text for a in articles)  # never dropped
    assert [(a.title, a.author) for a in articles] == [("天津港口的发展", None), expected]
    assert "津门故里" in articles[-1].text


def test_a_long_run_of_spaces_is_cleaned_in_linear_time():
    text = "标题\n" + "正文" + " " * 8_000 + "结束。\n"
    t0 = time.perf_counter()
    clean_text(text)
    assert time.perf_counter() - t0 < 0.3
