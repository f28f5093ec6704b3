"""Answer metrics (eval.answers) on hand-made rows, and `rag eval` end to end on a tiny set.

Every percentage below is worked out by hand in the comments next to it.
"""

from __future__ import annotations

import json
import os
import sys
import types
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from eval.answers import TARGETS, calibration, curve, group, score, summarise
from eval.dataset import Question, load_questions
from eval.metrics import exact_match
from rag.cli import main

# ------------------------------------------------------------------ a tiny source file

ORIGINAL = "标题甲\n全村共有党员120名。张三说，今年还要发展新党员。\n标题乙\n李四是站长。\n"
ART_A = (0, ORIGINAL.index("标题乙"))  # the article that holds the evidence
ART_B = (ORIGINAL.index("标题乙"), len(ORIGINAL))
EVIDENCE = "全村共有党员120名。"

Q = Question(
    id="q",
    question="全村有多少名党员？",
    answers=("120名",),
    source="a.txt",
    article="标题甲",
    evidence=EVIDENCE,
    type="number",
    split="dev",
)
Q_NONE = Question(
    id="u",
    question="村里的站长哪一年上任？",
    answers=(),
    source=None,
    article=None,
    evidence=None,
    type="unanswerable",
    split="dev",
)


def cite(source="a.txt", span=ART_A, title="标题甲") -> dict:
    return {"article_id": "x", "title": title, "source": source, "start": span[0], "end": span[1]}


def pred(answer, confidence, *, evidence=EVIDENCE, citation=None, best_guess=None) -> dict:
    """A prediction in the Answer JSON form."""
    answered = answer is not None
    return {
        "question": "…",
        "answer": answer,
        "confidence": confidence,
        "evidence": {"text": evidence, "source": "a.txt", "start": 0, "end": 0}
        if answered
        else None,
        "citations": [citation or cite()] if answered else [],
        "passages": [],
        "best_guess": answer if answered else best_guess,
    }


# the seven kinds of outcome, with (question, prediction)
CASES = {
    # right (a space inside is normalised away)
    "A": (replace(Q, id="A", type="number", split="dev"), pred("120 名", 0.95)),
    # wrong: a part of the answer (F1 2/3: tokens "120" vs "120","名")
    "B": (replace(Q, id="B", type="number", split="test"), pred("120", 0.85)),
    # right answer, but the evidence does not hold it
    "C": (
        replace(Q, id="C", type="person", split="test"),
        pred("120名", 0.75, evidence="李四是站长。"),
    ),
    # right answer, citation of the wrong source
    "D": (
        replace(Q, id="D", type="date", split="test"),
        pred("120名", 0.65, citation=cite(source="b.txt")),
    ),
    # answerable but abstained, with the right best guess
    "E": (replace(Q, id="E", type="place", split="dev"), pred(None, 0.25, best_guess="120名")),
    # unanswerable, abstained
    "F": (replace(Q_NONE, id="F", split="dev"), pred(None, 0.15, best_guess="李四")),
    # unanswerable, answered
    "G": (replace(Q_NONE, id="G", split="test"), pred("李四", 0.55)),
}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [score(q, p, ORIGINAL) for q, p in CASES.values()]


# ------------------------------------------------------------------ score


def test_score_right_answer(rows):
    r = rows[0]
    assert r == {
        "id": "A",
        "type": "number",
        "split": "dev",
        "answerable": True,
        "answered": True,
        "confidence": 0.95,
        "guess_em": 1.0,
        "em": 1.0,
        "f1": 1.0,
        "evidence_hit": 1.0,
        "citation_ok": 1.0,
    }


def test_score_partial_answer(rows):
    r = rows[1]
    assert (r["em"], r["guess_em"]) == (0.0, 0.0)
    assert r["f1"] == pytest.approx(2 / 3)
    assert (r["evidence_hit"], r["citation_ok"]) == (1.0, 1.0)


