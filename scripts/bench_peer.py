"""Peer comparison: the eval questions through our pipeline and three peer stacks, same chunks, one run.

Every stack answers every question of ``eval/questions.jsonl`` in this one process, over the
chunks of the same index (``IndexStore.chunks``), and the answer step of every stack is OUR
offline reader (``OfflineReader.read`` on the stack's first 8 passages, then
``Pipeline.compose`` for the evidence and citation), because no QA model can be downloaded
here. So the stacks differ in retrieval and in the framework around it:

- **ours** — ``Pipeline.ask``: ``HybridRetriever`` (BM25 over jieba words + bigrams, FAISS over
  the offline LSA vectors, score fusion, article diversity) → offline reader.
- **haystack** — a Haystack ``Pipeline`` of three components: a jieba query segmenter →
  ``InMemoryBM25Retriever(top_k=8)`` over an ``InMemoryDocumentStore`` holding one ``Document``
  per chunk, its text segmented by jieba as in ``scripts/bench_retrieval.py`` (BM25L, regex
  ``\\S+``) → a component that wraps the Haystack documents back into our ``Passage`` objects
  and runs our reader.
- **ensemble** — LangChain's ``EnsembleRetriever`` recipe rebuilt without LangChain:
  ``rank_bm25.BM25Okapi`` over jieba tokens of each chunk (what LangChain's ``BM25Retriever``
  wraps, ``get_top_n``) and FAISS ``IndexFlatL2`` (LangChain's ``FAISS`` default) over our
  offline embedder's vectors of each chunk's text, each asked for 8 chunks, fused by weighted
  reciprocal rank (``Σ w / (rank + 60)``, rank from 1, weights 0.5/0.5) → our reader.
- **langchain** — the same recipe through the real LangChain library (``langchain-classic``'s
  ``EnsembleRetriever``, ``langchain-community``'s ``BM25Retriever`` and ``FAISS``; in the
  ``bench`` extra, about two dozen packages with their dependencies): ``BM25Retriever`` with the
  same jieba tokens as ``preprocess_func``, a ``FAISS`` vector store built with
  ``FAISS.from_embeddings`` from our offline embedder's vectors (an ``Embeddings`` wrapper
  embeds the questions, no download), both retrievers ``k=8``, ``EnsembleRetriever`` weights
  0.5/0.5, ``c=60``, asked with ``retriever.invoke(question)`` → our reader. Same rankings as
  ``ensemble`` but for one thing: ``EnsembleRetriever`` (default ``id_key``) merges documents
  with the same text into one, summing their fused scores, where the imitation keeps every
  chunk: no two chunks of the sample share a text, but the synthetic corpus of
  ``bench_retrieval.py`` repeats 17 chunk texts (no ``。`` to vary) in every copy.
  Without LangChain installed this stack is skipped (the run says so) and the others still run.

Measured: EM and F1 (``eval.answers.score`` / ``eval.metrics``) over the answerable questions
of the ``test`` split (an abstention counts 0, as in ``rag eval``), answered share, recall@1/5
(``eval.retrieval.evaluate_retrieval``, test split), and per-question end-to-end latency
in-process, split into retrieval (+ framework) and reading: p50/p95/mean over ``--rounds``
timed passes after one untimed pass, in each of which every stack answers all the questions in
a row (as a service running that stack would, with its own data in the CPU caches; the stacks'
order rotates from pass to pass, so that a slow minute of the VM falls on each in turn), and,
for comparison, over ``--shared-rounds`` passes in which the stacks take turns question by
question (each question then finds the caches full of the other stacks' data, which slows
every stack, ours most: its own work is small next to the misses). The ratio peer/ours is
printed for both: the target is "at least 5× faster than the peer stack at equal or
better answer quality".

Usage::

    pip install -e '.[bench]'   # haystack-ai, rank_bm25, langchain-classic, langchain-community
    python scripts/bench_peer.py [--index-dir DIR] [--rounds 3] [--shared-rounds N] [--sample N]
                                 [--report docs/bench_peer.md]
                                 [--profile var/bench_peer_profile.txt]

Without ``--index-dir`` the sample corpus is built into a temporary folder first.
"""

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eval.answers import group, score
from eval.bench.child_build import build_in_child
from eval.bench.peer_stacks import TOP_K, Result, Stack, make_stacks
from eval.bench.support import (
    ROOT,
    code_version,
    cpu_model,
    no_network,
    package_version,
    table,
)
from eval.dataset import DEFAULT_DATASET, Question, load_questions
from eval.retrieval import evaluate_retrieval
from index.store import IndexStore
from rag.pipeline import Pipeline
from rag.types import Answer

