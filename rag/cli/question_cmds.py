"""The commands that put questions to a built index: ``rag search`` (passages), ``rag ask`` (an
answer), ``rag eval`` (an eval set's worth, measured) and ``rag serve`` (over HTTP).

``api`` and ``eval`` are imported inside their handlers, so ``rag --help`` stays fast and the
service layers below never load them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from index.errors import IndexLoadError
from rag.cli.options import INDEX_DIR_HELP, add_shared_options, index_dir_of
from rag.cli.output import format_answer, print_json


def cmd_search(args: argparse.Namespace) -> int:
    from index.hybrid import HybridRetriever
    from index.store import IndexStore
    from rag.question_rule import check_question

    question = check_question(args.question)
    retriever = HybridRetriever(IndexStore.load(index_dir_of(args)))
    passages = retriever.search(question, k=args.k)
    if args.json:
        print_json([p.to_json() for p in passages])
        return 0
    for n, p in enumerate(passages, 1):
        c = p.chunk
        print(f"{n}. {c.title}  [{c.source} {c.start}-{c.end}]  score {p.score:.4f}")
        print(f"   {c.text[:160]}{'…' if len(c.text) > 160 else ''}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.runner import format_answer_table, format_retrieval_table, run_answers, run_retrieval

    out = Path(args.out) if args.out else None
    if args.conversations:
        from eval.conversations import evaluate, table

        metrics = evaluate(
            Path(args.conversations), index_dir_of(args), args.reader, out, progress=not args.json
        )
        if args.json:
            print_json(metrics)
        else:
            print(table({k: v for k, v in metrics.items() if isinstance(v, dict)}))
            print(f"reader {metrics['reader']}")
        return 0
    if args.retrieval:
        result = run_retrieval(args.dataset, index_dir_of(args), out, progress=not args.json)
        if args.json:
            print_json(result["groups"])
        else:
            print(format_retrieval_table(result))
        return 0
    metrics = run_answers(
        args.dataset, index_dir_of(args), out, reader=args.reader, progress=not args.json
    )
    if args.json:
        print_json(metrics)
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
    pipe = Pipeline.load(index_dir_of(args), reader=args.reader)
    ans = pipe.answer(question, top_k=args.k)
    if args.json:
        print_json(ans.to_json())
        return 0
    print(format_answer(ans))
    return 0


class PortInUse(OSError):
    """The port ``rag serve`` was asked for is taken (exit code 4)."""


def port_free(host: str, port: int) -> None:
    """Raise :class:`PortInUse` unless ``host:port`` can be bound now (as the server will,
    with ``SO_REUSEADDR``: a port in TIME_WAIT is free)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise PortInUse(f"cannot listen on {host}:{port}: {e.strerror or e}") from e


def cmd_serve(args: argparse.Namespace) -> int:
    from api.server import serve
    from index.layout import FORMAT_VERSION, rebuild_hint
    from index.store import IndexStore
    from rag.settings import load_settings

    s = load_settings(
        host=args.host,
        port=args.port,
        index_dir=args.index_dir,
        corpus_dir=args.corpus_dir,
        reader=args.reader,
        allow_local_writes=args.allow_local_writes,
        workers=args.workers,
    )
    port_free(s.host, s.port)  # before anything loads: exit 4 now
    index_dir = s.index_dir
    manifest = IndexStore.read_manifest(index_dir)  # no index, or an unreadable one: exit 3 now
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(
            f"the index at {index_dir} has format {manifest.get('format_version')!r}, this "
            f"version reads {FORMAT_VERSION}; {rebuild_hint(index_dir)}"
        )
    if s.reader == "neural":  # refused now with its message, not as a failed start-up
        from rag.reader.neural.reader import check_adapter

        check_adapter()
    corpus = s.corpus_dir or manifest.get("settings", {}).get("corpus_dir")
    print(f"serving {index_dir} on http://{s.host}:{s.port}/ (corpus {corpus})", file=sys.stderr)
    serve(s.host, s.port, index_dir, corpus, s.reader, s.allow_local_writes, s.workers)
    return 0


def add_question_parsers(sub: argparse._SubParsersAction) -> None:
    se = sub.add_parser("search", help="retrieve passages for a question")
    se.add_argument("question")
    se.add_argument("-k", type=int, default=5, help="how many passages (default 5)")
    add_shared_options(se)
    se.set_defaults(func=cmd_search)

    ak = sub.add_parser("ask", help="answer a question from the index, with evidence and citation")
    ak.add_argument("question")
    ak.add_argument("-k", type=int, default=5, help="how many passages to show (default 5)")
    add_shared_options(
        ak,
        reader=(
            "auto (default: the neural reader when its adapter and model check out, "
            "else offline), neural, offline, or an extractive-QA model name/path"
        ),
        json_help="print the Answer object as JSON",
    )
    ak.set_defaults(func=cmd_ask)


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    sv = sub.add_parser(
        "serve",
        help="run the HTTP service and the chat page",
        description="Each option's default comes from RAG_<NAME> in the environment, then "
        "the TOML file $RAG_CONFIG (or ./rag.toml), then the value shown.",
    )
    sv.add_argument("--host", help="address to listen on (default: RAG_HOST or 127.0.0.1)")
    sv.add_argument("--port", type=int, help="port to listen on (default: RAG_PORT or 8000)")
    sv.add_argument("--index-dir", help="the index to serve (default: RAG_INDEX_DIR or var/index)")
    sv.add_argument(
        "--corpus-dir",
        help="where uploads go (default: RAG_CORPUS_DIR or the folder the index was built from)",
    )
    sv.add_argument(
        "--reader", help="auto, neural, offline, or a QA model (default: RAG_READER or auto)"
    )
    sv.add_argument(
        "--allow-local-writes",
        action="store_true",
        default=None,
        help="allow uploads and deletes without RAG_API_KEY (trusts every client: local use "
        "only; default: RAG_ALLOW_LOCAL_WRITES or off)",
    )
    sv.add_argument(
        "--workers",
        type=int,
        help="worker processes, one per core for throughput (default: RAG_WORKERS or 1)",
    )
    sv.set_defaults(func=cmd_serve)


def add_eval_parser(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval", help="measure answer quality on an eval set")
    ev.add_argument("--dataset", help="eval JSONL (default: the project's eval/questions.jsonl)")
    ev.add_argument("--index-dir", help=INDEX_DIR_HELP)
    ev.add_argument("--out", help="folder for the report")
    only = "retrieval metrics only (recall@k, MRR, article-hit@k)"
    ev.add_argument("--retrieval", action="store_true", help=only)
    ev.add_argument(
        "--conversations",
        help="a conversations JSONL (eval/conversations.jsonl): follow-ups completed from the "
        "history against the same questions asked standalone (default: off)",
    )
    ev.add_argument("--reader", default="auto", help="auto (default), neural, offline, or a model")
    ev.add_argument("--json", action="store_true", help="print the metrics as JSON")
    ev.set_defaults(func=cmd_eval)
