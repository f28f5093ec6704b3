"""Traditional and Simplified matched in one script (rag.text.script, rag.reader.folding):
folding keeps every length and offset, a question in either script finds and reads a
document in either script, and answers come back in the document's own characters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.text import script
from rag.text.script import fold

opencc = pytest.importorskip("opencc")
MRC = Path(__file__).resolve().parents[2] / "shared" / "data" / "mrc"


def test_fold_converts_traditional_and_leaves_simplified():
    assert (
        fold("國立臺灣圖書館藏書約30萬冊，於1986年開館。")
        == "国立台湾图书馆藏书约30万册，于1986年开馆。"
    )
    assert fold("天津港集装箱航线达到145条") == "天津港集装箱航线达到145条"
    assert fold("") == "" and fold("abc 123") == "abc 123"
    # both variants of a character fold to the one Simplified form
    assert fold("裏") == fold("裡") == "里"


def test_fold_keeps_the_length_of_every_paragraph_of_drcd():
    src = MRC / "DRCD_dev.json"
    if not src.is_file():
        pytest.skip("../shared/data/mrc is not there")
    data = json.loads(src.read_text(encoding="utf-8"))["data"]
    texts = [p["context"] for a in data for p in a["paragraphs"]]
    texts += [q["question"] for a in data for p in a["paragraphs"] for q in p["qas"]]
    changed = 0
    for t in texts:
        f = fold(t)
        assert len(f) == len(t)
        changed += f != t
    assert changed > len(texts) // 2  # it did convert: DRCD is Traditional


class _Stretching:
    """A converter whose phrase table changes a length (as a future OpenCC table might)."""

    def convert(self, text: str) -> str:
        return text.replace("電腦", "计算机").replace("萬", "万")


def test_a_phrase_that_changes_the_length_is_folded_character_by_character(monkeypatch):
    monkeypatch.setattr(script, "_converter", lambda: _Stretching())
    text = "這台電腦值3萬元"
    got = fold(text)
    assert len(got) == len(text)
    assert got == "這台電腦值3万元"  # the stretching phrase kept as written, the rest folded


def test_without_opencc_text_is_matched_as_written(monkeypatch):
    monkeypatch.setattr(script, "_converter", lambda: script._Identity())
    assert fold("臺灣") == "臺灣"


# -- the whole path, on made-up documents --------------------------------------------------
TW = """# 國立臺灣圖書館的歷史

國立臺灣圖書館位於新北市中和區，前身為1914年成立的臺灣總督府圖書館。該館於2012年更名為國立臺灣圖書館，館藏圖書約30萬冊，其中日文舊籍與南洋資料尤為珍貴。

圖書館每年舉辦的閱讀推廣活動吸引超過十萬人次參與。館長表示，未來將持續擴充數位典藏。
"""
HK = """# 香港電車的故事

香港電車於1904年投入服務，是全球現存唯一全數採用雙層電車的電車系統。電車路線全長約13公里，每日載客量約十八萬人次。

電車公司的總部設於西營盤，車廠則位於屈地街和筲箕灣。
"""
CN = """# 天津港的发展

