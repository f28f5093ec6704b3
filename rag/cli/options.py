"""The options several commands share, and the index folder they name."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_shared_options(
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


def index_dir_of(args: argparse.Namespace) -> Path:
    """``--index-dir``, or the default index folder when it is not given."""
    from rag.indexing import DEFAULT_INDEX_DIR

    return Path(args.index_dir) if args.index_dir else DEFAULT_INDEX_DIR
