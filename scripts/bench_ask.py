"""`rag ask` latency in-process: every eval question through the pipeline, timed.

    python scripts/bench_ask.py [--index-dir var/index] [--reader offline] [--rounds 3]
                                [--chart docs/ask_latency.png]

The first round is "cold" (the reader has not seen any sentence yet; its candidate cache is
empty); later rounds are "warm". Prints p50/p95/p99/mean per round and per stage
(retrieve, read), and writes a histogram when ``--chart`` is given. A benchmark, not a
test: it prints numbers and never fails on a slow machine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from eval.dataset import DEFAULT_DATASET, load_questions
from rag.pipeline import Pipeline


def _row(name: str, values: list[float]) -> str:
    a = np.array(values)
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return f"{name:<18}{len(a):>6}{p50:>10.2f}{p95:>10.2f}{p99:>10.2f}{a.mean():>10.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index-dir", type=Path, default=Path("var/index"))
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    ap.add_argument("--reader", default="offline")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--chart", type=Path, help="write a latency histogram PNG here")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    pipe = Pipeline.load(args.index_dir, reader=args.reader)
    load_s = time.perf_counter() - t0
    questions = [q.question for q in load_questions(args.dataset)]
    pipe.ask(questions[0])  # jieba's dictionary and the like load once per process
    rounds: list[dict[str, list[float]]] = []
    for _ in range(args.rounds):
        stages: dict[str, list[float]] = {"total": [], "retrieve": [], "read": []}
        for q in questions:
            t = time.perf_counter()
            ans = pipe.ask(q)
            stages["total"].append((time.perf_counter() - t) * 1000)
            stages["retrieve"].append(ans.timings_ms["retrieve"])
            stages["read"].append(ans.timings_ms["read"])
        rounds.append(stages)

    print(
        f"pipeline load {load_s:.2f} s; reader {pipe.reader.name}; "
        f"{len(pipe.store.chunks)} chunks; {len(questions)} questions x {args.rounds} rounds"
    )
    print(f"{'ms':<18}{'n':>6}{'p50':>10}{'p95':>10}{'p99':>10}{'mean':>10}")
    for r, stages in enumerate(rounds):
        label = "cold" if r == 0 else f"warm {r}"
        print(_row(f"{label} total", stages["total"]))
        print(_row(f"{label} retrieve", stages["retrieve"]))
        print(_row(f"{label} read", stages["read"]))
    if args.chart:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7, 3.5), dpi=120)
        ax = fig.subplots()
        bins = np.linspace(0, max(max(s["total"]) for s in rounds), 40)
        for r, stages in enumerate(rounds[:2]):
            ax.hist(stages["total"], bins=bins, alpha=0.6, label="cold" if r == 0 else "warm")
        ax.axvline(20, ls="--", c="k", lw=1, label="target p50 20 ms")
        ax.set_xlabel("rag ask latency, in-process (ms)")
        ax.set_ylabel("questions")
        ax.legend()
        fig.tight_layout()
        args.chart.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.chart)
        print(f"chart: {args.chart}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
