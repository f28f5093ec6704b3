from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from eval.report import write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _group(n, answerable, em, f1, ev=96.0, cit=98.0, a_abs=4.0, u_abs=85.0):
    return {
        "n": n,
        "answerable": answerable,
        "unanswerable": n - answerable,
        "answered": answerable - 3,
        "em": em,
        "f1": f1,
        "evidence_hit": ev,
        "citation_accuracy": cit,
        "answerable_abstained": a_abs,
        "unanswerable_abstained": u_abs,
        "answered_em": em + 5,
    }


def _curve(shift: float) -> list[dict]:
    pts = []
    for i in range(11):
        t = i / 10
        cov = round(1.0 - 0.085 * i, 3)
        pts.append(
            {
                "threshold": t,
                "coverage": cov,
                "accuracy": round(min(1.0, 0.62 + 0.03 * i + shift), 3),
                "answerable_answered": round(min(1.0, cov + 0.05), 3),
                "unanswerable_abstained": round(0.1 * i, 3),
            }
        )
    return pts


def _calibration(shift: float, ece: float) -> dict:
    bins = []
    for i in range(10):
        lo, hi = i / 10, (i + 1) / 10
        n = [0, 3, 5, 9, 12, 18, 25, 30, 28, 20][i]
        conf = round(lo + 0.05, 3) if n else None
        acc = round(min(1.0, lo + 0.05 + shift), 3) if n else None
        bins.append({"lo": lo, "hi": hi, "n": n, "confidence": conf, "accuracy": acc})
    return {"bins": bins, "ece": ece}


@pytest.fixture
def metrics() -> dict:
    test_types = {
        "number": _group(50, 46, 78.3, 88.1),
        "date": _group(40, 37, 81.1, 90.2),
        "person": _group(30, 28, 64.3, 79.5),
        "other": _group(44, 40, 55.0, 71.4),
    }
    return {
        "dataset": "eval/questions.jsonl",
        "questions": 276,
        "reader": "offline",
        "embedder": "offline-lsa",
        "threshold": 0.21,
        "overall": _group(276, 253, 70.4, 82.0),
        "by_type": {
            t: _group(g["n"] + 20, g["answerable"] + 18, g["em"] - 1, g["f1"])
            for t, g in test_types.items()
        },
        "by_split": {
            "dev": _group(112, 102, 69.3, 83.4),
            # EM 71.2 ≥ 70 met, F1 80.3 < 85 missed, answerable abstained 4.6 ≤ 5 met
            "test": _group(164, 151, 71.2, 80.3, ev=96.1, cit=None, a_abs=4.6, u_abs=84.6),
        },
        "by_split_type": {"test": test_types, "dev": copy.deepcopy(test_types)},
        "curves": {"dev": _curve(0.02), "test": _curve(0.0)},
        "calibration": {"dev": _calibration(0.02, 0.031), "test": _calibration(-0.04, 0.043)},
        "latency_ms": {"p50": 9.1, "p95": 14.0, "mean": 10.2, "n": 276},
        "targets": {
            "em": 70,
            "f1": 85,
            "evidence_hit": 95,
            "citation_accuracy": 97,
            "unanswerable_abstained": 80,
            "answerable_abstained": 5,
        },
    }


def _target_row(md: str, name: str) -> str:
    return next(line for line in md.splitlines() if line.startswith(f"| {name} | "))


