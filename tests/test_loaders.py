"""Tests for rag.ingest.loaders on files generated in tmp_path (plus the shared sample corpus)."""

from __future__ import annotations

import codecs
import logging
import random
from pathlib import Path

import pytest

from rag.ingest.loaders import (
    SUPPORTED,
    CorpusError,
    UnreadableFile,
    decode_bytes,
    iter_corpus,
    load_corpus,
    load_file,
)
from rag.ingest.web import html_to_text

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"

ZH = (
    "学习好贯彻好党的二十届四中全会精神是当前和今后一个时期的重大政治任务。\n"
    "市委市级机关工委按照市委统一部署，聚焦“吃透精神抓落实”，推动全会精神落地生根。\n"
    "人工智能是新一轮科技革命和产业变革的重要驱动力量，将对全球经济社会发展产生深远影响。\n"
    "2025年，天津市坚持以高质量党建促进高质量发展，取得了新的成绩。\n"
)
SHORT = "联通"  # the classic GBK string that naive detectors mistake for UTF-8
_RNG = random.Random(7)
RARE = "䶮是一个罕见字，€ 和 𠮷 也只有 GB18030 能编码。\n"  # not encodable in GBK


# ------------------------------------------------------------------ fixtures


def make_pdf(path: Path, pages: list[list[str]]) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path))
    for lines in pages:
        pdf.setFont("STSong-Light", 14)
        for i, line in enumerate(lines):
            pdf.drawString(72, 760 - 24 * i, line)
        pdf.showPage()
    pdf.save()


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("以党建引领基层治理创新", level=1)
    document.add_paragraph("习近平总书记视察天津并发表重要讲话，对新征程上天津工作提出了明确要求。")
    document.add_paragraph("")  # empty paragraphs are dropped
    document.add_heading("一、提高政治站位", level=2)
    document.add_paragraph("各级党组织要把学习贯彻全会精神作为首要政治任务。")
    document.save(str(path))


HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>页面标题</title>
<style>body { color: red; }</style></head>
<body>
<!-- 注释不应出现 -->
<h1>人工智能发展和治理</h1>
<p>人工智能是新一轮科技革命的
重要驱动力量。</p>
<script>var secret = "不应出现的脚本";</script>
<div>中国高度重视<b>人工智能</b>发展。<br>积极推动互联网、大数据和实体经济深度融合。</div>
<noscript>请启用脚本</noscript>
<h2>国际合作</h2>
<ul><li>第一条</li><li>第二条</li></ul>
</body></html>
"""


@pytest.fixture
def good_corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "gbk.txt").write_bytes(ZH.encode("gbk"))
    (root / "gb18030.txt").write_bytes((ZH + RARE).encode("gb18030"))
    (root / "short_gbk.txt").write_bytes(SHORT.encode("gbk"))
    (root / "bom.txt").write_bytes(codecs.BOM_UTF8 + ZH.replace("\n", "\r\n").encode("utf-8"))
    (root / "sub" / "notes.md").write_text("# 标题\n\n" + ZH, encoding="utf-8")
    (root / "sub" / "page.html").write_text(HTML, encoding="utf-8")
    make_pdf(
        root / "sub" / "deeper" / "report.pdf",
        [["人工智能是新一轮科技革命的重要驱动力量。", "第二行：高质量发展。"], ["第二页内容"]],
    )
    make_docx(root / "sub" / "deeper" / "doc.docx")
    return root


def by_source(docs: list) -> dict:
    return {d.source: d for d in docs}


# ------------------------------------------------------------------ decoding


def test_decode_gbk_sentences() -> None:
    assert decode_bytes(ZH.encode("gbk")) == (ZH, "gb18030")


def test_decode_short_gbk() -> None:
    assert decode_bytes(SHORT.encode("gbk")) == (SHORT, "gb18030")
    assert decode_bytes("中文".encode("gb2312")) == ("中文", "gb18030")


def test_decode_gb18030_only_characters() -> None:
    assert decode_bytes(RARE.encode("gb18030")) == (RARE, "gb18030")


def test_decode_utf8_and_bom_and_newlines() -> None:
    assert decode_bytes(ZH.encode("utf-8")) == (ZH, "utf-8")
    text, enc = decode_bytes(codecs.BOM_UTF8 + "第一行\r\n第二行\r第三行".encode())
    assert (text, enc) == ("第一行\n第二行\n第三行", "utf-8-sig")
    assert decode_bytes(b"") == ("", "utf-8")


def test_decode_utf16_with_bom() -> None:
    assert decode_bytes(ZH.encode("utf-16")) == (ZH, "utf-16")


ZH_HANT = (
    "臺灣的年平均雨量約為兩千五百公釐，山區的雨量更多。\n"
    "國立故宮博物院收藏了大量的中國古代文物與藝術品，是世界著名的博物館之一。\n"
    "下薩克森邦在一九四六年時由英國建立，首府是漢諾威。\n"
)


@pytest.mark.parametrize(
    "text, codec, reported",
    [
        (ZH, "utf-8", "utf-8"),
        (ZH, "utf-16", "utf-16"),
        (ZH, "utf-16-le", None),  # with its BOM written by hand below
        (ZH, "gb18030", "gb18030"),
        (ZH, "gbk", "gb18030"),
        (ZH_HANT, "utf-8", "utf-8"),
        (ZH_HANT, "utf-16", "utf-16"),
        (ZH_HANT, "gb18030", "gb18030"),
        (ZH_HANT, "big5", "big5"),
        (ZH_HANT + "香港的瀞字\n", "big5hkscs", "big5hkscs"),  # 瀞: in HKSCS, not in Big5
    ],
)
def test_every_encoding_round_trips(text: str, codec: str, reported: str | None) -> None:
    data = text.encode(codec)
    if reported is None:  # UTF-16 LE with a BOM
        data, reported = codecs.BOM_UTF16_LE + data, "utf-16"
    assert decode_bytes(data) == (text, reported)


def test_big5_is_told_from_gb18030_by_evidence() -> None:
    """Strict GB18030 accepts Big5 bytes (and garbles them); the evidence picks Big5, and GB
    bytes that also decode as Big5 stay GB18030."""
    for line in ZH_HANT.splitlines():
        data = line.encode("big5")
        assert data.decode("gb18030") != line  # the trap
        assert decode_bytes(data) == (line, "big5")
    for line in ZH.splitlines():
        assert decode_bytes(line.encode("gbk"))[1] == "gb18030"


def test_a_big5_file_never_gets_a_garbled_title(tmp_path: Path) -> None:
    folder = tmp_path / "big5"
    folder.mkdir()
    (folder / "taiwan.txt").write_bytes(("臺灣的氣候\n\n" + ZH_HANT).encode("big5"))
    (doc,) = load_corpus(folder)
    assert doc.encoding == "big5" and doc.text.startswith("臺灣的氣候\n")
    from rag.ingest.corpus import Corpus

    titles = [a.title for a in Corpus.from_folder(folder).articles]
    assert titles and all("臺灣" in t or "國立" in t or "薩克森" in t for t in titles), titles


def test_a_file_that_decodes_only_with_replacements_is_skipped_by_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_text(ZH, encoding="utf-8")
    (folder / "noise.txt").write_bytes(bytes(range(0x80, 0x100)) * 40)  # no encoding fits
    with caplog.at_level(logging.WARNING):
        docs = load_corpus(folder)
    assert [d.source for d in docs] == ["good.txt"]
    assert any("noise.txt" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        bytes(range(1, 32)) * 20,
        bytes(_RNG.randrange(1, 256) for _ in range(4000)),  # no NUL bytes
    ],
    ids=["png-like", "control-chars", "random-no-nul"],
)
def test_decode_binary_raises(data: bytes) -> None:
    with pytest.raises(UnreadableFile):
        decode_bytes(data)


def test_unreadable_file_is_value_error() -> None:
    assert issubclass(UnreadableFile, ValueError)


# ------------------------------------------------------------------ formats


@pytest.mark.parametrize("markup", ["http://example.com/a.html", "report.txt", "  /tmp/x  "])
def test_a_page_that_looks_like_a_url_is_read_without_a_warning(markup: str) -> None:
    """Beautiful Soup warns that such markup "looks like a URL"; for us it is a page's text."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert html_to_text(markup) == markup.strip()


