"""Every line of the eval set is valid against the sample corpus."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

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


@pytest.mark.parametrize("name", ["cmrc2018_trial", "xquad_zh", "chinesesquad_v2_dev_zh"])
def test_reading_comprehension_data_as_an_exact_eval_set(tmp_path, name):
    """`python -m eval.mrc`: every answer, evidence and title is exact in its file, and the
    eval set loads; SQuAD 2.0's impossible questions become unanswerable ones."""
    from eval.mrc import mrc_eval_set

    src = Path(__file__).resolve().parents[2] / "shared" / "data" / "mrc" / f"{name}.json"
    rows = mrc_eval_set(src, tmp_path, split="dev", max_articles=25)
    questions = load_questions(tmp_path / "questions.jsonl")
    assert len(questions) == len(rows) > 50 and len({q.id for q in questions}) == len(rows)
    files = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "corpus").iterdir()}
    for q, row in zip(questions, rows):
        assert q.question.strip()
        if not q.answerable:
            assert q.type == "unanswerable" and q.source is None
            continue
        text = files[q.source]
        assert q.evidence in text and q.article in text
        assert all(a in q.evidence for a in q.answers)
        start = row["answer_offset"]
        assert text[start : start + len(q.answers[0])] == q.answers[0]
    if name.startswith("chinesesquad"):
        assert any(not q.answerable for q in questions)
