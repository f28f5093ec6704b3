"""``rag eval``: run the eval set against a built index and write the report."""

from __future__ import annotations

import json
from pathlib import Path

from eval.answers import score, summarise
from eval.dataset import DEFAULT_DATASET, load_questions
from eval.retrieval import KS, evaluate_retrieval


def run_retrieval(
    dataset: str | Path | None, index_dir: Path, out: Path | None, *, progress: bool = True
) -> dict:
    from tqdm import tqdm

    from rag.pipeline import Pipeline
    from rag.reader.offline import OfflineReader

    questions = load_questions(dataset or DEFAULT_DATASET)
    pipe = Pipeline.over(index_dir, OfflineReader.load())  # Milvus too, with RAG_MILVUS_URI
    store, retriever = pipe.store, pipe.retriever
    bar = tqdm(
        total=sum(1 for q in questions if q.answerable), desc="retrieval eval", disable=not progress
    )
    result = evaluate_retrieval(
        questions, lambda q, k: retriever.search(q, k), store.originals, progress=bar.update
    )
    bar.close()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "retrieval.json").write_text(
            json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    return result


def format_retrieval_table(result: dict) -> str:
    cols = [f"recall@{k}" for k in KS] + ["mrr"] + [f"article_hit@{k}" for k in (1, 5)]
    lines = [f"{'group':<34}{'n':>5}" + "".join(f"{c:>15}" for c in cols)]
    for name, g in result["groups"].items():
        if name.count("/") and "paraphrased" not in name:
            continue
        lines.append(f"{name:<34}{g['n']:>5}" + "".join(f"{g[c]:>15.3f}" for c in cols))
    return "\n".join(lines)


def run_answers(
    dataset: str | Path | None,
    index_dir: Path,
    out: Path | None,
    *,
    reader: str = "auto",
    progress: bool = True,
) -> dict:
    """Ask every question through the pipeline; write predictions, metrics and the report."""
    import numpy as np
    from tqdm import tqdm

    from rag.pipeline import Pipeline

    questions = load_questions(dataset or DEFAULT_DATASET)
    pipe = Pipeline.load(index_dir, reader=reader)
    originals = pipe.store.originals
    rows, preds, latencies = [], [], []
    for q in tqdm(questions, desc="eval", unit="q", disable=not progress):
        ans = pipe.ask(q.question).to_json()
        latencies.append(ans["timings_ms"]["total"])
        preds.append({"id": q.id, **ans})
        rows.append(score(q, ans, originals.get(q.source or "", "")))
    lat = np.array(latencies) if latencies else np.zeros(1)
    metrics = {
        "dataset": str(dataset or DEFAULT_DATASET),
        "questions": len(questions),
        "reader": pipe.reader.name,
        "embedder": pipe.store.embedder.name,
        "threshold": getattr(pipe.reader, "threshold", None),
        "index_version": pipe.store.version,
        "index_dir": str(index_dir),
        **summarise(rows),
        "latency_ms": {
            "p50": round(float(np.percentile(lat, 50)), 2),
            "p95": round(float(np.percentile(lat, 95)), 2),
            "mean": round(float(lat.mean()), 2),
            "n": len(latencies),
        },
    }
    if out is not None:
        from eval.report import atomic_write, write_report

        out.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in preds)
        atomic_write(out / "predictions.jsonl", "w", lambda f: f.write(lines))
        text = json.dumps(metrics, ensure_ascii=False, indent=2)
        atomic_write(out / "metrics.json", "w", lambda f: f.write(text))
        write_report(metrics, out)
    return metrics


def format_answer_table(metrics: dict) -> str:
    cols = [
        ("em", "EM"),
        ("f1", "F1"),
        ("evidence_hit", "evid.hit"),
        ("citation_accuracy", "cite.acc"),
        ("answerable_abstained", "ans.abst"),
        ("unanswerable_abstained", "unans.abst"),
    ]
    lines = [f"{'group':<22}{'n':>5}" + "".join(f"{c[1]:>12}" for c in cols)]
    groups = [("all", metrics["overall"])]
    groups += [(f"split {k}", v) for k, v in metrics.get("by_split", {}).items()]
    groups += [
        (f"test/{k}", v) for k, v in metrics.get("by_split_type", {}).get("test", {}).items()
    ]
    for name, g in groups:
        cells = "".join(f"{'–' if g[k] is None else f'{g[k]:.1f}':>12}" for k, _ in cols)
        lines.append(f"{name:<22}{g['n']:>5}" + cells)
    return "\n".join(lines)
