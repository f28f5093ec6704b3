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
from rag import __version__, check_import_roots
from rag.cli import corpus_cmds, model_cmds, question_cmds
from rag.cli.options import DefaultsFormatter
from rag.ingest.loaders import CorpusError

log = logging.getLogger("rag")

# exit codes: 0 done; 1 a check failed (eval.identity compare); 2 bad input, corpus or
# model; 3 no index or an unreadable one; 4 the port `rag serve` was given is taken
EXIT_PORT_IN_USE = 4


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rag", description="Question answering over Chinese documents."
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    p.add_argument("--version", action="version", version=f"rag-zh {__version__}")
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
    _format_defaults(p)
    return p


def _format_defaults(parser: argparse.ArgumentParser) -> None:
    """Every parser, subcommands' included, lists each option with its default."""
    parser.formatter_class = DefaultsFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _format_defaults(child)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_import_roots()
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except question_cmds.PortInUse as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PORT_IN_USE
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
