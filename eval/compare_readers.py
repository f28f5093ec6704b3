"""Readers side by side: EM, F1 and abstention from several ``rag eval`` runs, as a table and a
chart.

    python -m eval.compare_readers "sample test, offline=var/eval/metrics.json:test" \\
        "sample test, neural=var/eval-neural/metrics.json:test" --chart docs/readers.png

Each argument is ``LABEL=METRICS_JSON[:SPLIT]``: a run's ``metrics.json`` and the split to
read (its ``overall`` figures without one). Prints a markdown table; ``--chart`` writes grouped
bars (EM and F1 per run, the share of answerable questions answered as a marker).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

COLUMNS = (
    "em",
    "f1",
    "evidence_hit",
    "citation_accuracy",
    "answerable_abstained",
    "unanswerable_abstained",
)


def read_run(spec: str) -> tuple[str, dict]:
    """``LABEL=PATH[:SPLIT]`` -> (label, the figures of that split, with reader and latency)."""
    label, _, where = spec.partition("=")
    if not where:
        raise SystemExit(f"expected LABEL=METRICS_JSON[:SPLIT], got {spec!r}")
    path, _, split = where.partition(":")
    m = json.loads(Path(path).read_text(encoding="utf-8"))
    figures = m["by_split"][split] if split else m["overall"]
    return label, {
        **figures,
        "reader": m.get("reader"),
        "questions": figures.get("n", m.get("questions")),
        "p50_ms": m.get("latency_ms", {}).get("p50"),
    }


def table(runs: Sequence[tuple[str, dict]]) -> str:
    head = ["run", "n", *COLUMNS, "p50 ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label, f in runs:
        cells = [label, str(f.get("questions", ""))]
        cells += ["–" if f.get(c) is None else f"{f[c]:.1f}" for c in COLUMNS]
        cells.append("–" if f.get("p50_ms") is None else f"{f['p50_ms']:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def chart(runs: Sequence[tuple[str, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(runs))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(runs)), 4))
    em = [f.get("em") or 0 for _, f in runs]
    f1 = [f.get("f1") or 0 for _, f in runs]
    ax.bar(x - 0.18, em, 0.36, label="EM")
    ax.bar(x + 0.18, f1, 0.36, label="F1")
    answered = [100 - (f.get("answerable_abstained") or 0) for _, f in runs]
    ax.plot(x, answered, "kD", label="answerable answered %")
    for i, (a, b) in enumerate(zip(em, f1)):
        ax.text(i - 0.18, a + 1, f"{a:.1f}", ha="center", fontsize=8)
        ax.text(i + 0.18, b + 1, f"{b:.1f}", ha="center", fontsize=8)
    ax.set_xticks(x, [label for label, _ in runs], fontsize=8)
    ax.set_ylim(0, 118)
    ax.set_ylabel("%")
    ax.set_title("Readers: exact match and F1 by dataset")
    ax.legend(fontsize=8, loc="upper center", ncol=3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m eval.compare_readers", description=__doc__.split("\n")[0]
    )
    ap.add_argument("runs", nargs="+", help="LABEL=METRICS_JSON[:SPLIT]")
    ap.add_argument("--chart", type=Path, help="write the bar chart PNG here")
    args = ap.parse_args(argv)
    runs = [read_run(s) for s in args.runs]
    print(table(runs))
    if args.chart:
        chart(runs, args.chart)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
