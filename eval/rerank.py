"""Does a reranking stage pay? The neural reader's own span scores as the reranker: it reads
the first N retrieved passages instead of 2, and the passage of its best span goes first.

For each N: exact match and F1 as served (abstentions count as misses) and answer-all (the
best guess), passage recall@1 after reranking (the best span's passage holds the gold
evidence, or for an MRC set the gold answer) against retrieval's own recall@1 and @N, and
the time a question takes.

    python -m eval.rerank --index-dir var/index --reads 2,5,10,20 --splits dev
    python -m eval.rerank --index-dir var/mrc/drcd-test/index \\
        --dataset var/mrc/drcd-test/questions.jsonl --limit 300
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.dataset import DEFAULT_DATASET, load_questions
from eval.metrics import exact_match, f1


def _holds(passage: Any, q: Any) -> bool:
    text = passage.chunk.text
    if q.evidence:
        return q.evidence[:20] in text or text in q.evidence
    return any(a in text for a in q.answers)


def measure(index_dir: Path, questions: Sequence[Any], read_n: int) -> dict[str, Any]:
    from rag.pipeline import Pipeline, PipelineSettings
    from rag.reader.neural.reader import NeuralReader

    reader = NeuralReader.load(read_n=read_n)
    pipe = Pipeline.over(index_dir, reader, PipelineSettings(read_k=max(8, read_n)))
    pipe.ask("预热：天津的人口有多少？")
    em = f = em_all = f_all = r1 = base1 = base_n = 0.0
    times = []
    for q in questions:
        t0 = time.perf_counter()
        passages = pipe.retriever.search(q.question, max(8, read_n))
        reading = pipe.read(q.question, passages[: max(8, read_n)])
        ans = pipe.compose(q.question, passages, reading, 5)
        times.append((time.perf_counter() - t0) * 1000)
        em += exact_match(ans.answer, q.answers)
        f += f1(ans.answer, q.answers)
        em_all += exact_match(ans.best_guess, q.answers)
        f_all += f1(ans.best_guess, q.answers)
        best = passages[reading.guesses[0].passage] if reading.guesses else passages[0]
        r1 += _holds(best, q)
        base1 += _holds(passages[0], q) if passages else 0
        base_n += any(_holds(p, q) for p in passages[:read_n])
    n = len(questions) or 1
    pct = lambda x: round(100 * x / n, 1)  # noqa: E731
    return {
        "read_n": read_n,
        "questions": len(questions),
        "em": pct(em),
        "f1": pct(f),
        "em_answer_all": pct(em_all),
        "f1_answer_all": pct(f_all),
        "recall@1_reranked": pct(r1),
        "recall@1_retrieval": pct(base1),
        f"recall@{read_n}_retrieval": pct(base_n),
        "ms_p50": round(statistics.median(times), 1),
        "ms_p95": round(sorted(times)[int(0.95 * (len(times) - 1))], 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.rerank", description=__doc__.split("\n")[0])
    ap.add_argument("--index-dir", type=Path, default=Path("var/index"))
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    ap.add_argument("--splits", default="", help="comma-separated splits (default: all)")
    ap.add_argument("--reads", default="2,5,10,20", help="passages read, each tried")
    ap.add_argument("--limit", type=int, default=0, help="first N answerable questions")
    ap.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = ap.parse_args(argv)
    qs = [q for q in load_questions(args.dataset) if q.answerable]
    if args.splits:
        qs = [q for q in qs if q.split in args.splits.split(",")]
    if args.limit:
        qs = qs[: args.limit]
    rows = []
    for n in (int(x) for x in args.reads.split(",")):
        row = measure(args.index_dir, qs, n)
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
