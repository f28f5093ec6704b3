"""The options several commands share, and the index folder they name."""

from __future__ import annotations

import argparse
from pathlib import Path

INDEX_DIR_HELP = "where the index lives (default var/index)"


class DefaultsFormatter(argparse.HelpFormatter):
    """``--help`` names every option's default: the help's own words where it says it,
    else ``(default: …)``, and ``(default: off)`` for a switch."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or "default" in text or action.default is argparse.SUPPRESS:
            return text
        if action.default is False or action.nargs == 0:
            return f"{text} (default: off)".strip()
        return f"{text} (default: %(default)s)".strip()


def add_shared_options(
    parser: argparse.ArgumentParser,
    *,
    index_dir: str | None = None,
    reader: str | None = None,
    json_help: str | None = None,
) -> None:
    """The options several commands share: ``--index-dir``, ``--reader``, ``--json``."""
    parser.add_argument("--index-dir", help=index_dir or INDEX_DIR_HELP)
    if reader is not None:
        parser.add_argument("--reader", default="auto", help=reader)
    parser.add_argument("--json", action="store_true", help=json_help or "print JSON")


def index_dir_of(args: argparse.Namespace) -> Path:
    """``--index-dir``, or the default index folder when it is not given."""

    if args.index_dir:
        return Path(args.index_dir)
    from rag.settings import load_settings

    return load_settings().index_dir  # RAG_INDEX_DIR, the config file, or var/index
