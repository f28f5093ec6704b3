"""Retrieval benchmark: build cost, search latency and quality, against a Haystack BM25 peer.

One run measures, and prints as tables (nothing is asserted):

1. **Sample corpus** — ``build_index`` (full, offline embedder) into a temporary folder, timed
   and run in a child process whose peak resident memory is read from its own ``VmHWM``
   (``/proc/self/status``; ``getrusage(RUSAGE_SELF).ru_maxrss`` is shown beside it) just before
   it exits; in-process latency of
   ``HybridRetriever.search(q, k=5)`` over the eval questions after a warm-up; recall@1/5/20,
   MRR and article-hit@1/5 on the ``test`` split via :func:`eval.retrieval.evaluate_retrieval`.
2. **Peer** — Haystack's ``InMemoryDocumentStore`` + ``InMemoryBM25Retriever`` over the very same
   chunks (one Haystack ``Document`` per ``IndexStore.chunks`` entry), with its default
   tokenisation and with text pre-segmented by jieba, scored by the same ``evaluate_retrieval``.
3. **Synthetic corpus** — N copies of each sample file (default 100), each copy renamed and
   lightly varied, built and searched the same way. If the build does not finish within the
   time budget the next smaller scale is tried and the output says so.

Usage::

    python scripts/bench_retrieval.py [--corpus ../shared/corpus] [--scale 100] [--queries N]

Needs the ``bench`` extra (``pip install -e '.[bench]'``: haystack-ai, pyinstrument).
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench.child_build import BuildResult, build_in_child, synthetic_build
from eval.bench.support import (
    ROOT,
    SearchFn,
    code_version,
    jieba_segment,
    no_network,
    package_version,
    side_search,
    table,
)
from eval.dataset import DEFAULT_DATASET, Question, load_questions
from eval.retrieval import evaluate_retrieval
from index.hybrid import HybridRetriever
from index.store import IndexStore
from rag.types import Passage

no_network()

METRICS = ("recall@1", "recall@5", "recall@20", "mrr", "article_hit@1", "article_hit@5")


# -- measurements ------------------------------------------------------------------------
@dataclass
class Latency:
    """Per-call wall time of a search function, in milliseconds."""

    samples_ms: list[float] = field(default_factory=list)

    def pct(self, p: float) -> float:
        return float(np.percentile(self.samples_ms, p)) if self.samples_ms else float("nan")

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples_ms) if self.samples_ms else float("nan")


def time_search(
    search: SearchFn, questions: Sequence[str], *, k: int = 5, warmup: int = 20, repeat: int = 3
) -> Latency:
    """Wall time of ``search(q, k)`` per question, after ``warmup`` untimed calls."""
    for q in list(questions)[:warmup]:
        search(q, k)
    lat = Latency()
    for _ in range(repeat):
        for q in questions:
            t = time.perf_counter_ns()
            search(q, k)
            lat.samples_ms.append((time.perf_counter_ns() - t) / 1e6)
    return lat


def split_metrics(
    questions: Sequence[Question], search: SearchFn, originals: dict[str, str]
) -> dict[str, float]:
    """Recall@k, MRR and article-hit@k of ``search`` on the ``test`` split."""
    result = evaluate_retrieval(questions, search, originals)
    return result["groups"]["split:test"]


# -- the Haystack peer ---------------------------------------------------------------------
@dataclass
class PeerVariant:
    name: str
    description: str
    regex: str | None  # None: Haystack's default bm25_tokenization_regex
    algorithm: str
    segment: Callable[[str], str] | None = None  # documents (and queries); None: raw text
    segment_query: Callable[[str], str] | None = None  # queries, when not ``segment``

    def query(self, question: str) -> str:
        seg = self.segment_query or self.segment
        return seg(question) if seg else question


class HaystackPeer:
    """Haystack ``InMemoryDocumentStore`` + ``InMemoryBM25Retriever`` over an index's chunks."""

    def __init__(self, store: IndexStore, variant: PeerVariant) -> None:
        from haystack import Document
        from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore

        self.store = store
        self.variant = variant
        kwargs: dict[str, Any] = {"bm25_algorithm": variant.algorithm, "shared": False}
        if variant.regex is not None:
            kwargs["bm25_tokenization_regex"] = variant.regex
        accepted = inspect.signature(InMemoryDocumentStore.__init__).parameters
        self.doc_store = InMemoryDocumentStore(**{k: v for k, v in kwargs.items() if k in accepted})
        seg = variant.segment or (lambda t: t)
        self.position = {c.id: i for i, c in enumerate(store.chunks)}
        t0 = time.perf_counter()
        docs = [
            Document(
                id=c.id,
                content=seg(c.text),
                meta={
                    "chunk_id": c.id,
                    "article_id": c.article_id,
                    "source": c.source,
                    "start": c.start,
                    "end": c.end,
                },
            )
            for c in store.chunks
        ]
        self.doc_store.write_documents(docs)
        self.index_seconds = time.perf_counter() - t0
        self.retriever = InMemoryBM25Retriever(document_store=self.doc_store, top_k=20)

    def search(self, question: str, k: int) -> list[Passage]:
        """The top ``k`` chunks as :class:`Passage` objects, like ``HybridRetriever.search``."""
        docs = self.retriever.run(query=self.variant.query(question), top_k=k)["documents"]
        out = []
        for d in docs:
            chunk = self.store.chunks[self.position[d.meta["chunk_id"]]]
            out.append(
                Passage(
                    chunk=chunk,
                    score=float(d.score or 0.0),
                    article=self.store.articles[chunk.article_id],
                )
            )
        return out