def test_score_wrong_answer():
    r = score(Q, pred("李四", 0.9), ORIGINAL)
    assert (r["em"], r["f1"], r["guess_em"]) == (0.0, 0.0, 0.0)
    assert r["evidence_hit"] == 1.0  # the quoted sentence does hold the gold answer
    assert r["citation_ok"] == 1.0


def test_score_evidence_without_the_answer(rows):
    r = rows[2]
    assert (r["em"], r["evidence_hit"], r["citation_ok"]) == (1.0, 0.0, 1.0)


def test_score_citation_of_the_wrong_source(rows):
    r = rows[3]
    assert (r["em"], r["evidence_hit"], r["citation_ok"]) == (1.0, 1.0, 0.0)


def test_score_citation_of_the_wrong_article_in_the_right_source():
    r = score(Q, pred("120名", 0.9, citation=cite(span=ART_B, title="标题乙")), ORIGINAL)
    assert r["citation_ok"] == 0.0


def test_score_citation_falls_back_to_the_title_when_the_evidence_is_not_found():
    q = replace(Q, evidence="这句话不在原文里。")
    right_title = cite(span=(0, 1), title=" 标题 甲 ")  # span irrelevant; title normalised
    assert score(q, pred("120名", 0.9, citation=right_title), ORIGINAL)["citation_ok"] == 1.0
    wrong_title = cite(span=ART_A, title="标题乙")
    assert score(q, pred("120名", 0.9, citation=wrong_title), ORIGINAL)["citation_ok"] == 0.0


def test_score_answer_without_citations():
    p = pred("120名", 0.9)
    p["citations"] = []
    assert score(Q, p, ORIGINAL)["citation_ok"] == 0.0


def test_score_abstained_answerable(rows):
    r = rows[4]
    assert r["answered"] is False
    assert (r["em"], r["f1"]) == (0.0, 0.0)
    assert r["guess_em"] == 1.0  # the best guess was right: counts for the coverage curve
    assert "evidence_hit" not in r and "citation_ok" not in r


def test_score_unanswerable(rows):
    abstained, answered = rows[5], rows[6]
    base = {"id", "type", "split", "answerable", "answered", "confidence", "guess_em"}
    assert set(abstained) == set(answered) == base
    assert abstained["answerable"] is answered["answerable"] is False
    assert (abstained["answered"], answered["answered"]) == (False, True)
    assert abstained["guess_em"] == answered["guess_em"] == 0.0


def test_score_missing_confidence_is_zero():
    p = pred(None, None)
    assert score(Q, p, ORIGINAL)["confidence"] == 0.0


# ------------------------------------------------------------------ group


def test_group_by_hand(rows):
    g = group(rows)
    assert g == {
        "n": 7,
        "answerable": 5,  # A–E
        "unanswerable": 2,  # F, G
        "answered": 5,  # A, B, C, D, G
        "em": 60.0,  # A, C, D of A–E: 3/5
        "f1": 73.3,  # (1 + 2/3 + 1 + 1 + 0) / 5 = 0.7333
        "evidence_hit": 75.0,  # of answered answerable A–D: A, B, D
        "citation_accuracy": 75.0,  # A, B, C of A–D
        "answerable_abstained": 20.0,  # E of A–E
        "unanswerable_abstained": 50.0,  # F of F, G
        "answered_em": 75.0,  # A, C, D of A–D
    }


def test_group_without_answerable_questions(rows):
    g = group(rows[5:])
    assert (g["n"], g["answerable"], g["unanswerable"], g["answered"]) == (2, 0, 2, 1)
    for key in ("em", "f1", "evidence_hit", "citation_accuracy", "answerable_abstained"):
        assert g[key] is None
    assert g["unanswerable_abstained"] == 50.0


def test_group_of_nothing():
    g = group([])
    assert g["n"] == 0 and g["em"] is None and g["unanswerable_abstained"] is None


# ------------------------------------------------------------------ curve


