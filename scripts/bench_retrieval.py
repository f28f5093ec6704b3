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
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # no phoning home from a benchmark
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from eval.dataset import DEFAULT_DATASET, Question, load_questions  # noqa: E402
from eval.retrieval import evaluate_retrieval  # noqa: E402
from index.hybrid import HybridRetriever  # noqa: E402
from index.store import IndexStore  # noqa: E402
from rag.types import Passage  # noqa: E402

SearchFn = Callable[[str, int], list[Passage]]
METRICS = ("recall@1", "recall@5", "recall@20", "mrr", "article_hit@1", "article_hit@5")
SCALE_LADDER = (100, 50, 20, 10, 5, 2, 1)


# -- measurements ------------------------------------------------------------------------
@dataclass
class BuildResult:
    """What one ``build_index`` run in a child process cost."""

    scale: int
    seconds: float
    chunks: int
    articles: int
    files: int
    peak_rss_mib: float  # VmHWM of the child at the end of the build (peak RSS since exec)
    maxrss_mib: float  # getrusage(RUSAGE_SELF).ru_maxrss of the child (see _proc_status_kib)
    base_rss_mib: float  # VmRSS of the child after imports, before building
    disk_mib: float
    index_dir: Path
    vector_index: str = ""


@dataclass
class Latency:
    """Per-call wall time of a search function, in milliseconds."""

    samples_ms: list[float] = field(default_factory=list)

    def pct(self, p: float) -> float:
        return float(np.percentile(self.samples_ms, p)) if self.samples_ms else float("nan")

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples_ms) if self.samples_ms else float("nan")


def _mib(kib: float) -> float:
    return kib / 1024.0


def _dir_size_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def _proc_status_kib(field_name: str) -> int | None:
    """``VmHWM``/``VmRSS`` of this process from ``/proc/self/status``, in KiB (Linux only).

    Why not only ``ru_maxrss``: on Linux it survives ``execve``, so a child forked from a big
    parent reports at least the parent's RSS at fork time. ``VmHWM`` belongs to the new
    address space and is the child's own peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def child_build(corpus: str, index_dir: str) -> None:
    """Run in the child process: build the index, print one JSON line with cost figures.

    Progress goes to stderr; the result is the last stdout line.
    """
    import logging

    logging.basicConfig(level=logging.WARNING)
    from rag.indexing import build_index

    base_kib = _proc_status_kib("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    counts = {"read": 0, "embed": 0}
    last = [0.0]

    def progress(stage: str, n: int) -> None:
        counts[stage] = counts.get(stage, 0) + n
        now = time.perf_counter() - t0
        if stage == "fit":
            print(
                f"    [{now:7.1f}s] read {counts['read']} files; fitting the offline embedder on {n} chunks",
                file=sys.stderr,
                flush=True,
            )
        elif now - last[0] >= 15 or (stage == "read" and counts["read"] == 1):
            last[0] = now
            print(
                f"    [{now:7.1f}s] read {counts['read']} files, embedded {counts['embed']} chunks",
                file=sys.stderr,
                flush=True,
            )

    done = threading.Event()

    def heartbeat() -> None:  # build_index reports nothing while it tokenises and fits
        while not done.wait(30):
            rss = _mib(_proc_status_kib("VmRSS") or 0)
            print(
                f"    [{time.perf_counter() - t0:7.1f}s] still building (RSS {rss:.0f} MiB)",
                file=sys.stderr,
                flush=True,
            )

    threading.Thread(target=heartbeat, daemon=True).start()
    try:
        report = build_index(corpus, index_dir, embedder="offline", full=True, progress=progress)
    finally:
        done.set()
    seconds = time.perf_counter() - t0
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_kib = _proc_status_kib("VmHWM") or maxrss_kib
    manifest = IndexStore.read_manifest(Path(index_dir))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "chunks": report.chunk_count,
                "articles": manifest.get("article_count", 0),
                "files": len(manifest.get("sources", {})),
                "vector_index": manifest.get("vector_index", ""),
                "peak_kib": peak_kib,
                "maxrss_kib": maxrss_kib,
                "base_kib": base_kib,
            }
        ),
        flush=True,
    )


def build_in_child(
    corpus: Path, index_dir: Path, scale: int, timeout: float | None
) -> BuildResult | None:
    """Build ``corpus`` into ``index_dir`` in a fresh Python process; ``None`` on timeout."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child-build",
        str(corpus),
        str(index_dir),
    ]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:  # subprocess.run has killed (and reaped) the child
        return None
    d = json.loads(proc.stdout.strip().splitlines()[-1])
    live = IndexStore.live_version(index_dir)
    return BuildResult(
        scale=scale,
        seconds=d["seconds"],
        chunks=d["chunks"],
        articles=d["articles"],
        files=d["files"],
        peak_rss_mib=_mib(d["peak_kib"]),
        maxrss_mib=_mib(d["maxrss_kib"]),
        base_rss_mib=_mib(d["base_kib"]),
        disk_mib=_dir_size_mib(live),
        index_dir=index_dir,
        vector_index=d["vector_index"],
    )


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


