"""Answer metrics over an eval set: EM/F1, evidence hit, citation accuracy, abstention.

Scores are computed from Answer objects in their JSON form (what ``rag ask --json`` and
``POST /ask`` return), so the same code scores any run that produced them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from eval.dataset import Question
from eval.metrics import exact_match, f1, normalize
from eval.retrieval import gold_spans

TARGETS = {
    "em": 70,
    "f1": 85,
    "evidence_hit": 95,
    "citation_accuracy": 97,
    "unanswerable_abstained": 80,
    "answerable_abstained": 5,
}


def score(q: Question, pred: dict, original: str) -> dict:
    """One question's row: what was answered and whether it was right."""
    answer = pred.get("answer")
    guess = answer if answer is not None else pred.get("best_guess")
    row = {
        "id": q.id,
        "type": q.type,
        "split": q.split,
        "answerable": q.answerable,
        "answered": answer is not None,
        "confidence": float(pred.get("confidence") or 0.0),
        "guess_em": exact_match(guess, q.answers) if q.answerable and guess else 0.0,
    }
    if not q.answerable:
        return row
    row["em"] = exact_match(answer, q.answers) if answer is not None else 0.0
    row["f1"] = f1(answer, q.answers) if answer is not None else 0.0
    if answer is not None:
        ev = normalize((pred.get("evidence") or {}).get("text", ""))
        row["evidence_hit"] = float(any(normalize(a) and normalize(a) in ev for a in q.answers))
        row["citation_ok"] = float(_cites_gold(q, pred, original))
    return row


def _cites_gold(q: Question, pred: dict, original: str) -> bool:
    cites = pred.get("citations") or []
    if not cites:
        return False
    c = cites[0]
    if c.get("source") != q.source:
        return False
    spans = gold_spans(q, original)
    if spans:
        return any(c["start"] <= g.evidence[0] < c["end"] for g in spans)
    return normalize(c.get("title", "")) == normalize(q.article or "")


def _pct(values: Sequence[float]) -> float | None:
    return round(100.0 * float(np.mean(values)), 1) if len(values) else None


def group(rows: Sequence[dict]) -> dict:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    answered = [r for r in ans if r["answered"]]
    return {
        "n": len(rows),
        "answerable": len(ans),
        "unanswerable": len(una),
        "answered": sum(r["answered"] for r in rows),
        "em": _pct([r["em"] for r in ans]),
        "f1": _pct([r["f1"] for r in ans]),
        "evidence_hit": _pct([r["evidence_hit"] for r in answered]),
        "citation_accuracy": _pct([r["citation_ok"] for r in answered]),
        "answerable_abstained": _pct([float(not r["answered"]) for r in ans]),
        "unanswerable_abstained": _pct([float(not r["answered"]) for r in una]),
        "answered_em": _pct([r["em"] for r in answered]),
    }


def curve(rows: Sequence[dict]) -> list[dict]:
    """Coverage and accuracy if the service answered only above each threshold."""
    if not rows:
        return []
    conf = np.array([r["confidence"] for r in rows])
    right = np.array([r["answerable"] and r["guess_em"] > 0 for r in rows])
    answerable = np.array([r["answerable"] for r in rows])
    points = []
    for t in np.unique(np.concatenate([[0.0], np.round(conf, 3), [1.0]])):
        on = conf >= t
        points.append(
            {
                "threshold": round(float(t), 3),
                "coverage": round(float(on.mean()), 4),
                "accuracy": round(float(right[on].mean()), 4) if on.any() else None,
                "answerable_answered": round(float(on[answerable].mean()), 4)
                if answerable.any()
                else None,
                "unanswerable_abstained": round(float((~on)[~answerable].mean()), 4)
                if (~answerable).any()
                else None,
            }
        )
    return points


def calibration(rows: Sequence[dict], bins: int = 10) -> dict:
    """Reliability by confidence bin: is an answer given with confidence p right p of the time?"""
    if not rows:
        return {"bins": [], "ece": None}
    conf = np.array([r["confidence"] for r in rows])
    right = np.array([float(r["answerable"] and r["guess_em"] > 0) for r in rows])
    out, ece = [], 0.0
    edges = np.linspace(0, 1, bins + 1)
    for k in range(bins):
        lo, hi = edges[k], edges[k + 1]
        m = (conf >= lo) & ((conf < hi) if k < bins - 1 else (conf <= hi))
        if not m.any():
            continue
        c, a = float(conf[m].mean()), float(right[m].mean())
        ece += m.sum() / len(conf) * abs(c - a)
        out.append(
            {
                "lo": round(lo, 2),
                "hi": round(hi, 2),
                "n": int(m.sum()),
                "confidence": round(c, 4),
                "accuracy": round(a, 4),
            }
        )
    return {"bins": out, "ece": round(float(ece), 4)}


def summarise(rows: Sequence[dict]) -> dict:
    """Everything in metrics.json except run details: overall, by type, by split, curves."""
    by_type: dict[str, list[dict]] = defaultdict(list)
    by_split: dict[str, list[dict]] = defaultdict(list)
    by_split_type: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_type[r["type"]].append(r)
        by_split[r["split"]].append(r)
        by_split_type[r["split"]][r["type"]].append(r)
    return {
        "overall": group(rows),
        "by_type": {t: group(v) for t, v in sorted(by_type.items())},
        "by_split": {s: group(v) for s, v in sorted(by_split.items())},
        "by_split_type": {
            s: {t: group(v) for t, v in sorted(d.items())} for s, d in sorted(by_split_type.items())
        },
        "curves": {s: curve(v) for s, v in sorted(by_split.items())},
        "calibration": {s: calibration(v) for s, v in sorted(by_split.items())},
        "targets": TARGETS,
    }