def test_curve_by_hand(rows):
    # confidences A .95 B .85 C .75 D .65 E .25 F .15 G .55; right guesses: A C D E
    pts = curve(rows)
    assert [p["threshold"] for p in pts] == [0.0, 0.15, 0.25, 0.55, 0.65, 0.75, 0.85, 0.95, 1.0]
    by_t = {p["threshold"]: p for p in pts}
    expected = {
        # threshold: coverage, accuracy, answerable answered, unanswerable abstained
        0.0: (1.0, 0.5714, 1.0, 0.0),  # all 7; 4 right
        0.15: (1.0, 0.5714, 1.0, 0.0),  # F's .15 is still on
        0.25: (0.8571, 0.6667, 1.0, 0.5),  # F off: 6 on, 4 right
        0.55: (0.7143, 0.6, 0.8, 0.5),  # E off: A B C D G, 3 right
        0.65: (0.5714, 0.75, 0.8, 1.0),  # G off: A B C D
        0.75: (0.4286, 0.6667, 0.6, 1.0),  # A B C
        0.85: (0.2857, 0.5, 0.4, 1.0),  # A B
        0.95: (0.1429, 1.0, 0.2, 1.0),  # A
        1.0: (0.0, None, 0.0, 1.0),  # nothing answered
    }
    for t, (cov, acc, aa, ua) in expected.items():
        p = by_t[t]
        assert p["coverage"] == cov, t
        assert p["accuracy"] == acc, t
        assert p["answerable_answered"] == aa, t
        assert p["unanswerable_abstained"] == ua, t


def test_curve_edge_cases(rows):
    assert curve([]) == []
    only_answerable = curve(rows[:5])
    assert all(p["unanswerable_abstained"] is None for p in only_answerable)
    only_unanswerable = curve(rows[5:])
    assert all(p["answerable_answered"] is None for p in only_unanswerable)
    assert all(p["accuracy"] in (0.0, None) for p in only_unanswerable)


# ------------------------------------------------------------------ calibration


def test_calibration_by_hand(rows):
    cal = calibration(rows)
    # one row per bin; accuracy is whether the guess was right
    assert cal["bins"] == [
        {"lo": 0.1, "hi": 0.2, "n": 1, "confidence": 0.15, "accuracy": 0.0},  # F
        {"lo": 0.2, "hi": 0.3, "n": 1, "confidence": 0.25, "accuracy": 1.0},  # E
        {"lo": 0.5, "hi": 0.6, "n": 1, "confidence": 0.55, "accuracy": 0.0},  # G
        {"lo": 0.6, "hi": 0.7, "n": 1, "confidence": 0.65, "accuracy": 1.0},  # D
        {"lo": 0.7, "hi": 0.8, "n": 1, "confidence": 0.75, "accuracy": 1.0},  # C
        {"lo": 0.8, "hi": 0.9, "n": 1, "confidence": 0.85, "accuracy": 0.0},  # B
        {"lo": 0.9, "hi": 1.0, "n": 1, "confidence": 0.95, "accuracy": 1.0},  # A
    ]
    # ECE = (.15 + .75 + .55 + .35 + .25 + .85 + .05) / 7 = 2.95 / 7
    assert cal["ece"] == 0.4214


def test_calibration_shares_bins_and_keeps_one_in_the_last():
    base = {"answerable": True, "guess_em": 1.0}
    rows = [
        {**base, "confidence": 0.42},
        {**base, "confidence": 0.48, "guess_em": 0.0},
        {**base, "confidence": 1.0},
    ]
    cal = calibration(rows, bins=5)
    assert cal["bins"] == [
        {"lo": 0.4, "hi": 0.6, "n": 2, "confidence": 0.45, "accuracy": 0.5},
        {"lo": 0.8, "hi": 1.0, "n": 1, "confidence": 1.0, "accuracy": 1.0},
    ]
    # (2 * |.45 - .5| + 0) / 3
    assert cal["ece"] == pytest.approx(0.0333, abs=1e-4)
    assert calibration([]) == {"bins": [], "ece": None}


