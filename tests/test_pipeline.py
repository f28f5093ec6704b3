"""The question answering pipeline over an offline index of the sample corpus, and `rag ask`.

The questions are written for this test from facts stated plainly in the corpus files (not
taken from eval/questions.jsonl).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from eval.metrics import exact_match
from index.store import IndexStore
from rag.cli import main
from rag.pipeline import Pipeline
from rag.question_rule import MAX_QUESTION_CHARS, QuestionError
from rag.reader.offline.reader import OfflineReader
from rag.types import Answer

# (question, accepted answers, source file prefix)
ANSWERABLE = [
    ("在上合峰会应急保障中，市应急管理局协调了多少个成员单位协同作战？", ["31个"], "001_"),
    ("市级机关工委推动多少家市级机关纪委全部配备书记？", ["72家"], "001_"),
    ("市引才中心利用微信公众号精准推送人才政策信息多少人次？", ["240 万人次"], "004_"),
    ("光复道街道党群服务中心主任是谁？", ["刘胜红"], "003_"),
    ("北辰区中医医院党办主任是谁？", ["王鑫"], "003_"),
    (
        "市商务局生活服务业处党支部赴王串场“修补巷”参加开街仪式是哪一天？",
        ["2024年6月3日"],
        "004_",
    ),
    ("王兰庄村成立支前委员会是在什么时候？", ["1948年12月"], "003_"),
]
# about other cities and topics: nothing in the corpus answers them
UNANSWERABLE = [
    "拉萨布达拉宫每天限流多少名游客？",
    "火星车祝融号在火星表面行驶了多少米？",
]
MORE = [
    "市级机关工委选树了多少个第三批市级机关党员服务示范窗口？",
    "市级机关工委举办了几期市级机关大讲堂？",
    "光复道街道党建办公室主任是谁？",
    "王晶介绍，目前已成功对接匹配项目清单多少项？",
    "郑玉清提出盘活村集体53.3公顷建设用地是什么时候？",
    "市委市级机关工委和市水务局组织党员干部参观“战洪——我们的战役我们的城”是哪一天？",
    "重庆洪崖洞景区的夜景灯光由哪家公司设计？",
    "天津古文化街有什么美称？",
    "哪家单位在推进商圈党建？",
    "社区网格员做了哪些工作？",
    "党员干部怎样开展志愿服务？",
]

ANSWER_KEYS = {"question", "answer", "confidence", "evidence", "citations", "passages"}
EVIDENCE_KEYS = {"text", "source", "start", "end"}
CITATION_KEYS = {"article_id", "title", "source", "start", "end", "publication", "issue", "author"}
PASSAGE_KEYS = {"chunk_id", "title", "source", "start", "end", "text", "score"}


@pytest.fixture(scope="session")
def index_dir(offline_index) -> Path:
    return offline_index


@pytest.fixture(scope="module")
def store(index_dir) -> IndexStore:
    return IndexStore.load(index_dir)


@pytest.fixture(scope="module")
def pipe(store) -> Pipeline:
    return Pipeline(store, OfflineReader.load())


@pytest.fixture(scope="module")
def answers(pipe) -> dict[str, Answer]:
    """Every question of this module asked once, sequentially."""
    qs = [q for q, _, _ in ANSWERABLE] + UNANSWERABLE + MORE
    return {q: pipe.ask(q) for q in qs}


def check_invariants(ans: Answer, store: IndexStore, top_k: int = 5) -> None:
    """What the contract promises about any Answer."""
    assert 0.0 <= ans.confidence <= 1.0
    assert 1 <= len(ans.passages) <= top_k
    for p in ans.passages:
        original = store.originals[p.chunk.source]
        assert 0 <= p.chunk.start < p.chunk.end <= len(original)
    if ans.answer is None:
        assert ans.evidence is None and ans.citations == ()
        return
    ev = ans.evidence
    assert ev is not None
    original = store.originals[ev.source]
    assert ans.answer in ev.text
    assert ev.text == original[ev.start : ev.end]
    assert ev.start <= ev.answer_start < ev.answer_end <= ev.end
    assert original[ev.answer_start : ev.answer_end] == ans.answer
    assert ans.best_guess == ans.answer
    assert ans.citations, "an answer must cite its article"
    c = ans.citations[0]
    art = store.articles[c.article_id]
    assert c.source == ev.source == art.source
    assert (c.start, c.end, c.title) == (art.start, art.end, art.title)
    assert c.start <= ev.start and ev.end <= c.end
    if art.publication:
        assert c.publication == art.publication
    if art.issue:
        assert c.issue == art.issue
    if art.author:
        assert c.author == art.author


def _comparable(ans: Answer) -> dict:
    d = ans.to_json()
    d.pop("timings_ms")
    return d


# ---------------------------------------------------------------- answers


@pytest.mark.parametrize(
    ("question", "gold", "source"),
    ANSWERABLE,
    ids=[
        "count-31",
        "count-72",
        "renci-240w",
        "person-liu",
        "person-wang",
        "date-2024",
        "date-1948",
    ],
)
def test_answers_plain_facts(answers, store, question, gold, source):
    ans = answers[question]
    assert ans.answer is not None, f"abstained (best guess {ans.best_guess!r})"
    assert exact_match(ans.answer, gold) == 1.0, ans.answer
    assert ans.citations[0].source.startswith(source)
    check_invariants(ans, store)


def test_invariants_hold_for_every_question(answers, store):
    for ans in answers.values():
        check_invariants(ans, store)


def test_answer_types_follow_the_question(answers):
    kinds = {q: answers[q].answer_type for q, _, _ in ANSWERABLE}
    assert kinds[ANSWERABLE[0][0]] == "number"
    assert kinds["光复道街道党群服务中心主任是谁？"] == "person"
    assert kinds["王兰庄村成立支前委员会是在什么时候？"] == "date"
    assert all(a.reader == "offline" for a in answers.values())


def test_citation_carries_publication_and_issue(answers, store):
    """The magazine articles have publication and issue; the citation passes them on."""
    ans = answers["光复道街道党群服务中心主任是谁？"]
    art = store.articles[ans.citations[0].article_id]
    assert art.publication and art.issue  # the magazine issue names itself
    c = ans.citations[0]
    assert (c.publication, c.issue) == (art.publication, art.issue)
    line = c.line()
    assert line.startswith(f"《{c.title}》") and art.publication in line
    assert line.endswith(f"{c.source}:{c.start}-{c.end}")


@pytest.mark.parametrize("question", UNANSWERABLE, ids=["lhasa", "mars"])
def test_abstains_when_the_corpus_does_not_say(answers, store, question):
    ans = answers[question]
    assert ans.answer is None, f"answered {ans.answer!r} ({ans.confidence:.2f})"
    assert ans.abstained
    assert ans.passages  # the closest passages are still shown
    assert ans.evidence is None and ans.citations == ()
    assert ans.best_guess is None or isinstance(ans.best_guess, str)
    check_invariants(ans, store)
    d = ans.to_json()
    assert d["answer"] is None and d["abstained"] is True and d["passages"]


def test_top_k_bounds_the_passages(pipe, store):
    q = ANSWERABLE[0][0]
    for k, expected in ((1, 1), (3, 3), (0, 1)):
        ans = pipe.ask(q, top_k=k)
        assert len(ans.passages) == expected
        check_invariants(ans, store, top_k=max(k, 1))
    assert len(pipe.ask(q, top_k=500).passages) <= 50


def test_timings_are_reported(answers):
    t = answers[ANSWERABLE[0][0]].timings_ms
    assert {"retrieve", "read", "total"} <= t.keys()
    assert t["total"] >= t["read"] >= 0


# ---------------------------------------------------------------- questions


@pytest.mark.parametrize("question", ["", "   ", "\n\t", None])
def test_empty_question_is_refused(pipe, question):
    with pytest.raises(QuestionError):
        pipe.ask(question)


def test_over_long_question_is_refused(pipe):
    with pytest.raises(QuestionError, match="too long"):
        pipe.ask("问" * (MAX_QUESTION_CHARS + 1))


def test_question_at_the_length_limit_is_accepted(pipe, store):
    q = ("光复道街道党群服务中心主任是谁？" * 100)[:MAX_QUESTION_CHARS]
    check_invariants(pipe.ask(q), store)


def test_question_whitespace_is_normalised(pipe):
    ans = pipe.ask("  光复道街道党群服务中心主任\n是谁？ ")
    assert ans.question == "光复道街道党群服务中心主任 是谁？"


# ---------------------------------------------------------------- JSON contract


def test_to_json_has_every_contract_field(answers):
    ans = answers["光复道街道党群服务中心主任是谁？"]
    d = json.loads(json.dumps(ans.to_json(), ensure_ascii=False))
    assert d.keys() >= ANSWER_KEYS
    assert d["question"] == "光复道街道党群服务中心主任是谁？"
    assert d["answer"] == ans.answer
    assert isinstance(d["confidence"], float) and 0 <= d["confidence"] <= 1
    assert d["evidence"].keys() >= EVIDENCE_KEYS
    assert d["citations"] and all(c.keys() >= CITATION_KEYS for c in d["citations"])
    assert d["passages"] and all(p.keys() >= PASSAGE_KEYS for p in d["passages"])
    assert d["abstained"] is False


# ---------------------------------------------------------------- concurrency


def test_concurrent_questions_match_sequential_answers(pipe, answers):
    qs = ([q for q, _, _ in ANSWERABLE] + UNANSWERABLE + MORE)[:20]
    assert len(qs) == 20
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(pipe.ask, qs))
    for q, got in zip(qs, parallel):
        assert _comparable(got) == _comparable(answers[q]), q


# ---------------------------------------------------------------- CLI


def test_cli_ask_json(index_dir, capsys, store):
    q = "北辰区中医医院党办主任是谁？"
    code = main(["ask", q, "--index-dir", str(index_dir), "--reader", "offline", "--json"])
    assert code == 0
    out = capsys.readouterr().out
    d = json.loads(out)  # one JSON value and nothing else
    assert isinstance(d, dict)
    assert d.keys() >= ANSWER_KEYS
    assert d["question"] == q and d["answer"] == "王鑫"
    assert d["evidence"].keys() >= EVIDENCE_KEYS
    ev = d["evidence"]
    assert store.originals[ev["source"]][ev["start"] : ev["end"]] == ev["text"]
    assert d["citations"][0].keys() >= CITATION_KEYS
    assert 1 <= len(d["passages"]) <= 5
    assert all(p.keys() >= PASSAGE_KEYS for p in d["passages"])


def test_cli_ask_k_limits_passages(index_dir, capsys):
    q = "北辰区中医医院党办主任是谁？"
    args = ["ask", q, "-k", "2", "--index-dir", str(index_dir), "--reader", "offline", "--json"]
    assert main(args) == 0
    assert len(json.loads(capsys.readouterr().out)["passages"]) == 2


def test_cli_ask_human_form(index_dir, capsys):
    q = "北辰区中医医院党办主任是谁？"
    assert main(["ask", q, "--index-dir", str(index_dir), "--reader", "offline"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("答案：王鑫")
    evidence = next(line for line in lines if line.startswith("依据："))
    assert "【王鑫】" in evidence
    source = next(line for line in lines if line.startswith("出处："))
    assert "《" in source and "003_c0fa0c3c18fd1ce0.txt:" in source


def test_cli_ask_human_form_when_abstaining(index_dir, capsys):
    q = UNANSWERABLE[0]
    assert main(["ask", q, "--index-dir", str(index_dir), "--reader", "offline"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("答案：语料中没有找到可靠的答案")
    assert "最接近的段落" in out and "《" in out
    assert "依据：" not in out and "出处：" not in out


@pytest.mark.parametrize("question", ["", "   "])
def test_cli_ask_empty_question_exits_2(index_dir, capsys, question):
    assert main(["ask", question, "--index-dir", str(index_dir), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "error:" in captured.err


def test_cli_ask_over_long_question_exits_2(index_dir, capsys):
    q = "问" * (MAX_QUESTION_CHARS + 1)
    assert main(["ask", q, "--index-dir", str(index_dir), "--json"]) == 2
    assert capsys.readouterr().out == ""


def test_cli_ask_missing_index_exits_3(tmp_path, capsys):
    code = main(["ask", "谁是站长？", "--index-dir", str(tmp_path / "nope"), "--json"])
    assert code == 3
    captured = capsys.readouterr()
    assert captured.out == "" and "error:" in captured.err


def test_a_low_confidence_answer_is_shown_as_a_guess(answers):
    """Answered under 0.5 confidence: `doubtful` in the JSON, and `rag ask` says "可能是" with
    the confidence and what it means; a confident answer reads plainly."""
    from dataclasses import replace

    from rag.cli.output import format_answer
    from rag.types import DOUBT_BELOW

    sure = next(a for a in answers.values() if a.answer is not None)
    sure = replace(sure, confidence=0.93)
    assert not sure.doubtful and sure.to_json()["doubtful"] is False
    assert "可能是" not in format_answer(sure)
    assert format_answer(sure).startswith(f"答案：{sure.answer}")
    guess = replace(sure, confidence=DOUBT_BELOW - 0.06)
    assert guess.doubtful and guess.to_json()["doubtful"] is True
    first = format_answer(guess).splitlines()[0]
    assert first.startswith(f"答案（不确定）：可能是 {sure.answer}") and "0.44" in first
    assert "more likely wrong than right" in first
    abstained = next(a for a in answers.values() if a.answer is None)
    assert not abstained.doubtful  # an abstention is not a guess: it shows the passages
    assert "最接近的段落" in format_answer(abstained)