no_network()


# -- measuring ------------------------------------------------------------------------------------
@dataclass
class Timings:
    total: list[float] = field(default_factory=list)
    retrieve: list[float] = field(default_factory=list)
    read: list[float] = field(default_factory=list)

    def add(self, r: Result) -> None:
        self.total.append(r.total_ms)
        self.retrieve.append(r.retrieve_ms)
        self.read.append(r.read_ms)


def pct(values: Sequence[float], p: float) -> float:
    return float(np.percentile(values, p)) if values else float("nan")


def quality(stack: Stack, questions: Sequence[Question], answers: dict[str, Answer], originals):
    """EM/F1/answered over the test split's answerable questions, recall@k on the test split."""
    rows = [
        score(q, answers[q.id].to_json(), originals.get(q.source or "", ""))
        for q in questions
        if q.split == "test" and q.answerable
    ]
    g = group(rows)
    out = {
        "n": g["answerable"],
        "em": g["em"],
        "f1": g["f1"],
        "answered": 100.0 * g["answered"] / g["answerable"] if g["answerable"] else 0.0,
    }
    if not any(q.source in originals for q in questions):
        # a synthetic corpus renames the files (c001_<name>...): the gold passages cannot be
        # located, so recall is not measured there (EM and F1 compare answer text only)
        return {**out, "recall@1": "n/a", "recall@5": "n/a", "recall@20": "n/a"}
    retrieval = evaluate_retrieval(questions, stack.search, originals)["groups"]["split:test"]
    return {
        **out,
        "recall@1": retrieval["recall@1"],
        "recall@5": retrieval["recall@5"],
        "recall@20": retrieval["recall@20"],
    }


def run_all(
    stacks: Sequence[Stack], questions: Sequence[Question], rounds: int, shared_rounds: int
) -> tuple[
    dict[str, dict[str, Answer]], dict[str, Timings], dict[str, Timings], dict[str, Timings]
]:
    """One untimed pass (answers kept for scoring; cold figures), then the timed passes.

    ``warm``: ``rounds`` passes in which each stack answers all the questions in a row, as a
    service running that stack would (its own data in the CPU caches), the stacks' order
    rotating from pass to pass so that a slow minute of the VM falls on each in turn.
    ``shared``: ``shared_rounds`` passes in which the stacks take turns question by question
    (first one rotating), so each question finds the caches full of the other stacks' data.
    """
    answers: dict[str, dict[str, Answer]] = {s.name: {} for s in stacks}
    cold = {s.name: Timings() for s in stacks}
    warm = {s.name: Timings() for s in stacks}
    shared = {s.name: Timings() for s in stacks}
    n = len(stacks)
    for qi, q in enumerate(questions):  # the untimed pass: turns question by question
        for j in range(n):
            s = stacks[(qi + j) % n]
            r = s.ask(q.question)
            answers[s.name][q.id] = r.answer
            cold[s.name].add(r)
    print(f"  pass 1/{rounds + shared_rounds + 1} done (untimed)", flush=True)
    for rnd in range(rounds):
        for j in range(n):
            s = stacks[(rnd + j) % n]
            for q in questions:
                warm[s.name].add(s.ask(q.question))
        print(
            f"  pass {rnd + 2}/{rounds + shared_rounds + 1} done (each stack in a row)", flush=True
        )
    for rnd in range(shared_rounds):
        for qi, q in enumerate(questions):
            for j in range(n):
                s = stacks[(qi + rnd + j) % n]
                shared[s.name].add(s.ask(q.question))
        done = rounds + rnd + 2
        print(f"  pass {done}/{rounds + shared_rounds + 1} done (turns per question)", flush=True)
    return answers, cold, warm, shared


def profile_ours(pipe: Pipeline, questions: Sequence[Question], out: Path) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for q in questions:
        pipe.ask(q.question, top_k=TOP_K)
    profiler.stop()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    print(f"profile of Pipeline.ask over {len(questions)} questions (warm): {out}")