# ------------------------------------------------------------------ summarise


def test_summarise_by_hand(rows):
    s = summarise(rows)
    assert set(s) >= {"overall", "by_type", "by_split", "by_split_type", "curves", "calibration"}
    assert s["overall"] == group(rows)
    assert s["targets"] == TARGETS
    assert list(s["by_type"]) == ["date", "number", "person", "place", "unanswerable"]
    assert list(s["by_split"]) == ["dev", "test"]

    dev = s["by_split"]["dev"]  # A, E, F
    assert (dev["n"], dev["answerable"], dev["unanswerable"], dev["answered"]) == (3, 2, 1, 1)
    assert dev["em"] == 50.0  # A of A, E
    assert dev["f1"] == 50.0
    assert dev["evidence_hit"] == dev["citation_accuracy"] == dev["answered_em"] == 100.0
    assert dev["answerable_abstained"] == 50.0  # E
    assert dev["unanswerable_abstained"] == 100.0  # F

    test = s["by_split"]["test"]  # B, C, D, G
    assert (test["n"], test["answerable"], test["unanswerable"], test["answered"]) == (4, 3, 1, 4)
    assert test["em"] == 66.7  # C, D of B, C, D
    assert test["f1"] == 88.9  # (2/3 + 1 + 1) / 3
    assert test["evidence_hit"] == 66.7  # B, D
    assert test["citation_accuracy"] == 66.7  # B, C
    assert test["answerable_abstained"] == 0.0
    assert test["unanswerable_abstained"] == 0.0  # G answered
    assert test["answered_em"] == 66.7

    number = s["by_type"]["number"]  # A, B
    assert (number["em"], number["f1"]) == (50.0, 83.3)  # (1 + 2/3) / 2
    assert number["unanswerable_abstained"] is None
    una = s["by_type"]["unanswerable"]  # F, G
    assert una["em"] is None and una["unanswerable_abstained"] == 50.0

    assert set(s["by_split_type"]) == {"dev", "test"}
    assert set(s["by_split_type"]["dev"]) == {"number", "place", "unanswerable"}
    assert set(s["by_split_type"]["test"]) == {"number", "person", "date", "unanswerable"}
    assert s["by_split_type"]["test"]["person"]["evidence_hit"] == 0.0  # C

    dev_rows = [r for r in rows if r["split"] == "dev"]
    assert s["curves"]["dev"] == curve(dev_rows)
    assert s["calibration"]["dev"] == calibration(dev_rows)
    json.dumps(s)  # what metrics.json will hold


# ------------------------------------------------------------------ run_answers / rag eval

