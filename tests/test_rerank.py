"""eval.rerank: the reranking measurement runs and reports what the README table shows."""

from __future__ import annotations

from eval.dataset import load_questions
from eval.rerank import measure


def test_rerank_measure_reports_quality_recall_and_time(model_index):
    qs = [q for q in load_questions() if q.split == "dev" and q.answerable][:6]
    row = measure(model_index, qs, 2)
    assert row["questions"] == 6 and row["read_n"] == 2
    for key in ("em", "f1", "em_answer_all", "recall@1_reranked", "recall@1_retrieval"):
        assert 0 <= row[key] <= 100
    assert row["em_answer_all"] >= row["em"]  # abstentions only lose
    assert row["ms_p50"] > 0 and row["ms_p95"] >= row["ms_p50"]
