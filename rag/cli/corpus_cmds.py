"""The commands over a corpus and its index: ``rag articles``, ``rag index build``, ``rag index
status``."""

from __future__ import annotations

import argparse
import sys

from rag.cli.options import INDEX_DIR_HELP, add_shared_options, index_dir_of
from rag.cli.output import fit, print_json


def cmd_articles(args: argparse.Namespace) -> int:
    from rag.ingest.corpus import Corpus

    corpus = Corpus.from_folder(args.corpus_dir)
    if args.json:
        print_json([a.to_json() for a in corpus.articles])
        return 0
    by_source: dict[str, list] = {}
    for a in corpus.articles:
        by_source.setdefault(a.source, []).append(a)
    for source, arts in by_source.items():
        first = arts[0]
        heading = " · ".join(x for x in (first.publication, first.issue) if x)
        print(f"\n{source}" + (f"  ({heading})" if heading else "") + f"  — {len(arts)} 篇")
        print(f"  {'#':>3}  {fit('标题', 46)}  {fit('栏目', 16)}  {fit('作者', 22)}  {'字数':>5}")
        for n, a in enumerate(arts, 1):
            print(
                f"  {n:>3}  {fit(a.title, 46)}  {fit(a.column or '', 16)}  "
                f"{fit(a.author or '', 22)}  {len(a.text):>5}"
            )
    print(
        f"\n{len(corpus.articles)} articles, {len(corpus.chunks)} chunks, {len(corpus.documents)} files"
    )
    return 0


def cmd_index_build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rag.indexing import build_index, report_json

    bars: dict[str, tqdm] = {}
    labels = {
        "read": "reading files",
        "reread": "reading the unchanged files (new embedder)",
        "fit": "learning the embedder from chunks",
        "embed": "embedding chunks",
    }

    def progress(stage: str, n: int, total: int | None = None) -> None:
        if args.json:
            return
        if stage not in bars:
            for b in bars.values():
                b.close()
            bars[stage] = tqdm(
                desc=labels.get(stage, stage),
                total=total,
                unit=" files" if stage.endswith("read") else " chunks",
                file=sys.stderr,
            )
        bars[stage].update(n)

    from rag.settings import load_settings

    report = build_index(
        args.corpus_dir,
        index_dir_of(args),
        embedder=args.embedder,
        full=args.full,
        chunk_size=args.chunk_size,
        chunk_overlap=args.chunk_overlap,
        hnsw_above=args.hnsw_above,
        progress=progress,
        milvus_uri=args.milvus_uri or load_settings().milvus_uri,
    )
    for b in bars.values():
        b.close()
    if args.json:
        print_json(report_json(report))
    else:
        print(
            f"index {index_dir_of(args)} ({report.version}): {report.chunk_count} chunks; "
            f"added {len(report.added)}, changed {len(report.changed)}, removed {len(report.removed)}, "
            f"unchanged {report.unchanged} files; embedded {report.embedded_chunks} chunks in {report.seconds:.1f}s"
        )
    return 0


def cmd_index_status(args: argparse.Namespace) -> int:
    from index.store import IndexStore

    manifest = IndexStore.read_manifest(index_dir_of(args))
    if args.json:
        print_json(manifest)
        return 0
    emb = manifest["embedder"]
    print(
        f"index:      {index_dir_of(args)} (format {manifest['format_version']}, built {manifest['build_time']})"
    )
    print(
        f"embedder:   {emb['name']} (dim {emb['dim']}{', offline' if emb.get('offline') else ''})"
    )
    print(
        f"contents:   {manifest['article_count']} articles, {manifest['chunk_count']} chunks, {len(manifest['sources'])} files"
    )
    print(
        f"vectors:    FAISS {manifest['vector_index']}; BM25 over jieba with {manifest['terms']} learned terms"
    )
    print(f"corpus:     fingerprint {manifest['corpus_fingerprint']}")
    return 0


def add_articles_parser(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("articles", help="list the articles found in a corpus folder")
    a.add_argument(
        "corpus_dir", help="folder of .txt/.md/.html/.pdf/.docx files (walked recursively)"
    )
    a.add_argument("--json", action="store_true", help="print the articles as JSON")
    a.set_defaults(func=cmd_articles)


def add_index_parsers(sub: argparse._SubParsersAction) -> None:
    ix = sub.add_parser("index", help="build or inspect the search index").add_subparsers(
        dest="index_command", required=True
    )
    b = ix.add_parser(
        "build", help="build the index of a corpus folder, or update it incrementally"
    )
    b.add_argument("corpus_dir")
    b.add_argument("--index-dir", help=INDEX_DIR_HELP)
    b.add_argument(
        "--embedder",
        default="auto",
        help="auto (default), offline, or a sentence-transformers model name/path",
    )
    b.add_argument("--full", action="store_true", help="rebuild everything instead of updating")
    b.add_argument("--chunk-size", type=int, default=None, help="characters a chunk (default 320)")
    b.add_argument(
        "--chunk-overlap", type=int, default=None, help="characters repeated (default 80)"
    )
    b.add_argument(
        "--hnsw-above",
        type=int,
        default=50_000,
        help="use an approximate HNSW vector index above this many chunks (default 50000)",
    )
    b.add_argument(
        "--milvus-uri",
        help="also put the vectors and BM25 in Milvus: a Milvus Lite file (var/milvus.db) or a "
        "server (http://host:19530); default: RAG_MILVUS_URI, else none",
    )
    b.add_argument("--json", action="store_true", help="print the build report as JSON")
    b.set_defaults(func=cmd_index_build)
    st = ix.add_parser("status", help="show what the index holds")
    add_shared_options(st)
    st.set_defaults(func=cmd_index_status)