# answers, article titles and evidence are exact substrings of the corpus files
DATASET = [
    {
        "id": "t-1",
        "question": "在上合峰会应急保障中，市应急管理局协调了多少个成员单位协同作战？",
        "answers": ["31个"],
        "source": "001_356c5885c2fc8ee3.txt",
        "article": "以高质量机关党建促进天津高质量发展",
        "evidence": "市应急管理局在上合峰会应急保障中,协调31个成员单位协同作战,党员先锋队“白+黑”连续奋战,全时在线守护盛会安全。",
        "type": "number",
        "split": "dev",
    },
    {
        "id": "t-2",
        "question": "市级机关工委推动多少家市级机关纪委全部配备书记？",
        "answers": ["72家"],
        "source": "001_356c5885c2fc8ee3.txt",
        "article": "以高质量机关党建促进天津高质量发展",
        "evidence": "推动72家市级机关纪委全部配备书记",
        "type": "number",
        "split": "test",
    },
    {
        "id": "t-3",
        "question": "光复道街道党群服务中心主任是谁？",
        "answers": ["刘胜红"],
        "source": "003_c0fa0c3c18fd1ce0.txt",
        "article": "“破圈”解题 治理“出彩”",
        "evidence": "光复道街道党群服务中心主任刘胜红介绍。",
        "type": "person",
        "split": "test",
    },
    {
        "id": "t-4",
        "question": "北辰区中医医院党办主任是谁？",
        "answers": ["王鑫"],
        "source": "003_c0fa0c3c18fd1ce0.txt",
        "article": "知识产权作支撑 保障新质生产力发展",
        "evidence": "北辰区中医医院党办主任王鑫说。",
        "type": "person",
        "split": "dev",
    },
    {
        "id": "t-5",
        "question": "王兰庄村成立支前委员会是在什么时候？",
        "answers": ["1948年12月"],
        "source": "003_c0fa0c3c18fd1ce0.txt",
        "article": "「一二·九」抗日救亡运动在天津",
        "evidence": "1948年12月,王兰庄村成立支前委员会,在党和政府领导下发动人民群众积极投入支前工作,为解放天津作出贡献。",
        "type": "date",
        "split": "test",
    },
    {
        "id": "t-6",
        "question": "市商务局生活服务业处党支部赴王串场“修补巷”参加开街仪式是哪一天？",
        "answers": ["2024年6月3日"],
        "source": "004_b011e38ac73d4401.txt",
        "article": "以生活服务之为助力打造美好生活",
        "evidence": "2024年6月3日，市商务局生活服务业处党支部联合河北区商务局赴王串场“修补巷”参加开街仪式",
        "type": "date",
        "split": "dev",
    },
    {
        "id": "t-7",
        "question": "拉萨布达拉宫每天限流多少名游客？",
        "answers": [],
        "source": None,
        "article": None,
        "evidence": None,
        "type": "unanswerable",
        "split": "test",
    },
]
ANSWER_FIELDS = {
    "question",
    "answer",
    "confidence",
    "abstained",
    "doubtful",
    "evidence",
    "citations",
    "passages",
    "best_guess",
    "answer_type",
    "reader",
    "timings_ms",
}


def _raised_in_report(e: BaseException) -> bool:
    """Did ``e`` come from eval/report.py (missing, or failing while it is being written)?"""
    if isinstance(e, ImportError) and "report" in str(e):
        return True
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(os.path.join("eval", "report.py")):
            return True
        tb = tb.tb_next
    return False


@contextmanager
def _report_stubbed():
    stub = types.ModuleType("eval.report")
    stub.write_report = lambda metrics, out: []
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "eval.report", stub)
        yield


def _run_tolerating_report(fn):
    """Run ``fn``; if only the report writer fails, run it again without the report."""
    try:
        return fn(), None
    except Exception as e:
        if not _raised_in_report(e):
            raise
        with _report_stubbed():
            return fn(), e