def test_html_to_text_drops_invisible_and_keeps_headings() -> None:
    text = html_to_text(HTML)
    assert "secret" not in text and "不应出现" not in text
    assert "body {" not in text and "请启用脚本" not in text and "页面标题" not in text
    assert text.splitlines()[0] == "# 人工智能发展和治理"
    assert "\n## 国际合作\n" in text
    # a source line break between Chinese characters does not become a space
    assert "人工智能是新一轮科技革命的重要驱动力量。" in text
    assert "中国高度重视人工智能发展。\n积极推动互联网" in text
    assert "第一条\n\n第二条" in text


def test_html_declared_gbk(tmp_path: Path) -> None:
    page = tmp_path / "gbk.htm"
    page.write_bytes(
        (
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk">'
            f"</head><body><p>{ZH}</p></body></html>"
        ).encode("gbk")
    )
    doc = load_file(page, tmp_path)
    assert doc.kind == "html" and doc.encoding == "gb18030"
    assert "聚焦“吃透精神抓落实”" in doc.text


def test_load_corpus_good_files(good_corpus: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="rag.ingest.loaders"):
        docs = load_corpus(good_corpus)
    assert not caplog.records
    assert [d.source for d in docs] == [
        "bom.txt",
        "gb18030.txt",
        "gbk.txt",
        "short_gbk.txt",
        "sub/deeper/doc.docx",
        "sub/deeper/report.pdf",
        "sub/notes.md",
        "sub/page.html",
    ]
    got = by_source(docs)
    assert (got["gbk.txt"].text, got["gbk.txt"].encoding, got["gbk.txt"].kind) == (
        ZH,
        "gb18030",
        "text",
    )
    assert got["gb18030.txt"].text == ZH + RARE
    assert got["short_gbk.txt"].text == SHORT
    assert (got["bom.txt"].text, got["bom.txt"].encoding) == (ZH, "utf-8-sig")
    assert not got["bom.txt"].text.startswith("\ufeff")
    assert (got["sub/notes.md"].kind, got["sub/notes.md"].text) == ("markdown", "# 标题\n\n" + ZH)

    html = got["sub/page.html"]
    assert html.kind == "html" and html.encoding == "utf-8"
    assert "secret" not in html.text and "# 人工智能发展和治理" in html.text

    pdf = got["sub/deeper/report.pdf"]
    assert pdf.kind == "pdf"
    assert (
        pdf.text == "人工智能是新一轮科技革命的重要驱动力量。\n第二行：高质量发展。\n\n第二页内容"
    )

    docx = got["sub/deeper/doc.docx"]
    assert docx.kind == "docx"
    assert docx.text == (
        "# 以党建引领基层治理创新\n\n"
        "习近平总书记视察天津并发表重要讲话，对新征程上天津工作提出了明确要求。\n\n"
        "## 一、提高政治站位\n\n"
        "各级党组织要把学习贯彻全会精神作为首要政治任务。"
    )


def test_docx_chinese_heading_style(tmp_path: Path) -> None:
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    document.styles.add_style("标题 3", WD_STYLE_TYPE.PARAGRAPH)
    document.add_paragraph("三级标题", style="标题 3")
    document.add_paragraph("正文内容。")
    document.save(str(tmp_path / "zh.docx"))
    assert load_file(tmp_path / "zh.docx", tmp_path).text == "### 三级标题\n\n正文内容。"


# ------------------------------------------------------------------ bad files


BAD_FILES = {
    "binary.txt": b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 8,
    "empty.txt": b"",
    "blank.md": b"  \n\r\n\t \n",
    "data.xyz": "这是不支持的格式".encode(),
    "broken.pdf": b"%PDF-1.4\n this is not really a pdf \n%%EOF\n",
    "broken.docx": b"PK\x03\x04 not a real zip archive",
    "scan.pdf": None,  # a valid PDF without a text layer
}