2023年天津港集装箱吞吐量突破2218万标准箱、航线达到145条，搭建集疏港智慧平台。天津港是中国北方最大的综合性港口之一。
"""

# (question, the answer's characters in the document, the document)
ASKED = [
    ("国立台湾图书馆馆藏图书约多少册？", "30萬冊", "tw.txt"),
    ("國立臺灣圖書館館藏圖書約多少冊？", "30萬冊", "tw.txt"),
    ("台湾总督府图书馆成立于哪一年？", "1914年", "tw.txt"),
    ("香港电车于哪一年投入服务？", "1904年", "hk.txt"),
    ("香港電車路線全長約多少公里？", "13公里", "hk.txt"),
    ("天津港2023年的集裝箱航線有多少條？", "145条", "cn.txt"),
]


@pytest.fixture(scope="module")
def mixed_index(tmp_path_factory):
    from rag.indexing import build_index

    work = tmp_path_factory.mktemp("scripts")
    corpus = work / "corpus"
    corpus.mkdir()
    (corpus / "tw.txt").write_text(TW, encoding="utf-8")
    (corpus / "hk.txt").write_text(HK, encoding="big5hkscs")  # and another encoding
    (corpus / "cn.txt").write_text(CN, encoding="gb18030")
    build_index(corpus, work / "index", embedder="offline")
    return work / "index"


def test_the_index_records_its_folding_and_folds_questions(mixed_index):
    from index.store import IndexStore

    store = IndexStore.load(mixed_index)
    assert store.manifest["settings"]["folding"] == script.FOLDING and store.folds
    assert store.matching_text("臺灣") == "台湾"
    # an index built before folding came is matched as written (its words were not folded)
    store.manifest["settings"].pop("folding")
    assert not store.folds and store.matching_text("臺灣") == "臺灣"


@pytest.mark.parametrize("question,expected,source", ASKED)
def test_either_script_finds_the_article(mixed_index, question, expected, source):
    from index.hybrid import HybridRetriever
    from index.store import IndexStore

    top = HybridRetriever(IndexStore.load(mixed_index)).search(question, k=1)[0]
    assert top.chunk.source == source


@pytest.mark.parametrize("reader", ["offline", "neural"])
def test_answers_in_the_documents_own_characters(mixed_index, reader, request):
    from rag.pipeline import Pipeline

    if reader == "neural":
        request.getfixturevalue("installed_model")
    pipe = Pipeline.load(mixed_index, reader)
    right = 0
    for question, expected, source in ASKED:
        ans = pipe.ask(question)
        if ans.answer is None:
            continue
        ev = ans.evidence
        original = pipe.store.originals[ev.source]
        assert ans.answer == original[ev.answer_start : ev.answer_end]  # the file's own script
        assert ev.text == original[ev.start : ev.end]
        assert ans.citations[0].source == source, question
        # "約30萬冊" for "30萬冊" is right too: the source writes the approximation
        right += expected in ans.answer and len(ans.answer) <= len(expected) + 1
        # the best guess and the passages shown are as written too
        assert ans.best_guess == ans.answer
    assert right == len(ASKED), right


def test_a_reading_is_folded_and_its_guesses_come_back_as_written(mixed_index):
    """The reader sees Simplified characters; the guesses it returns are the article's."""
    from rag.pipeline import Pipeline
    from rag.reader.base import Reading, SpanGuess

    seen = {}

    class Spy:
        name, offline = "spy", True

        def read(self, question, passages):
            seen["question"] = question
            seen["texts"] = [p.article.text for p in passages]
            a = passages[0].article.text
            i = a.index("30万册")
            return Reading((SpanGuess(0, i, i + 4, a[i : i + 4], 1.0),), 0.9)

    pipe = Pipeline.over(mixed_index, Spy())
    ans = pipe.ask("國立臺灣圖書館館藏圖書約多少冊？")
    assert seen["question"] == "国立台湾图书馆馆藏图书约多少册？"
    assert all(t == fold(t) for t in seen["texts"])
    assert ans.answer == "30萬冊"


def _readme_questions() -> list[str]:
    """The example questions the README and the chat page show."""
    import re

    root = Path(__file__).resolve().parents[1]
    found: list[str] = []
    for path in (root / "README.md", root / "api" / "static" / "index.html"):
        for q in re.findall(r"[\u4e00-\u9fff\d][^\s\"'“”：:]{3,40}？", path.read_text("utf-8")):
            if q not in found:
                found.append(q)
    return found


def test_the_readme_questions_in_traditional_get_the_same_answers(model_index):
    """The README's and the page's examples, and every dev question, asked in Traditional
    characters: the same answers (and abstentions) as in Simplified, with the served reader."""
    from eval.dataset import load_questions
    from rag.pipeline import Pipeline

    s2t = opencc.OpenCC("s2t")
    readme = _readme_questions()
    assert "天津港2023年的集装箱航线有多少条？" in readme and "古文化街被誉为什么？" in readme
    questions = readme + [q.question for q in load_questions() if q.split == "dev"]
    pipe = Pipeline.load(model_index, "auto")
    differ = []
    for q in questions:
        t = s2t.convert(q)
        own, crossed = pipe.ask(q), pipe.ask(t)
        if (own.answer, own.best_guess, own.citations) != (
            crossed.answer,
            crossed.best_guess,
            crossed.citations,
        ):
            differ.append((t, own.answer, crossed.answer))
    assert pipe.ask("天津港2023年的集裝箱航線有多少條？").answer == "145条"
    assert not differ, differ