def component_search(retriever: HybridRetriever, which: str) -> SearchFn:
    """One side of the hybrid alone (``"dense"`` or ``"sparse"``), as Passages, for diagnosis."""
    store = retriever.store
    side = retriever.dense if which == "dense" else retriever.sparse

    def search(question: str, k: int) -> list[Passage]:
        ids, scores = side(question, k)
        return [
            Passage(
                chunk=store.chunks[int(i)],
                score=float(sc),
                article=store.articles.get(store.chunks[int(i)].article_id),
            )
            for i, sc in zip(ids, scores)
        ]

    return search


# -- the Haystack peer ---------------------------------------------------------------------
_PUNCT = re.compile(r"^[\W_]+$")


def jieba_segment(tokenizer: Any, text: str) -> str:
    """``text`` as space-joined jieba search-mode words, punctuation dropped."""
    words = (w.strip() for w in tokenizer.cut_for_search(text.lower()))
    return " ".join(w for w in words if w and not _PUNCT.match(w))


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


# -- synthetic corpus -------------------------------------------------------------------------
def write_synthetic(corpus: Path, out: Path, copies: int) -> int:
    """Write ``copies`` varied copies of every file of ``corpus`` into ``out``; return bytes written.

    Copy k is named ``c{k:03d}_<name>``, starts with a line ``第k期``, and has ``〔k〕`` put before
    every ``。``, so that no two copies share a sentence (hence a chunk) while headings, bylines
    and line structure (what the segmenter reads) stay as they are.
    """
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    files = sorted(p for p in corpus.iterdir() if p.is_file() and not p.name.startswith("."))
    for p in files:
        text = p.read_text(encoding="utf-8")
        for k in range(1, copies + 1):
            varied = f"第{k}期\n" + text.replace("。", f"〔{k}〕。")
            data = varied.encode("utf-8")
            (out / f"c{k:03d}_{p.name}").write_bytes(data)
            total += len(data)
    return total


def synthetic_build(
    corpus: Path, work: Path, scale: int, budget: float
) -> tuple[BuildResult | None, list[str]]:
    """Build the largest scale <= ``scale`` (from :data:`SCALE_LADDER`) that fits ``budget`` seconds."""
    notes: list[str] = []
    ladder = [scale] + [s for s in SCALE_LADDER if s < scale]
    for s in ladder:
        folder = work / f"synthetic-{s}x"
        n_bytes = write_synthetic(corpus, folder / "corpus", s)
        print(
            f"  synthetic {s}x: {len(list((folder / 'corpus').iterdir()))} files, {n_bytes / 2**20:.1f} MiB; building "
            f"(budget {budget:.0f}s)",
            flush=True,
        )
        res = build_in_child(folder / "corpus", folder / "index", s, timeout=budget)
        if res is not None:
            return res, notes
        msg = f"the {s}x build did not finish within {budget:.0f}s; it was stopped"
        print(f"  {msg}", flush=True)
        notes.append(msg)
        shutil.rmtree(folder, ignore_errors=True)
    return None, notes


# -- formatting ---------------------------------------------------------------------------------
def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-markdown table (also readable in a terminal)."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |",
        "| " + " | ".join("-" * w for w in widths) + " |",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells[1:]]
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


