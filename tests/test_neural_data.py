"""The neural reader's training data: conversion, splits, negatives, window labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.reader_data import (
    DEFAULT_DATA_DIR,
    QAExample,
    load_squad,
    negatives,
    split,
    title_bucket,
)
from rag.reader.neural.spans import best_span, null_score

pytestmark = pytest.mark.skipif(not DEFAULT_DATA_DIR.is_dir(), reason="no ../shared/data/mrc")


@pytest.fixture(scope="module")
def drcd_dev():
    return load_squad(DEFAULT_DATA_DIR / "DRCD_dev.json")


def test_traditional_is_converted_and_every_answer_sits_at_its_offset(drcd_dev):
    examples, report = drcd_dev
    assert report.kept == len(examples) > 3000
    assert "臺" not in "".join(e.context for e in examples[:200])  # t2s: 臺 -> 台
    for e in examples:
        assert e.context[e.answer_start : e.answer_start + len(e.answer_text)] == e.answer_text


def test_an_answer_not_at_its_offset_is_dropped_and_counted(tmp_path):
    data = {
        "data": [
            {
                "title": "t",
                "paragraphs": [
                    {
                        "context": "张三来自北京。",
                        "qas": [
                            {
                                "id": "ok",
                                "question": "谁？",
                                "answers": [{"text": "张三", "answer_start": 0}],
                            },
                            {
                                "id": "bad",
                                "question": "哪？",
                                "answers": [{"text": "北京", "answer_start": 0}],
                            },
                            {
                                "id": "none",
                                "question": "何时？",
                                "is_impossible": True,
                                "answers": [],
                            },
                        ],
                    }
                ],
            }
        ]
    }
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    examples, report = load_squad(path)
    assert [e.id for e in examples] == ["ok", "none"]
    assert not examples[1].answerable
    assert sum(report.dropped.values()) == 1


def test_splits_never_share_an_article_and_the_heldout_is_drcd_test(drcd_dev):
    examples, _ = drcd_dev
    test_like = [QAExample("x", "q", "c", None, None, "DRCD_test.json", "T")]
    parts = split([*examples, *test_like])
    assert parts["heldout"] == test_like
    tune_titles = {e.title for e in parts["tune"]}
    assert tune_titles and not tune_titles & {e.title for e in parts["train"]}
    assert all(title_bucket(t) == 0 for t in tune_titles)


def test_negatives_never_hold_their_answer(drcd_dev):
    examples, _ = drcd_dev
    source = examples[:600]
    answers = {e.id: e.answer_text for e in source}
    negs = negatives(source, share=0.5, seed=1)
    assert len(negs) > 100
    kinds = {n.id.split("#neg-")[1] for n in negs}
    assert kinds == {"other-article", "answer-cut"}
    for n in negs:
        assert not n.answerable
        assert answers[n.id.split("#")[0]] not in n.context
    assert negatives(source, share=0.5, seed=1) == negs  # seeded


def test_window_labels_point_at_the_answer(drcd_dev, installed_model):
    from transformers import AutoTokenizer

    from eval.train_neural_reader import TrainSettings, encode, windows_of

    tok = AutoTokenizer.from_pretrained(str(installed_model))
    s = TrainSettings(max_length=96, stride=32)  # short windows: many answers fall outside some
    seen_outside = 0
    for e in drcd_dev[0][:80]:
        ws = windows_of(tok, e, s)
        enc = encode(tok, e, s)
        assert len(enc["input_ids"]) == len(ws)
        assert any(w.start for w in ws)
        for w, offs in zip(ws, enc["offset_mapping"]):
            if not w.start:
                seen_outside += 1
                continue
            got = e.context[offs[w.start][0] : offs[w.end][1]]
            assert e.answer_text in got and len(got) <= len(e.answer_text) + 2
    assert seen_outside > 0


def test_best_span_respects_order_length_and_context():
    offsets = [None, (0, 2), (2, 4), (4, 6), None]
    start = np.array([9.0, 1.0, 0.0, 3.0, 9.0])
    end = np.array([9.0, 1.5, 0.0, 0.0, 9.0])
    # the start at token 3 has no end after it but token 3 itself (score 3 + 0)
    assert best_span(start, end, offsets) == (4, 6, 3.0)
    assert best_span(start, end, offsets, max_tokens=1) == (4, 6, 3.0)
    assert best_span(start, end, [None] * 5) is None
    assert null_score(start, end) == 18.0
