"""Follow-up questions (rag.conversation): the rules that complete them, the eval set of
conversations, the pipeline and HTTP contract (history in, understood_as out)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from eval.conversations import DEFAULT_CONVERSATIONS, load_conversations
from rag.conversation import Turn, rewrite, topic_of

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
PREV = [Turn("天津古文化街今年十一期间客流多少？", answer="120万人次", answer_type="number")]


@pytest.mark.parametrize(
    "question,understood,rule",
    [
        ("销售额呢？", "天津古文化街今年十一期间销售额多少？", "ellipsis"),  # another attribute
        ("去年呢？", "天津古文化街去年十一期间客流多少？", "ellipsis"),  # another time
        ("南开区呢？", "南开区今年十一期间客流多少？", "ellipsis"),  # another place
        ("它是哪个街道管的？", "天津古文化街是哪个街道管的？", "reference"),
        ("该街区有多少家商户？", "天津古文化街有多少家商户？", "reference"),
        ("其占地面积多大？", "天津古文化街的占地面积多大？", "reference"),
        ("同比增长多少？", "天津古文化街今年十一期间客流同比增长多少？", "topic"),
        ("什么时候开业的？", "天津古文化街什么时候开业的？", "topic"),
    ],
)
def test_a_follow_up_is_completed_from_the_previous_turn(question, understood, rule):
    got = rewrite(question, PREV)
    assert (got.question, got.rule) == (understood, rule)


def test_a_new_question_or_no_history_stays_as_it_is():
    assert not rewrite("天津港2023年的集装箱航线有多少条？", PREV).changed
    assert not rewrite("销售额呢？", []).changed
    assert not rewrite("“海河净网”行动由哪个部门牵头？", PREV).changed


def test_he_and_she_are_the_person_answered_or_named():
    who = [Turn("尖山街道党工委书记是谁？", answer="张晓明", answer_type="person")]
    assert rewrite("他还担任什么职务？", who).question == "张晓明还担任什么职务？"
    named = [Turn("刘美娇哪一年回乡担任村党支部委员？", answer="2018年")]
    assert rewrite("她后来当选了什么？", named).question.startswith("刘美娇")


def test_a_follow_up_of_a_place_answer_is_about_that_place():
    prev = [Turn("田炳昇是哪个村的党总支书记？", answer="红星村", answer_type="place")]
    assert rewrite("该村统计了多少户？", prev).question == "红星村统计了多少户？"


def test_the_topic_is_the_named_run_before_the_question_word():
    assert topic_of("天津古文化街今年十一期间客流多少？") == "天津古文化街"
    assert topic_of("古文化街被誉为什么？") == "古文化街"  # 被誉为 links, it does not name
    assert topic_of("武清区城铁商圈汇集了多少家店铺？") == "武清区城铁商圈"


def test_the_conversations_eval_set_is_sound():
    convs = load_conversations()
    followups = sum(len(c.turns) - 1 for c in convs)
    assert len(convs) >= 30 and followups >= 60
    assert {c.split for c in convs} == {"dev", "test"}
    assert all(2 <= len(c.turns) <= 4 for c in convs)
    texts = {p.name: p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt")}
    for line in DEFAULT_CONVERSATIONS.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        for t in d["turns"]:
            assert t["evidence"] in texts[d["source"]], (d["id"], t["evidence"][:30])
            assert all(a in t["evidence"] for a in t["answers"]), d["id"]
        assert d["turns"][0]["question"] == d["turns"][0]["standalone"]
        assert all(t["question"] != t["standalone"] for t in d["turns"][1:]), d["id"]


def test_follow_ups_answer_nearly_as_well_as_standalone_questions(model_index):
    """The issue's target: follow-up EM within 10 points of the same questions asked
    standalone (measured: 61.0 against 67.1 over 82 follow-ups; asked as typed with no
    history 52.4), and the completed question finds the conversation's article."""
    from eval.conversations import run_conversations
    from rag.pipeline import Pipeline

    pipe = Pipeline.load(model_index, "auto")
    metrics, rows = run_conversations(pipe, load_conversations())
    m = metrics["overall"]
    assert m["followups"] == len(rows) >= 60
    assert m["em"] >= m["standalone_em"] - 10, m
    assert m["em"] > m["typed_em"], m  # the history helps
    assert m["rewrite_article_hit"] >= 90, m
    for r in rows:
        if r["rule"] is not None:
            assert r["understood_as"] != r["question"]


# -- the service -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(tmp_path_factory, offline_index):
    from fastapi.testclient import TestClient

    from api.app import create_app

    index = tmp_path_factory.mktemp("conv") / "index"
    shutil.copytree(offline_index, index)
    with TestClient(create_app(index, reader="offline")) as c:
        yield c


def test_ask_with_history_answers_the_completed_question(client):
    first = client.post("/v1/ask", json={"question": "天津港2023年集装箱吞吐量突破了多少？"}).json()
    assert first["understood_as"] is None and first["answer"] == "2218万标准箱"
    history = [
        {
            "question": first["question"],
            "answer": first["answer"],
            "answer_type": first["answer_type"],
            "article_id": first["citations"][0]["article_id"],
        }
    ]
    follow = client.post("/v1/ask", json={"question": "航线呢？", "history": history}).json()
    assert follow["question"] == "航线呢？"
    assert follow["understood_as"] == "天津港2023年航线多少？"
    assert follow["answer"] == "145条"
    alone = client.post("/v1/ask", json={"question": "航线呢？"}).json()
    assert alone["understood_as"] is None and alone["answer"] != "145条"


def test_history_is_bounded_and_checked(client):
    turn = {"question": "古文化街被誉为什么？"}
    assert (
        client.post("/v1/ask", json={"question": "它在哪？", "history": [turn] * 9}).status_code
        == 422
    )
    long = {"question": "问" * 1001}
    assert (
        client.post("/v1/ask", json={"question": "它在哪？", "history": [long]}).status_code == 422
    )
    bad = {"question": "x", "answer": "a" * 501}
    assert (
        client.post("/v1/ask", json={"question": "它在哪？", "history": [bad]}).status_code == 422
    )