def peer_variants(store: IndexStore) -> list[PeerVariant]:
    """Haystack configurations compared with ours (all on ``chunk.text``)."""
    import jieba

    jieba.setLogLevel(60)
    plain = jieba.Tokenizer()
    plain.initialize()
    ours = store.tokenizer

    return [
        PeerVariant(
            "haystack-default",
            "raw text, default regex (one token per CJK char), BM25L",
            None,
            "BM25L",
            None,
        ),
        PeerVariant(
            "haystack-jieba",
            "jieba cut_for_search, space-joined, regex \\S+, BM25L",
            r"\S+",
            "BM25L",
            lambda t: jieba_segment(plain, t),
        ),
        PeerVariant(
            "haystack-jieba-okapi",
            "same, BM25Okapi (the algorithm ours uses)",
            r"\S+",
            "BM25Okapi",
            lambda t: jieba_segment(plain, t),
        ),
        PeerVariant(
            "haystack-ourtok-okapi",
            "our SearchTokenizer tokens (jieba + learned terms + CJK bigrams), BM25Okapi",
            r"\S+",
            "BM25Okapi",
            lambda t: " ".join(ours.tokens(t)),
            lambda t: " ".join(ours.query_tokens(t)),
        ),
    ]


# -- main ------------------------------------------------------------------------------------------
def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--corpus",
        type=Path,
        default=ROOT.parent / "shared" / "corpus",
        help="sample corpus folder",
    )
    ap.add_argument(
        "--scale",
        type=int,
        default=100,
        help="copies of the sample in the synthetic corpus (0: skip)",
    )
    ap.add_argument(
        "--queries",
        type=int,
        default=0,
        help="time only the first N eval questions (0: all); quality always uses the whole test split",
    )
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the questions")
    ap.add_argument(
        "--build-budget",
        type=float,
        default=480.0,
        help="seconds allowed for the synthetic build before falling back to a smaller scale",
    )
    ap.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (its path is printed)"
    )
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    questions = load_questions(DEFAULT_DATASET)
    timed = [q.question for q in questions][: args.queries or None]
    n_test = sum(1 for q in questions if q.split == "test" and q.answerable)
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; work folder {work}")
    print(f"code: {code_version()}; haystack-ai {package_version('haystack-ai')}")
    print(
        f"questions: {len(questions)} in {DEFAULT_DATASET.name}, {len(timed)} timed x{args.repeat}, "
        f"{n_test} answerable in the test split\n"
    )
    try:
        return run(args, work, timed)
    finally:
        if args.keep:
            print(f"\nkept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


@dataclass
class Results:
    """Everything one run measured, for the report."""

    sample: BuildResult
    load_s: float
    ours: HybridRetriever
    ours_lat: Latency
    ours_q: dict[str, float]
    parts_lat: dict[str, Latency]
    parts_q: dict[str, dict[str, float]]
    peers: list[tuple[PeerVariant, float, Latency, dict[str, float]]]
    synth: BuildResult | None
    synth_lat: Latency | None
    synth_load: float
    notes: list[str]


def run(args: argparse.Namespace, work: Path, timed: Sequence[str]) -> int:
    """The three stages in order (each prints as it goes), then the report."""
    questions = load_questions(DEFAULT_DATASET)

    # 1. the sample corpus -------------------------------------------------------------
    print(f"[1/3] building the sample corpus {args.corpus} (child process)", flush=True)
    sample = build_in_child(args.corpus, work / "sample-index", 1, timeout=None)
    assert sample is not None
    t0 = time.perf_counter()
    store = IndexStore.load(sample.index_dir)
    load_s = time.perf_counter() - t0
    ours = HybridRetriever(store)
    ours_lat = time_search(ours.search, timed, repeat=args.repeat)
    originals = store.originals
    ours_q = split_metrics(questions, ours.search, originals)
    parts = {w: side_search(ours, w) for w in ("sparse", "dense")}
    parts_lat = {w: time_search(f, timed, repeat=args.repeat) for w, f in parts.items()}
    parts_q = {w: split_metrics(questions, f, originals) for w, f in parts.items()}

    # 2. the peer ---------------------------------------------------------------------------
    print("[2/3] Haystack InMemoryBM25Retriever on the same chunks", flush=True)
    peers = []
    for v in peer_variants(store):
        peer = HaystackPeer(store, v)
        lat = time_search(peer.search, timed, repeat=args.repeat)
        peers.append((v, peer.index_seconds, lat, split_metrics(questions, peer.search, originals)))
        print(f"  {v.name}: done", flush=True)

    # 3. synthetic -----------------------------------------------------------------------------
    synth: BuildResult | None = None
    synth_lat: Latency | None = None
    synth_load = 0.0
    notes: list[str] = []
    if args.scale > 0:
        print(f"[3/3] synthetic corpus, {args.scale}x the sample", flush=True)
        synth, notes = synthetic_build(args.corpus, work, args.scale, args.build_budget)
        if synth is not None:
            t0 = time.perf_counter()
            big = IndexStore.load(synth.index_dir)
            synth_load = time.perf_counter() - t0
            synth_lat = time_search(HybridRetriever(big).search, timed, repeat=args.repeat)
            del big

    print_report(
        args,
        timed,
        Results(
            sample, load_s, ours, ours_lat, ours_q, parts_lat, parts_q, peers, synth, synth_lat,
            synth_load, notes,
        ),
    )  # fmt: skip
    return 0


def print_report(args: argparse.Namespace, timed: Sequence[str], r: Results) -> None:
    """The build, latency, quality and ratio tables, and the notes on the synthetic build."""
    _print_builds(r)
    _print_latency(args, timed, r)
    _print_quality(r)
    if args.scale > 0:
        _print_notes(args, r)


def _print_builds(r: Results) -> None:
    print(
        "\n## Build (build_index full=True, offline embedder, in a child process; "
        "peak = the child's VmHWM)\n"
    )
    rows = [_build_row("sample (1x)", r.sample, r.load_s)]
    if r.synth is not None:
        rows.append(_build_row(f"synthetic ({r.synth.scale}x)", r.synth, r.synth_load))
    print(
        table(
            [
                "corpus",
                "files",
                "articles",
                "chunks",
                "build s",
                "peak RSS MiB (VmHWM)",
                "ru_maxrss MiB",
                "RSS before build MiB",
                "index on disk MiB",
                "vector index",
                "load s",
            ],
            rows,
        )
    )


def _print_latency(args: argparse.Namespace, timed: Sequence[str], r: Results) -> None:
    print(
        f"\n## Search latency, ms per call (k=5, in process, {len(timed)} questions x{args.repeat}, after warm-up)\n"
    )
    lat_rows = [["ours: HybridRetriever (sample)", *_lat_cells(r.ours_lat)]]
    lat_rows += [
        [f"  ours, {w} side only (sample)", *_lat_cells(lat)] for w, lat in r.parts_lat.items()
    ]
    lat_rows += [[f"peer: {v.name} (sample)", *_lat_cells(lat)] for v, _, lat, _ in r.peers]
    if r.synth_lat is not None and r.synth is not None:
        lat_rows.append(
            [
                f"ours: HybridRetriever (synthetic {r.synth.scale}x, {r.synth.chunks} chunks)",
                *_lat_cells(r.synth_lat),
            ]
        )
    print(table(["retriever", "p50", "p95", "p99", "mean", "max"], lat_rows))


def _print_quality(r: Results) -> None:
    print(
        f"\n## Retrieval quality, test split (n={int(r.ours_q['n'])}, evaluate_retrieval, same chunks)\n"
    )
    fs = r.ours.settings
    label = f"ours: HybridRetriever ({fs.method} fusion, dense weight {fs.dense_weight})"
    q_rows = [[label, *[r.ours_q[m] for m in METRICS]]]
    q_rows += [[f"  ours, {w} side only", *[m[x] for x in METRICS]] for w, m in r.parts_q.items()]
    q_rows += [[f"peer: {v.name}", *[m[x] for x in METRICS]] for v, _, _, m in r.peers]
    print(table(["retriever", *METRICS], q_rows))

    print("\n## Peer variants\n")
    print(
        table(
            ["peer", "what", "write_documents s"],
            [[v.name, v.description, s] for v, s, _, _ in r.peers],
        )
    )

    print(
        "\n## Ours / peer ratios (latency: >1 means ours is slower; quality: >1 means ours is better)\n"
    )
    r_rows = []
    for v, _, lat, m in r.peers:
        r_rows.append(
            [
                v.name,
                _ratio(r.ours_lat.pct(50), lat.pct(50)),
                _ratio(r.ours_lat.pct(95), lat.pct(95)),
                _ratio(r.ours_q["recall@1"], m["recall@1"]),
                _ratio(r.ours_q["recall@5"], m["recall@5"]),
                _ratio(r.ours_q["recall@20"], m["recall@20"]),
                _ratio(r.ours_q["mrr"], m["mrr"]),
            ]
        )
    print(table(["vs peer", "p50", "p95", "recall@1", "recall@5", "recall@20", "MRR"], r_rows))


def _print_notes(args: argparse.Namespace, r: Results) -> None:
    print()
    for n in r.notes:
        print(f"NOTE: {n}")
    if r.synth is None:
        print("NOTE: no synthetic scale built within the budget")
    elif r.synth.scale != args.scale:
        print(
            f"NOTE: fell back from {args.scale}x to {r.synth.scale}x (largest scale built within "
            f"{args.build_budget:.0f}s)"
        )


def _build_row(name: str, b: BuildResult, load_s: float) -> list[Any]:
    return [
        name,
        b.files,
        b.articles,
        b.chunks,
        b.seconds,
        b.peak_rss_mib,
        b.maxrss_mib,
        b.base_rss_mib,
        b.disk_mib,
        b.vector_index,
        load_s,
    ]


def _lat_cells(lat: Latency) -> list[float]:
    return [lat.pct(50), lat.pct(95), lat.pct(99), lat.mean, max(lat.samples_ms)]


if __name__ == "__main__":
    sys.exit(main())