@pytest.fixture(scope="session")
def index_dir(offline_index) -> Path:
    return offline_index


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dataset") / "tiny.jsonl"
    path.write_text(
        "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in DATASET), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory, index_dir, dataset):
    from eval.runner import run_answers

    out = tmp_path_factory.mktemp("eval") / "out"
    metrics, report_error = _run_tolerating_report(
        lambda: run_answers(dataset, index_dir, out, reader="offline", progress=False)
    )
    return out, metrics, report_error


def test_tiny_dataset_is_in_the_eval_format(dataset, corpus_dir):
    qs = load_questions(dataset)
    assert [q.id for q in qs] == [d["id"] for d in DATASET]
    for q in qs:
        if not q.answerable:
            assert q.source is q.article is q.evidence is None
            continue
        original = (corpus_dir / q.source).read_text(encoding="utf-8")
        assert q.article in original and q.evidence in original
        assert all(a in q.evidence for a in q.answers)


def test_predictions_one_line_per_question(run):
    out, _, _ = run
    lines = (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(DATASET)
    preds = [json.loads(line) for line in lines]
    assert [p["id"] for p in preds] == [d["id"] for d in DATASET]
    for p, d in zip(preds, DATASET):
        assert p.keys() >= ANSWER_FIELDS
        assert p["question"] == d["question"]
        assert p["reader"] == "offline"
        assert 0 <= p["confidence"] <= 1
        if p["answer"] is not None:
            assert p["answer"] in p["evidence"]["text"]


def test_metrics_json_holds_every_section(run):
    out, metrics, _ = run
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert saved == metrics
    for key in ("overall", "by_type", "by_split", "curves", "calibration", "latency_ms"):
        assert key in saved, key
    assert saved["questions"] == 7 and saved["reader"] == "offline"
    assert saved["embedder"] == "offline-lsa"
    o = saved["overall"]
    assert (o["n"], o["answerable"], o["unanswerable"]) == (7, 6, 1)
    assert set(saved["by_type"]) == {"number", "person", "date", "unanswerable"}
    assert set(saved["by_split"]) == {"dev", "test"}
    assert saved["by_split"]["dev"]["n"] == 3 and saved["by_split"]["test"]["n"] == 4
    assert set(saved["curves"]) == set(saved["calibration"]) == {"dev", "test"}
    lat = saved["latency_ms"]
    assert lat["n"] == 7 and 0 < lat["p50"] <= lat["p95"]


def test_metrics_agree_with_the_predictions(run, index_dir, dataset):
    """Re-score predictions.jsonl by hand: the figures in metrics.json must follow."""
    from index.store import IndexStore

    out, metrics, _ = run
    lines = (out / "predictions.jsonl").read_text("utf-8").splitlines()
    preds = {p["id"]: p for p in map(json.loads, lines)}
    answerable = [d for d in DATASET if d["answers"]]
    em = [exact_match(preds[d["id"]]["answer"], d["answers"]) for d in answerable]
    assert metrics["overall"]["em"] == round(100 * sum(em) / len(em), 1)
    unanswered = [preds[d["id"]]["answer"] is None for d in DATASET if not d["answers"]]
    assert metrics["overall"]["unanswerable_abstained"] == 100.0 * sum(unanswered)
    originals = IndexStore.load(index_dir).originals
    rows = [
        score(q, preds[q.id], originals.get(q.source or "", "")) for q in load_questions(dataset)
    ]
    s = summarise(rows)
    for key in ("overall", "by_type", "by_split", "curves", "calibration"):
        assert metrics[key] == s[key], key


def test_report_is_written(run):
    out, _, report_error = run
    if report_error is not None:
        pytest.skip(f"eval/report.py could not write the report: {report_error!r}")
    assert (out / "report.md").is_file()
    assert (out / "report.md").read_text(encoding="utf-8").strip()


def test_cli_eval_exits_0(index_dir, dataset, tmp_path, capsys):
    out = tmp_path / "cli-out"
    argv = ["eval", "--dataset", str(dataset), "--index-dir", str(index_dir), "--out", str(out)]
    code, report_error = _run_tolerating_report(lambda: main([*argv, "--reader", "offline"]))
    assert code == 0
    stdout = capsys.readouterr().out
    assert "EM" in stdout and "reader offline" in stdout
    assert len((out / "predictions.jsonl").read_text("utf-8").splitlines()) == len(DATASET)
    assert json.loads((out / "metrics.json").read_text("utf-8"))["questions"] == len(DATASET)
    if report_error is None:
        assert (out / "report.md").is_file()


def test_cli_eval_json_prints_the_metrics(index_dir, dataset, tmp_path, capsys):
    argv = ["eval", "--dataset", str(dataset), "--index-dir", str(index_dir), "--json"]
    code, _ = _run_tolerating_report(lambda: main([*argv, "--reader", "offline"]))
    assert code == 0
    metrics = json.loads(capsys.readouterr().out)  # one JSON value, nothing else
    assert metrics["questions"] == len(DATASET) and "overall" in metrics