# -- main -------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--index-dir", type=Path, help="a built index (else the sample is built)")
    ap.add_argument(
        "--rounds", type=int, default=3, help="timed passes, each stack answering all in a row"
    )
    ap.add_argument(
        "--shared-rounds",
        type=int,
        default=None,
        help="timed passes with the stacks taking turns question by question (default: --rounds)",
    )
    ap.add_argument("--report", type=Path, help="write a markdown report here")
    ap.add_argument(
        "--sample",
        type=int,
        help="ask only this many of the questions, evenly spread (the peers take seconds a "
        "question on a 100x corpus)",
    )
    ap.add_argument("--profile", type=Path, help="write a pyinstrument profile of ours here")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="rag-bench-peer-"))
    try:
        return run(args, argv, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, argv: Sequence[str], work: Path) -> int:
    questions = load_questions(DEFAULT_DATASET)
    if args.sample and args.sample < len(questions):  # evenly spread: every split and type
        step = len(questions) / args.sample
        questions = [questions[int(i * step)] for i in range(args.sample)]
    code = code_version()  # at the start: the code that is imported and measured
    print(f"machine: {os.cpu_count()} cores; code {code}; {_versions()}")
    index_dir = args.index_dir
    if index_dir is None:
        print(f"building the sample corpus {args.corpus} (offline embedder)", flush=True)
        b = build_in_child(args.corpus, work / "index", 1, timeout=600)
        assert b is not None
        index_dir = b.index_dir
    pipe = Pipeline(IndexStore.load(index_dir), _reader())
    print(f"index: {len(pipe.store.chunks)} chunks; reader {pipe.reader.name}", flush=True)
    stacks, setup, skipped = make_stacks(pipe)
    originals = dict(pipe.store.originals)

    pipe.ask("预热：天津的人口有多少？")  # what the service's warm_up does
    shared_rounds = args.rounds if args.shared_rounds is None else args.shared_rounds
    print(
        f"{len(questions)} questions, 1 untimed + {args.rounds} + {shared_rounds} timed passes",
        flush=True,
    )
    answers, cold, warm, shared = run_all(stacks, questions, args.rounds, shared_rounds)
    q = {s.name: quality(s, questions, answers[s.name], originals) for s in stacks}
    if args.profile:
        profile_ours(pipe, questions, args.profile)

    n_test = q["ours"]["n"]
    q_table, l_table, r_table = result_tables(stacks, q, cold, warm, shared)
    s_table = table(
        ["stack", "what", "setup s (index the chunks)"],
        [[s.name, s.what, setup[s.name]] for s in stacks],
    )
    print(f"\n## Answer quality, test split ({n_test} answerable; EM/F1 count abstentions as 0)\n")
    print(q_table)
    passes_note = (
        f"warm = {args.rounds} passes after one untimed pass, each stack answering all the "
        f"questions in a row, the stacks' order rotating; turns per question = "
        f"{shared_rounds} passes in which the stacks take turns question by question"
    )
    print(
        f"\n## End-to-end latency per question, in-process ({len(questions)} questions; "
        f"{passes_note})\n"
    )
    print(l_table)
    print("\n## Peer / ours (warm; >1 means the peer is slower)\n")
    print(r_table)
    print("\n## Stacks\n")
    print(s_table)
    if skipped:
        print(f"\n{skipped}")
    if args.report:
        header = (
            f"Machine: {os.cpu_count()} cores ({cpu_model()}); code `{code}`; "
            f"{_versions()}; {len(pipe.store.chunks)} chunks; {time.strftime('%Y-%m-%d')}."
        )
        tables = {"stacks": s_table, "quality": q_table, "latency": l_table, "ratios": r_table}
        write_report(
            args.report,
            argv,
            header,
            len(stacks),
            n_test,
            len(questions),
            passes_note,
            tables,
            skipped,
        )
    return 0


def result_tables(
    stacks: Sequence[Stack],
    q: dict[str, dict[str, Any]],
    cold: dict[str, Timings],
    warm: dict[str, Timings],
    shared: dict[str, Timings],
) -> tuple[str, str, str]:
    """The quality, latency and peer/ours tables."""
    q_table = table(
        ["stack", "EM", "F1", "answered %", "recall@1", "recall@5", "recall@20"],
        [
            [
                s.name,
                q[s.name]["em"],
                q[s.name]["f1"],
                q[s.name]["answered"],
                q[s.name]["recall@1"],
                q[s.name]["recall@5"],
                q[s.name]["recall@20"],
            ]
            for s in stacks
        ],
    )
    l_table = latency_table(stacks, cold, warm, shared)
    r_table = ratio_table(stacks, q, warm, shared)
    return q_table, l_table, r_table


