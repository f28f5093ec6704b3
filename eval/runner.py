"""``rag eval``: run the eval set against a built index and write the report."""

from __future__ import annotations

import json
from pathlib import Path

from eval.dataset import DEFAULT_DATASET, load_questions
from eval.retrieval import KS, evaluate_retrieval


def load_originals(store) -> dict[str, str]:
    """The original text of each source, read from the corpus folder recorded in the index."""
    from rag.loaders import load_file

    root = Path(store.manifest.get("settings", {}).get("corpus_dir", ""))
    out = {}
    for src in store.manifest.get("sources", {}):
        try:
            out[src] = load_file(root / src, root).text
        except Exception:  # noqa: BLE001 - a source that moved cannot be scored; say so in the table
            out[src] = ""
    return out


def run_retrieval(
    dataset: str | Path | None, index_dir: Path, out: Path | None, *, progress: bool = True
) -> dict:
    from tqdm import tqdm

    from index.hybrid import HybridRetriever
    from index.store import IndexStore

    questions = load_questions(dataset or DEFAULT_DATASET)
    store = IndexStore.load(index_dir)
    retriever = HybridRetriever(store)
    bar = tqdm(
        total=sum(1 for q in questions if q.answerable), desc="retrieval eval", disable=not progress
    )
    result = evaluate_retrieval(
        questions, lambda q, k: retriever.search(q, k), load_originals(store), progress=bar.update
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
