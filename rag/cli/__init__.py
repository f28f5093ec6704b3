"""The ``rag`` command line: thin entry points over the library.

Every command has ``--help``; ``--json`` prints one JSON value on stdout and nothing else.
The commands live by subject beside this module (``corpus_cmds``: articles and the index;
``question_cmds``: search, ask, eval, serve; ``model_cmds``: the local models), what they print in
``output``; here the parser is put together and the library's errors become exit codes.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from index.errors import IndexLoadError
from rag.cli import corpus_cmds, model_cmds, question_cmds
from rag.ingest.loaders import CorpusError

log = logging.getLogger("rag")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rag", description="Question answering over Chinese documents."
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True)
    # in the order `rag --help` lists the commands
    for add in (
        corpus_cmds.add_articles_parser,
        corpus_cmds.add_index_parsers,
        question_cmds.add_question_parsers,
        question_cmds.add_serve_parser,
        model_cmds.add_models_parsers,
        question_cmds.add_eval_parser,
    ):
        add(sub)
    return p


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
        from rag.models import ModelInstallError

        if not isinstance(e, ModelInstallError):  # a model install that failed its check
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `rag articles … | head`
        sys.stderr.close()
        return 0
