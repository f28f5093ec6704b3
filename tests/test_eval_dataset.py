"""Every line of the eval set is valid against the sample corpus."""

from __future__ import annotations

from collections import Counter

import pytest

from eval.dataset import TYPES, load_questions

QUESTIONS = load_questions()


def test_size_coverage_and_splits(corpus_dir):
    assert len(QUESTIONS) >= 150
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)
    types = Counter(q.type for q in QUESTIONS)
    assert set(types) == set(TYPES) and types["unanswerable"] >= 15
    assert {q.source for q in QUESTIONS if q.source} == {p.name for p in corpus_dir.iterdir()}
    assert {q.split for q in QUESTIONS} == {"dev", "test"}
    answerable = [q for q in QUESTIONS if q.answerable]
    assert sum(bool(q.extra.get("paraphrased")) for q in answerable) >= len(answerable) / 3
    for split in ("dev", "test"):
        assert {q.type for q in QUESTIONS if q.split == split} == set(TYPES)


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_line_is_exact_against_its_source(q, corpus_dir):
    assert q.question.strip()
    if q.type == "unanswerable":
        assert q.answers == () and q.source is None and q.article is None and q.evidence is None
        return
    text = (corpus_dir / q.source).read_text(encoding="utf-8")
    assert q.evidence in text
    assert q.article in text
    for a in q.answers:
        assert a and a in q.evidence
