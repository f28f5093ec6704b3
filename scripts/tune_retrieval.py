"""Fusion settings on a tuning split: recall@k for a grid of dense weights and per-article limits.

    python scripts/tune_retrieval.py --index-dir var/index [--dataset eval/questions.jsonl]
        [--split dev] [--weights 0.2,5,8,12,16,20] [--per-article 2,3,5] [--method score]

How the defaults in ``index/hybrid.py`` (``DENSE_WEIGHTS``, ``per_article``) and the chunk
size in ``rag/ingest/chunking.py`` were chosen: on the sample corpus's ``dev`` split and on CMRC
2018 trial (``python -m eval.mrc ../shared/data/mrc/cmrc2018_trial.json --out DIR --split
dev``), with indexes built at several ``--chunk-size`` values. Refuses the ``test`` split:
it is for reporting only. Prints a table; changes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from eval.dataset import DEFAULT_DATASET, load_questions
from eval.retrieval import evaluate_retrieval
from index.hybrid import FusionSettings, HybridRetriever
from index.store import IndexStore

COLUMNS = ("recall@1", "recall@5", "recall@20", "mrr", "article_hit@1", "article_hit@5")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index-dir", type=Path, required=True)
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--weights", default="0.2,2,5,8,12,16,20")
    ap.add_argument("--per-article", default="2,3,5")
    ap.add_argument("--method", default="score", choices=("score", "rrf"))
    args = ap.parse_args(argv)
    if args.split == "test":
        ap.error("the test split is for reporting, never for tuning")
    store = IndexStore.load(args.index_dir)
    questions = [q for q in load_questions(args.dataset) if q.split == args.split]
    if not questions:
        ap.error(f"no {args.split!r} questions in {args.dataset}")
    vectors: dict[str, object] = {}  # each question embedded once for the whole grid
    embed = store.embedder.embed_query
    store.embedder.embed_query = lambda t, tokens=None: vectors.setdefault(t, embed(t, tokens))
    print(
        f"{args.index_dir} ({store.embedder.name}, {len(store.chunks)} chunks), "
        f"{len(questions)} {args.split} questions, {args.method} fusion"
    )
    print(f"{'weight':>8}{'per art.':>9}" + "".join(f"{c:>15}" for c in COLUMNS))
    for per in (int(x) for x in args.per_article.split(",")):
        for w in (float(x) for x in args.weights.split(",")):
            r = HybridRetriever(
                store, FusionSettings(method=args.method, dense_weight=w, per_article=per)
            )
            g = evaluate_retrieval(questions, r.search, store.originals)["groups"]["all"]
            print(f"{w:>8g}{per:>9}" + "".join(f"{g[c]:>15.3f}" for c in COLUMNS), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
