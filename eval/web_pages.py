"""How much of a saved web page's text is its article: the whole visible text (what the
loader kept before) against the main text (:func:`rag.ingest.web.read_page`).

A folder holds pages ``NAME.html`` with ``NAME.main.txt`` (the article's lines as a person
marks them: headline first) and ``NAME.json`` (``title``, ``boilerplate``: strings of the
page's furniture that must not be kept). For each page and each way of reading it:
precision (share of the kept characters that are article), recall (share of the article's
characters kept), boilerplate strings leaked, and whether the title is the headline.
Characters are compared with whitespace and markdown marks left out, in order
(``difflib``'s longest matching blocks).

    python -m eval.web_pages tests/data/web --report docs/web_pages.md
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.ingest.loaders import _decode_html
from rag.ingest.web import _norm, html_to_text, read_page

DEFAULT_PAGES = Path(__file__).resolve().parents[1] / "tests" / "data" / "web"


def overlap(kept: str, gold: str) -> tuple[float, float]:
    """(precision, recall) of ``kept`` against ``gold``, characters in order."""
    a, b = _norm(kept), _norm(gold)
    if not a or not b:
        return (0.0, 0.0)
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    same = sum(m.size for m in sm.get_matching_blocks())
    return same / len(a), same / len(b)


def score_page(html: Path) -> dict[str, Any]:
    gold = html.with_suffix(".main.txt").read_text(encoding="utf-8")
    spec = json.loads(html.with_suffix(".json").read_text(encoding="utf-8"))
    markup, _ = _decode_html(html.read_bytes())
    page = read_page(markup)
    visible = html_to_text(markup)
    out: dict[str, Any] = {"page": html.stem}
    for way, text in (("visible", visible), ("main", page.text)):
        p, r = overlap(text, gold)
        leaked = [s for s in spec["boilerplate"] if _norm(s) in _norm(text)]
        first = next((ln for ln in text.splitlines() if ln.strip()), "")
        out[way] = {
            "precision": p,
            "recall": r,
            "leaked": leaked,
            "title_ok": _norm(first) == _norm(spec["title"]),
        }
    out["title"] = page.title
    out["title_ok"] = _norm(page.title or "") == _norm(spec["title"])
    return out


def report(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| page | visible: precision / recall / leaked | main text: precision / recall / leaked"
        " | title |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        v, m = r["visible"], r["main"]
        lines.append(
            f"| {r['page']} | {v['precision']:.3f} / {v['recall']:.3f} / {len(v['leaked'])} "
            f"| {m['precision']:.3f} / {m['recall']:.3f} / {len(m['leaked'])} "
            f"| {'✓' if r['title_ok'] else '✗'} {r['title']} |"
        )
    n = len(rows) or 1
    for way in ("visible", "main"):
        p = sum(r[way]["precision"] for r in rows) / n
        rc = sum(r[way]["recall"] for r in rows) / n
        leaked = sum(len(r[way]["leaked"]) for r in rows)
        lines.append(f"\n{way}: mean precision {p:.3f}, mean recall {rc:.3f}, {leaked} leaked")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m eval.web_pages", description=__doc__.split("\n")[0]
    )
    ap.add_argument("folder", type=Path, nargs="?", default=DEFAULT_PAGES)
    ap.add_argument("--report", type=Path, help="write the table as markdown here")
    args = ap.parse_args(argv)
    pages = sorted(args.folder.glob("*.html"))
    if not pages:
        ap.error(f"no .html pages in {args.folder}")
    rows = [score_page(p) for p in pages]
    text = report(rows)
    print(text)
    if args.report:
        args.report.write_text(
            "# Web pages: main text against the whole visible text\n\n"
            f"`python -m eval.web_pages {args.folder}` on {len(rows)} saved pages.\n\n"
            + text
            + "\n",
            encoding="utf-8",
        )
    for r in rows:
        if r["main"]["leaked"]:
            print(f"{r['page']}: leaked {r['main']['leaked']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