def write_bad_files(root: Path) -> None:
    from reportlab.pdfgen import canvas

    for name, data in BAD_FILES.items():
        if data is not None:
            (root / name).write_bytes(data)
    pdf = canvas.Canvas(str(root / "scan.pdf"))
    pdf.rect(72, 72, 200, 200)
    pdf.showPage()
    pdf.save()


def test_bad_files_skipped_with_one_warning_each(
    good_corpus: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_bad_files(good_corpus)
    skips: list[tuple[str, str]] = []
    with caplog.at_level(logging.WARNING, logger="rag.ingest.loaders"):
        docs = load_corpus(
            good_corpus, on_skip=lambda source, reason: skips.append((source, reason))
        )

    assert len(docs) == 8  # every good file still loads
    assert {d.source for d in docs}.isdisjoint(BAD_FILES)
    warnings = [r for r in caplog.records if r.name == "rag.ingest.loaders"]
    assert all(r.levelno == logging.WARNING for r in warnings)
    assert len(warnings) == len(BAD_FILES)
    for name in BAD_FILES:
        assert sum(name in r.getMessage() for r in warnings) == 1, name
    assert sorted(s for s, _ in skips) == sorted(BAD_FILES)
    reasons = dict(skips)
    assert "unsupported" in reasons["data.xyz"]
    assert "binary" in reasons["binary.txt"]
    assert "empty" in reasons["empty.txt"]
    assert "PDF" in reasons["broken.pdf"] and "DOCX" in reasons["broken.docx"]
    assert all(reason for _, reason in skips)


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_load_file_raises_for_bad_file(tmp_path: Path, name: str) -> None:
    write_bad_files(tmp_path)
    with pytest.raises(UnreadableFile):
        load_file(tmp_path / name, tmp_path)


def test_only_bad_files_is_corpus_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_bad_files(tmp_path)
    with (
        caplog.at_level(logging.WARNING, logger="rag.ingest.loaders"),
        pytest.raises(CorpusError) as err,
    ):
        load_corpus(tmp_path)
    assert str(tmp_path) in str(err.value) and str(len(BAD_FILES)) in str(err.value)
    assert len(caplog.records) == len(BAD_FILES)


def test_empty_folder_is_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no readable documents") as err:
        load_corpus(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_missing_folder_is_corpus_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(CorpusError) as err:
        load_corpus(str(missing))
    assert str(missing) in str(err.value)
    (tmp_path / "file.txt").write_text("你好", encoding="utf-8")
    with pytest.raises(CorpusError):
        load_corpus(tmp_path / "file.txt")


def test_iter_corpus_skips_hidden_and_sorts(tmp_path: Path) -> None:
    for rel in ["b.txt", "a/z.md", "a/.hidden.txt", ".git/config.txt", "A.txt", "c/d/e.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("内容", encoding="utf-8")
    rels = [p.relative_to(tmp_path).as_posix() for p in iter_corpus(tmp_path)]
    assert rels == ["A.txt", "a/z.md", "b.txt", "c/d/e.txt"]
    assert [d.source for d in load_corpus(tmp_path)] == rels


def test_supported_table() -> None:
    assert SUPPORTED[".htm"] == "html" and SUPPORTED[".markdown"] == "markdown"
    assert set(SUPPORTED.values()) == {"text", "markdown", "html", "pdf", "docx"}


# ------------------------------------------------------------------ sample corpus


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared sample corpus not available")
def test_sample_corpus_loads_exactly() -> None:
    files = sorted(p for p in CORPUS.iterdir() if p.is_file())
    assert len(files) == 5
    docs = load_corpus(CORPUS)
    assert [d.source for d in docs] == [p.name for p in files]
    for doc, path in zip(docs, files, strict=True):
        assert doc.encoding == "utf-8"
        assert doc.kind == "text"
        assert doc.text == path.read_text(encoding="utf-8")
