"""eval.identity: what it records of an index and an answer, and what compare reports."""

from __future__ import annotations

import copy
import json

from eval.identity import compare, exact_answer, index_files


def _snapshot() -> dict:
    answer = {"id": "q1", "answer": "145条", "confidence": "0.9731", "passages": []}
    return {
        "runs": {
            "auto/offline": {
                "files": {"bm25.npz": "aa", "manifest.json": "bb"},
                "answers": [answer],
            }
        }
    }


def test_equal_snapshots_have_no_differences():
    assert compare(_snapshot(), _snapshot()) == []


def test_a_changed_file_answer_or_run_is_reported():
    a, b = _snapshot(), _snapshot()
    b["runs"]["auto/offline"]["files"]["bm25.npz"] = "cc"
    b["runs"]["auto/offline"]["answers"][0]["confidence"] = "0.9732"
    c = copy.deepcopy(a)
    c["runs"]["offline/offline"] = c["runs"]["auto/offline"]
    assert compare(a, b) == [
        "auto/offline: index file bm25.npz differs",
        "auto/offline: answer to q1 differs in confidence",
    ]
    assert compare(a, c) == ["offline/offline: only in one snapshot"]


def test_the_build_time_is_the_one_field_left_out(tmp_path):
    live = tmp_path / "v-1"
    live.mkdir()
    (tmp_path / "CURRENT").write_text("v-1", encoding="utf-8")
    (live / "bm25.npz").write_bytes(b"x")
    (live / "manifest.json").write_text(json.dumps({"build_time": "t1", "chunk_count": 3}))
    first = index_files(tmp_path)
    (live / "manifest.json").write_text(json.dumps({"build_time": "t2", "chunk_count": 3}))
    assert index_files(tmp_path) == first
    (live / "manifest.json").write_text(json.dumps({"build_time": "t2", "chunk_count": 4}))
    assert index_files(tmp_path) != first


def test_an_answer_keeps_exact_floats_and_drops_what_differs_by_build(offline_index):
    from rag.pipeline import Pipeline

    ans = Pipeline.load(offline_index, reader="offline").ask("天津港2023年的集装箱航线有多少条？")
    d = exact_answer(ans)
    assert "timings_ms" not in d and "index_version" not in d
    assert float(d["confidence"]) == ans.confidence
    assert [float(p["score"]) for p in d["passages"]] == [p.score for p in ans.passages]