# -- main ------------------------------------------------------------------------------------------
def code_version() -> str:
    """The git commit of the project, marked ``+dirty`` when the tree has changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


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
    ap.add_argument(
        "--child-build", nargs=2, metavar=("CORPUS", "INDEX_DIR"), help=argparse.SUPPRESS
    )
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_build:
        child_build(*args.child_build)
        return 0

    questions = load_questions(DEFAULT_DATASET)
    timed = [q.question for q in questions][: args.queries or None]
    n_test = sum(1 for q in questions if q.split == "test" and q.answerable)
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; work folder {work}")
    print(f"code: {code_version()}; haystack-ai {_version('haystack-ai')}")
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


def run(args: argparse.Namespace, work: Path, timed: Sequence[str]) -> int:
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
    parts = {w: component_search(ours, w) for w in ("sparse", "dense")}
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

    # report -------------------------------------------------------------------------------------
    print(
        "\n## Build (build_index full=True, offline embedder, in a child process; "
        "peak = the child's VmHWM)\n"
    )
    rows = [_build_row("sample (1x)", sample, load_s)]
    if synth is not None:
        rows.append(_build_row(f"synthetic ({synth.scale}x)", synth, synth_load))
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

    print(
        f"\n## Search latency, ms per call (k=5, in process, {len(timed)} questions x{args.repeat}, after warm-up)\n"
    )
    lat_rows = [["ours: HybridRetriever (sample)", *_lat_cells(ours_lat)]]
    lat_rows += [
        [f"  ours, {w} side only (sample)", *_lat_cells(lat)] for w, lat in parts_lat.items()
    ]
    lat_rows += [[f"peer: {v.name} (sample)", *_lat_cells(lat)] for v, _, lat, _ in peers]
    if synth_lat is not None and synth is not None:
        lat_rows.append(
            [
                f"ours: HybridRetriever (synthetic {synth.scale}x, {synth.chunks} chunks)",
                *_lat_cells(synth_lat),
            ]
        )
    print(table(["retriever", "p50", "p95", "p99", "mean", "max"], lat_rows))

    print(
        f"\n## Retrieval quality, test split (n={int(ours_q['n'])}, evaluate_retrieval, same chunks)\n"
    )
    fs = ours.settings
    label = f"ours: HybridRetriever ({fs.method} fusion, dense weight {fs.dense_weight})"
    q_rows = [[label, *[ours_q[m] for m in METRICS]]]
    q_rows += [[f"  ours, {w} side only", *[m[x] for x in METRICS]] for w, m in parts_q.items()]
    q_rows += [[f"peer: {v.name}", *[m[x] for x in METRICS]] for v, _, _, m in peers]
    print(table(["retriever", *METRICS], q_rows))

    print("\n## Peer variants\n")
    print(
        table(
            ["peer", "what", "write_documents s"],
            [[v.name, v.description, s] for v, s, _, _ in peers],
        )
    )

    print(
        "\n## Ours / peer ratios (latency: >1 means ours is slower; quality: >1 means ours is better)\n"
    )
    r_rows = []
    for v, _, lat, m in peers:
        r_rows.append(
            [
                v.name,
                _ratio(ours_lat.pct(50), lat.pct(50)),
                _ratio(ours_lat.pct(95), lat.pct(95)),
                _ratio(ours_q["recall@1"], m["recall@1"]),
                _ratio(ours_q["recall@5"], m["recall@5"]),
                _ratio(ours_q["recall@20"], m["recall@20"]),
                _ratio(ours_q["mrr"], m["mrr"]),
            ]
        )
    print(table(["vs peer", "p50", "p95", "recall@1", "recall@5", "recall@20", "MRR"], r_rows))

    if args.scale > 0:
        print()
        for n in notes:
            print(f"NOTE: {n}")
        if synth is None:
            print("NOTE: no synthetic scale built within the budget")
        elif synth.scale != args.scale:
            print(
                f"NOTE: fell back from {args.scale}x to {synth.scale}x (largest scale built within "
                f"{args.build_budget:.0f}s)"
            )
    return 0


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
