"""The neural reader against Haystack's ExtractiveReader: same weights, same passages, one run.

    python scripts/bench_reader.py [--index-dir var/index] [--merged DIR]
                                   [--dataset eval/questions.jsonl] [--split test] [--rounds 2]

Both readers run the project's trained model: ours is ``NeuralReader`` (the installed base
with the committed adapter merged in memory); the peer is Haystack 2's
``ExtractiveReader`` over the same weights written as a plain transformers folder
(``var/bench/merged-<adapter sha256>``, written here when missing). For every
answerable question of the split the pipeline's retriever fetches the passages once; both
readers then read the same first ``read_n`` passages (Haystack gets them as ``Document``s,
its defaults otherwise: 384-token windows, stride 128, top_k 20). Scored: EM and F1 of the
top answer (no abstention: reading only), and reading latency per question in this process,
p50/p95/mean over ``--rounds`` passes that alternate the readers. Prints a table and the
ratio peer / ours; needs ``pip install -e '.[bench]'`` (``haystack-ai<3``: ExtractiveReader left
the core package in Haystack 3). A benchmark: it prints numbers and never fails on speed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from eval.dataset import DEFAULT_DATASET, load_questions
from eval.metrics import exact_match, f1
from rag.pipeline import Pipeline
from rag.reader.neural.reader import ADAPTER_DIR, NeuralReader


def _haystack(merged: Path):
    from haystack.components.readers import ExtractiveReader

    reader = ExtractiveReader(model=str(merged), token=None)
    reader.warm_up()
    return reader


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index-dir", type=Path, default=Path("var/index"))
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    ap.add_argument("--split", default="test")
    ap.add_argument("--merged", type=Path, help="the merged model folder (default: by adapter)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--limit", type=int, help="at most N questions")
    args = ap.parse_args(argv)

    from haystack import Document

    ours = NeuralReader.load()
    sha = ours.manifest["files"]["adapter_model.safetensors"]
    merged = args.merged or Path("var/bench") / f"merged-{sha[:12]}"
    if not (merged / "config.json").is_file():
        from eval.neural_reader_artifact import write_merged

        write_merged(ADAPTER_DIR, merged)
    pipe = Pipeline.over(args.index_dir, ours)
    peer = _haystack(merged)
    questions = [q for q in load_questions(args.dataset) if q.answerable and q.split == args.split][
        : args.limit
    ]
    passages = [pipe.retriever.search(q.question, ours.read_n)[: ours.read_n] for q in questions]
    docs = [[Document(content=p.chunk.text) for p in ps] for ps in passages]

    def read_ours(i: int) -> str:
        r = ours.read(questions[i].question, passages[i])
        return r.guesses[0].text if r.guesses else ""

    def read_peer(i: int) -> str:
        out = peer.run(query=questions[i].question, documents=docs[i], top_k=1)["answers"]
        return next((a.data for a in out if a.data), "")

    stacks = {"ours (NeuralReader)": read_ours, "haystack ExtractiveReader": read_peer}
    for fn in stacks.values():
        fn(0)  # first-call costs out of the timings
    times: dict[str, list[float]] = {k: [] for k in stacks}
    answers: dict[str, list[str]] = {k: [] for k in stacks}
    for r in range(args.rounds):
        order = list(stacks) if r % 2 == 0 else list(reversed(stacks))
        for name in order:
            got = []
            for i in range(len(questions)):
                t = time.perf_counter()
                got.append(stacks[name](i))
                times[name].append((time.perf_counter() - t) * 1000)
            answers[name] = got
    print(
        f"{len(questions)} answerable {args.split} questions of {args.dataset.name}, "
        f"{ours.read_n} passages each, {args.rounds} rounds"
    )
    print(f"{'reader':<28}{'EM':>7}{'F1':>7}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}")
    rows = {}
    for name in stacks:
        golds = [list(q.answers) for q in questions]
        em = 100 * np.mean([exact_match(a, g) for a, g in zip(answers[name], golds)])
        f = 100 * np.mean([f1(a, g) for a, g in zip(answers[name], golds)])
        t = np.array(times[name])
        rows[name] = (em, f, *np.percentile(t, [50, 95]), t.mean())
        print(
            f"{name:<28}"
            + "".join(f"{v:>9.1f}" if j >= 2 else f"{v:>7.1f}" for j, v in enumerate(rows[name]))
        )
    a, b = rows["ours (NeuralReader)"], rows["haystack ExtractiveReader"]
    print(
        f"peer / ours: p50 {b[2] / a[2]:.2f}x, mean {b[4] / a[4]:.2f}x slower; "
        f"EM {a[0] - b[0]:+.1f}, F1 {a[1] - b[1]:+.1f} points for ours"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