def test_full_report_writes_markdown_and_chart(tmp_path, metrics):
    import matplotlib.image

    out = tmp_path / "run"  # does not exist yet
    paths = write_report(json.loads(json.dumps(metrics)), out)  # as read back from metrics.json

    assert paths == [out / "report.md", out / "report.png"]
    assert all(p.is_file() for p in paths)
    assert sorted(p.name for p in out.iterdir()) == [
        "report.md",
        "report.png",
    ]  # no temp files left

    png = out / "report.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    assert png.stat().st_size > 10_000
    height, width = matplotlib.image.imread(png).shape[:2]
    assert (width, height) == (1800, 540)  # 15 × 4.5 in at 120 dpi

    md = paths[0].read_text(encoding="utf-8")
    assert md.startswith("# Evaluation report")
    assert "eval/questions.jsonl" in md and "276 questions" in md and "0.21" in md
    assert "offline-lsa" in md
    assert (
        "| group | n | EM | F1 | evidence hit | citation acc. | answerable abstained | unanswerable abstained |"
        in md
    )
    assert "| type | n | EM |" in md
    assert "By question type (all splits)" in md and "By question type (test split)" in md
    for t in ("number", "date", "person", "other"):
        assert f"| {t} | " in md

    assert "| metric | target | measured | met? |" in md
    assert _target_row(md, "EM") == "| EM | ≥ 70.0 | 71.2 | ✅ |"
    assert _target_row(md, "F1") == "| F1 | ≥ 85.0 | 80.3 | ❌ |"
    assert _target_row(md, "answerable abstained") == "| answerable abstained | ≤ 5.0 | 4.6 | ✅ |"
    assert _target_row(md, "citation acc.") == "| citation acc. | ≥ 97.0 | – | – |"  # null

    assert "![" in md and "](report.png)" in md
    assert "threshold (0.21) is marked" in md
    assert "p50 9.1 ms" in md and "p95 14.0 ms" in md


def test_upper_bound_target_missed(tmp_path, metrics):
    metrics["by_split"]["test"]["answerable_abstained"] = 7.9
    md = write_report(metrics, tmp_path)[0].read_text(encoding="utf-8")
    assert _target_row(md, "answerable abstained") == "| answerable abstained | ≤ 5.0 | 7.9 | ❌ |"


def test_overall_only_writes_markdown_without_chart(tmp_path):
    overall = _group(10, 8, 50.0, 60.0, ev=None, cit=None, a_abs=12.5, u_abs=None)
    paths = write_report({"overall": overall}, tmp_path)

    assert paths == [tmp_path / "report.md"]
    assert not (tmp_path / "report.png").exists()
    md = paths[0].read_text(encoding="utf-8")
    assert "| overall | 10 | 50.0 | 60.0 | – | – | 12.5 | – |" in md
    assert "report.png" not in md and "Test split vs targets" not in md and "Latency" not in md


def test_partial_sections_and_nulls_do_not_crash(tmp_path, metrics):
    # curves only for dev, no calibration, no per-split types, no threshold, null scores
    del metrics["by_split_type"], metrics["targets"], metrics["threshold"]
    metrics["curves"] = {"dev": metrics["curves"]["dev"], "test": []}
    metrics["calibration"] = {}
    metrics["by_type"]["date"]["em"] = None
    metrics["by_split"]["test"]["evidence_hit"] = None

    paths = write_report(metrics, tmp_path)

    assert [p.name for p in paths] == ["report.md", "report.png"]
    assert (tmp_path / "report.png").stat().st_size > 10_000
    md = paths[0].read_text(encoding="utf-8")
    assert "| date | 60 | – |" in md
    assert "| test | 164 | 71.2 | 80.3 | – | – |" in md
    assert "By question type (test split)" not in md
    assert "Test split vs targets" not in md


def test_rewrite_replaces_previous_report(tmp_path, metrics):
    write_report(metrics, tmp_path)
    metrics["overall"]["em"] = 12.3
    write_report(metrics, tmp_path)
    assert "| overall | 276 | 12.3 |" in (tmp_path / "report.md").read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "report.png"]


def test_compare_readers_table_and_chart(tmp_path):
    from eval.compare_readers import main, read_run, table

    def run(name: str, em: float) -> Path:
        split = {"n": 10, "em": em, "f1": em + 5, "answerable_abstained": 10.0}
        metrics = {
            "reader": name,
            "overall": split,
            "by_split": {"test": split},
            "latency_ms": {"p50": 12.5},
        }
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(metrics), encoding="utf-8")
        return path

    a, b = run("offline", 60.0), run("neural", 70.0)
    label, figures = read_run(f"sample, neural={b}:test")
    assert label == "sample, neural" and figures["em"] == 70.0 and figures["reader"] == "neural"
    text = table([read_run(f"off={a}"), (label, figures)])
    assert "| off | 10 | 60.0 | 65.0 | – | – | 10.0 | – | 12 |" in text
    chart = tmp_path / "readers.png"
    assert main([f"off={a}:test", f"neural={b}", "--chart", str(chart)]) == 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit):
        read_run(str(a))  # no label