def latency_table(
    stacks: Sequence[Stack],
    cold: dict[str, Timings],
    warm: dict[str, Timings],
    shared: dict[str, Timings],
) -> str:
    """Per stack and kind of pass: p50/p95/mean of the whole answer, and of its two steps."""
    lat_rows = []
    passes = [("warm", warm), ("warm, turns per question", shared), ("cold (first pass)", cold)]
    for label, data in passes:
        for s in stacks:
            t = data[s.name]
            if not t.total:
                continue
            lat_rows.append(
                [
                    s.name,
                    label,
                    len(t.total),
                    pct(t.total, 50),
                    pct(t.total, 95),
                    float(np.mean(t.total)),
                    pct(t.retrieve, 50),
                    pct(t.read, 50),
                ]
            )
    l_table = table(
        ["stack", "pass", "n", "p50 ms", "p95 ms", "mean ms", "retrieve p50 ms", "read p50 ms"],
        lat_rows,
    )
    return l_table


def ratio_table(
    stacks: Sequence[Stack],
    q: dict[str, dict[str, Any]],
    warm: dict[str, Timings],
    shared: dict[str, Timings],
) -> str:
    """Each peer against ours: latency ratios, quality differences, and the target's verdict."""
    o = warm["ours"]
    r_rows = []
    for s in stacks[1:]:
        t = warm[s.name]
        equal_or_better = q[s.name]["em"] <= q["ours"]["em"] and q[s.name]["f1"] <= q["ours"]["f1"]
        r50 = pct(t.total, 50) / pct(o.total, 50)
        r95 = pct(t.total, 95) / pct(o.total, 95)
        rr = pct(t.retrieve, 50) / pct(o.retrieve, 50)
        ts, os_ = shared[s.name], shared["ours"]
        rs = f"{pct(ts.total, 50) / pct(os_.total, 50):.2f}x" if ts.total else "-"
        r_rows.append(
            [
                s.name,
                f"{r50:.2f}x",
                f"{r95:.2f}x",
                f"{float(np.mean(t.total)) / float(np.mean(o.total)):.2f}x",
                f"{rr:.2f}x",
                rs,
                f"{q['ours']['em'] - q[s.name]['em']:+.1f}",
                f"{q['ours']['f1'] - q[s.name]['f1']:+.1f}",
                "met" if r50 >= 5 and equal_or_better else "**missed**",
            ]
        )
    r_table = table(
        [
            "peer",
            "latency peer/ours p50",
            "p95",
            "mean",
            "retrieval-only p50",
            "p50, turns per question",
            "EM ours − peer",
            "F1 ours − peer",
            "≥5× faster at ≥ quality",
        ],
        r_rows,
    )
    return r_table


def write_report(
    path: Path,
    argv: Sequence[str],
    header: str,
    n_stacks: int,
    n_test: int,
    n_questions: int,
    passes_note: str,
    tables: dict[str, str],
    skipped: str,
) -> None:
    peers = n_stacks - 1
    lines = [
        f"# Peer comparison: the same questions through our pipeline and {_count(peers)} "
        f"peer stack{'s' if peers != 1 else ''}",
        "",
        "Written from one run of `scripts/bench_peer.py`; a benchmark, not a test.",
        "",
        header,
        "",
        *([f"Note: {skipped}.", ""] if skipped else []),
        "```bash",
        ".venv/bin/pip install -e '.[bench]'",
        f".venv/bin/python scripts/bench_peer.py {shlex.join(argv)}".rstrip(),
        "```",
        "",
        f"## Stacks (the answer step of all {_count(n_stacks)} is our offline reader)",
        "",
        tables["stacks"],
        "",
        f"## Answer quality, test split ({n_test} answerable; EM/F1 count abstentions as 0)",
        "",
        tables["quality"],
        "",
        f"## End-to-end latency per question, in-process ({n_questions} questions)",
        "",
        f"{passes_note[0].upper()}{passes_note[1:]}.",
        "",
        tables["latency"],
        "",
        "## Peer / ours (warm; >1 means the peer is slower)",
        "",
        tables["ratios"],
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    print(f"\nreport: {path}")


def _reader():
    from rag.reader import make_reader

    return make_reader("offline")


def _versions() -> str:
    names = ["haystack-ai", "rank-bm25", "faiss-cpu"]
    names += ["langchain-core", "langchain-classic", "langchain-community"]
    return ", ".join(f"{n} {package_version(n)}" for n in names)


def _count(n: int) -> str:
    return {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}.get(n, str(n))


if __name__ == "__main__":
    sys.exit(main())
