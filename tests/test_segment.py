"""The segmenter against a hand-checked gold list of the sample corpus's articles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.ingest.patterns import compact
from rag.ingest.segment import ArticleSegmenter
from rag.types import Document

GOLD = [
    json.loads(line)
    for name in ("articles_a.jsonl", "articles_b.jsonl")
    for line in (Path(__file__).parent / "gold" / name).read_text(encoding="utf-8").splitlines()
    if line.strip()
]


def _match(gold: dict, articles, text: str):
    """The segmenter's article with the gold title whose span holds the gold body's first and last words."""
    names = {compact(gold["title"])} | {compact(t) for t in gold["title_lines"]}
    first = text.index(gold["first"])
    last_end = text.index(gold["last"]) + len(gold["last"])
    for a in articles:
        if compact(a.title) in names and a.start <= first < a.end and a.start < last_end <= a.end:
            return a
    return None


@pytest.fixture(scope="module")
def segmented(sample_corpus):
    by_source: dict[str, list] = {}
    for a in sample_corpus.articles:
        by_source.setdefault(a.source, []).append(a)
    return by_source


def test_gold_list_is_valid(corpus_dir):
    assert len(GOLD) >= 90
    for g in GOLD:
        text = (corpus_dir / g["source"]).read_text(encoding="utf-8")
        for key in ("first", "last"):
            assert text.count(g[key]) == 1, (g["title"], key)
        for line in g["title_lines"]:
            assert line in text


def test_segmenter_finds_95_percent_of_gold_articles(segmented, sample_corpus):
    hits = 0
    matched = set()
    for g in GOLD:
        doc = sample_corpus.documents[g["source"]]
        a = _match(g, segmented[g["source"]], doc.text)
        if a is not None:
            hits += 1
            matched.add(a.id)
    assert hits / len(GOLD) >= 0.95, f"{hits}/{len(GOLD)} gold articles found"
    false = len(sample_corpus.articles) - len(matched)
    assert false <= 0.06 * len(sample_corpus.articles), f"{false} articles not in the gold list"


def test_article_text_does_not_bleed_into_the_next(segmented, sample_corpus):
    for g in GOLD:
        doc = sample_corpus.documents[g["source"]]
        a = _match(g, segmented[g["source"]], doc.text)
        if a is None:
            continue
        mine = set(a.offsets)
        for o in GOLD:
            if o["source"] == g["source"] and o is not g:
                where = doc.text.index(o["first"])
                assert where not in mine, (a.title, "holds the start of", o["title"])


def test_contents_masthead_and_prompts_are_not_articles(sample_corpus):
    titles = [a.title for a in sample_corpus.articles]
    for junk in ("目录 CONTENTS", "声明", "总编辑", "扫码收听有声文章", "天津支部生活全媒体矩阵"):
        assert all(junk not in t for t in titles)
    for a in sample_corpus.articles:
        assert "扫码收听有声文章" not in a.text
        assert "国际标准刊号" not in a.text


def test_metadata_bylines_columns_and_issue(segmented):
    arts = {a.title: a for a in segmented["003_c0fa0c3c18fd1ce0.txt"]}
    a = arts["古街续文脉 党建兴百业"]
    assert (a.author, a.column) == ("谢小燕", "特别关注")
    assert (a.publication, a.issue) == ("天津支部生活", "2024年第11期 下半月")
    assert arts["以政绩考核凝聚高质量发展新动力"].author == "潘作成"
    theory = segmented["002_7d61d7b1c701f164.txt"]
    assert [a.author for a in theory] == [
        "中共天津市委社会工作部理论学习中心组",
        "中共天津市工业和信息化局党组理论学习中心组",
        "中共天津市南开区委理论学习中心组",
        "中共天津市西青区委理论学习中心组",
    ]


def test_feature_with_subheadings_is_one_article_with_sections(segmented):
    (art,) = segmented["001_356c5885c2fc8ee3.txt"]
    assert art.title == "以高质量机关党建促进天津高质量发展"
    assert len(art.sections) >= 4


def test_offsets_point_into_the_original(sample_corpus):
    for a in sample_corpus.articles:
        original = sample_corpus.documents[a.source].text
        assert original[a.start : a.start + 2] == a.title[:2] or compact(a.title)[:2] in compact(
            original[a.start : a.start + 12]
        )
        assert len(a.offsets) == len(a.text)
        assert all(a.start <= o < a.end for o in a.offsets)


def test_ids_are_stable_and_unique(corpus_dir, sample_corpus):
    from rag.ingest.corpus import Corpus

    again = Corpus.from_folder(corpus_dir)
    assert [a.id for a in again.articles] == [a.id for a in sample_corpus.articles]
    assert len({a.id for a in sample_corpus.articles}) == len(sample_corpus.articles)


def test_generalises_to_a_page_it_has_not_seen():
    page = (
        "目录\n\n■ 要闻\n\n- 02 新城区建成智慧停车平台 王小明\n\n■ 评论\n\n- 05 让老街焕发新活力 李红\n\n"
        "编辑部电话 010-12345678\n\n"
        "新城区建成智慧停车平台\n\n文/本刊记者 王小明\n\n"
        "近日，新城区智慧停车平台正式上线，全区3200个泊位实现统一管理。\n\n"
        "市民通过手机即可查询空余车位，平均找车位时间缩短一半。\n\n"
        "让老街焕发新活力\n\n文 / 李红\n\n"
        "老街是城市的记忆。今年以来，街道修缮了12处历史建筑，引进非遗工坊8家。\n\n"
        "（街道党工委 供稿）\n\n"
    )
    arts = ArticleSegmenter().segment(Document("x.txt", page))
    assert [(a.title, a.author, a.column) for a in arts] == [
        ("新城区建成智慧停车平台", "王小明", "要闻"),
        ("让老街焕发新活力", "李红", "评论"),
    ]
    assert "3200个泊位" in arts[0].text and "老街" not in arts[0].text
    assert page[arts[1].start : arts[1].end].rstrip().endswith("非遗工坊8家。")


def test_a_short_note_without_structure_is_one_article():
    """An upload with no recognisable article layout is not dropped: it is one article."""
    from rag.types import Document

    seg = ArticleSegmenter()
    titled = Document("notes/a.txt", "新的文章\n\n本市今年新建智慧公园12座。\n")
    [art] = seg.segment(titled)
    assert art.title == "新的文章" and "12座" in art.text
    i = art.text.index("12座")
    s, e = art.original_span(i, i + 3)
    assert titled.text[s:e] == "12座"
    [bare] = seg.segment(Document("notes/b.txt", "本市今年新建智慧公园12座。"))
    assert bare.title == "b" and bare.text == "本市今年新建智慧公园12座。"
    assert seg.segment(Document("c.txt", " \n\n")) == []
