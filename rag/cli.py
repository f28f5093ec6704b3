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

from rag.loaders import CorpusError

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
    from rag.corpus import Corpus

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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rag", description="Question answering over Chinese documents."
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("articles", help="list the articles found in a corpus folder")
    a.add_argument(
        "corpus_dir", help="folder of .txt/.md/.html/.pdf/.docx files (walked recursively)"
    )
    a.add_argument("--json", action="store_true", help="print the articles as JSON")
    a.set_defaults(func=cmd_articles)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except CorpusError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `rag articles … | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
