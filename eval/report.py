"""Human-readable evaluation report: ``report.md`` plus one chart, ``report.png``.

``write_report(metrics, out)`` takes the dict that ``rag eval`` saves as ``metrics.json``.
Only ``metrics["overall"]`` is required; every other section is skipped when missing or
empty. Percent metrics are numbers in 0–100 (``None`` renders as "–"); curve and
calibration values are fractions in 0–1. The chart uses matplotlib's Agg backend and
English text only (no CJK font is assumed). Files are written atomically.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

_KEYS = "em f1 evidence_hit citation_accuracy answerable_abstained unanswerable_abstained"
_HEADS = "EM|F1|evidence hit|citation acc.|answerable abstained|unanswerable abstained"
COLUMNS = list(zip(_KEYS.split(), _HEADS.split("|")))  # (key in a group of metrics, header)
TARGET_NAMES = dict(COLUMNS) | {"answered_em": "EM when answered"}
UPPER_BOUNDS = {"answerable_abstained"}  # met when measured ≤ target; the others need ≥
SPLIT_STYLE = {"dev": ("tab:blue", "o"), "test": ("tab:orange", "s")}
DASH = "–"


def write_report(metrics: dict, out: Path) -> list[Path]:
    """Write out/report.md and the chart PNG(s) beside it; return the paths written.

    The chart is only drawn when there is something to plot (curves, per-type scores or
    calibration bins); a metrics dict with only ``overall`` yields ``report.md`` alone.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md, png = out / "report.md", out / "report.png"
    has_chart = bool(_curves(metrics) or _type_groups(metrics)[1] or _calibration(metrics))
    if has_chart:  # the image first, so the Markdown never links to a missing file
        atomic_write(png, "wb", lambda f: _draw_chart(metrics, f))
    text = render_markdown(metrics, png.name if has_chart else None)
    atomic_write(md, "w", lambda f: f.write(text))
    return [md, png] if has_chart else [md]


def render_markdown(metrics: Mapping[str, Any], image: str | None = None) -> str:
    """The report as Markdown text; ``image`` is the chart's file name, if one was drawn."""
    lines = [
        "# Evaluation report",
        "",
        f"Dataset `{metrics.get('dataset', DASH)}` · {metrics.get('questions', DASH)} questions · "
        f"reader `{metrics.get('reader', DASH)}` · embedder `{metrics.get('embedder', DASH)}` · "
        f"abstention threshold {_num(metrics.get('threshold'), 2)}",
        "",
    ]
    test = (metrics.get("by_split") or {}).get("test")
    targets = metrics.get("targets") or {}
    if test and targets:
        lines += ["## Test split vs targets", "", "| metric | target | measured | met? |"]
        lines += ["|---|---:|---:|:---:|"]
        for key, target in targets.items():
            measured = test.get(key)
            upper = key in UPPER_BOUNDS
            met = DASH
            if _finite(measured) and _finite(target):
                met = "✅" if (measured <= target if upper else measured >= target) else "❌"
            name, sign = TARGET_NAMES.get(key, key.replace("_", " ")), "≤" if upper else "≥"
            lines.append(f"| {name} | {sign} {_pct(target)} | {_pct(measured)} | {met} |")
        lines.append("")

    groups = {"overall": metrics["overall"], **(metrics.get("by_split") or {})}
    lines += ["## Overall and by split", "", *_table("group", groups), ""]
    if by_type := _type_groups(metrics, test_only=False)[1]:
        lines += ["## By question type (all splits)", "", *_table("type", by_type), ""]
    label, test_types = _type_groups(metrics)
    if label == "test" and test_types:
        lines += ["## By question type (test split)", "", *_table("type", test_types), ""]
    lines += [
        "Percentages. EM and F1 are over answerable questions (an abstention scores 0); "
        "evidence hit and citation accuracy over answered answerable questions.",
        "",
    ]

    if image:
        lines += ["## Chart", "", f"![Coverage/accuracy, scores by type, calibration]({image})", ""]
        thr = metrics.get("threshold")
        marked = f"the chosen threshold ({_num(thr, 2)}) is marked" if _finite(thr) else ""
        lines += [
            "Left: each point is an abstention threshold; lowering it answers more questions "
            "(coverage, x) usually at the cost of accuracy among those answered (y)"
            + (f"; {marked} on each split's curve." if marked else ".")
            + f" Middle: EM and F1 by question type ({label}), the dashed line "
            "is the EM target. Right: reliability diagram, mean confidence vs accuracy per "
            "confidence bin (bigger marker = more questions); points on the dashed diagonal are "
            "well calibrated, and the legend gives each split's ECE (lower is better).",
            "",
        ]

    lat = metrics.get("latency_ms") or {}
    if lat:
        parts = [f"{k} {_num(lat.get(k), 1)} ms" for k in ("p50", "p95", "mean") if k in lat]
        n = f" (n = {lat['n']})" if "n" in lat else ""
        lines += [f"**Latency per question:** {', '.join(parts)}{n}.", ""]
    return "\n".join(lines)


def _table(first: str, groups: Mapping[str, Mapping[str, Any]]) -> list[str]:
    head = f"| {first} | n | " + " | ".join(h for _, h in COLUMNS) + " |"
    rule = "|---|" + "---:|" * (len(COLUMNS) + 1)
    cells = {name: [_pct(g.get(k)) for k, _ in COLUMNS] for name, g in groups.items() if g}
    rows = [
        f"| {name} | {groups[name].get('n', DASH)} | {' | '.join(c)} |" for name, c in cells.items()
    ]
    return [head, rule, *rows]


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _pct(x: Any) -> str:
    return f"{x:.1f}" if _finite(x) else DASH


def _num(x: Any, digits: int) -> str:
    return f"{x:.{digits}f}" if _finite(x) else DASH


def _curves(metrics: Mapping[str, Any]) -> dict[str, list[dict]]:
    return {s: pts for s, pts in (metrics.get("curves") or {}).items() if pts}


def _calibration(metrics: Mapping[str, Any]) -> dict[str, dict]:
    cal = metrics.get("calibration") or {}
    return {s: c for s, c in cal.items() if c and c.get("bins")}


def _type_groups(metrics: Mapping[str, Any], test_only: bool = True) -> tuple[str, dict]:
    """("test", by_split_type.test) when present and wanted, else ("all splits", by_type)."""
    test = (metrics.get("by_split_type") or {}).get("test")
    if test_only and test:
        return "test", test
    return "all splits", metrics.get("by_type") or {}


def _draw_chart(metrics: Mapping[str, Any], f: IO[bytes]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.5), dpi=120, layout="constrained")
    ax_cov, ax_type, ax_cal = fig.subplots(1, 3)
    _plot_curves(ax_cov, _curves(metrics), metrics.get("threshold"))
    label, types = _type_groups(metrics)
    _plot_types(ax_type, types, label, (metrics.get("targets") or {}).get("em"))
    _plot_calibration(ax_cal, _calibration(metrics))
    fig.savefig(f, format="png", dpi=120)


def _no_data(ax: Any, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="gray")
    ax.set_xticks([])
    ax.set_yticks([])


def _plot_curves(ax: Any, curves: dict[str, list[dict]], threshold: Any) -> None:
    title = "Coverage vs accuracy (by threshold)"
    if not curves:
        return _no_data(ax, title)
    marks = []  # (accuracy, coverage, split, colour, threshold of the marked point)
    for i, (split, pts) in enumerate(curves.items()):
        pts = [p for p in pts if _finite(p.get("coverage")) and _finite(p.get("accuracy"))]
        if not pts:
            continue
        color, marker = SPLIT_STYLE.get(split, (f"C{i + 2}", "^"))
        x, y = [100 * p["coverage"] for p in pts], [100 * p["accuracy"] for p in pts]
        ax.plot(x, y, color=color, lw=1.5, label=split)
        if _finite(threshold):
            best = min(pts, key=lambda p: abs(p.get("threshold", math.inf) - threshold))
            bx, by = 100 * best["coverage"], 100 * best["accuracy"]
            ax.plot(bx, by, marker=marker, ms=10, mfc="none", mec=color, mew=2)
            marks.append((by, bx, split, color, best.get("threshold", threshold)))
    # Labels stacked in the lower-left corner (empty under a falling curve), lowest point lowest.
    for slot, (by, bx, split, color, t) in enumerate(sorted(marks)):
        ax.annotate(
            f"{split} at t={t:.2f}: coverage {bx:.0f}%, accuracy {by:.0f}%",
            (bx, by),
            xytext=(0.03, 0.05 + 0.08 * slot),
            textcoords="axes fraction",
            fontsize=8,
            color=color,
            arrowprops={"arrowstyle": "->", "color": color, "lw": 0.8, "relpos": (1, 0.5)},
        )
    if marks:  # one legend entry for the rings
        ax.plot([], [], "o", mfc="none", mec="k", mew=2, label=f"chosen threshold {threshold:.2f}")
    ax.set(title=title, xlabel="coverage: % of questions answered", ylabel="accuracy (%)")
    ax.set_xlim(0, 102)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)


def _plot_types(ax: Any, types: Mapping[str, Mapping], label: str, em_target: Any) -> None:
    title = f"EM and F1 by question type ({label})"
    types = {t: g for t, g in types.items() if g}
    if not types:
        return _no_data(ax, title)
    names, w = list(types), 0.38
    xs = range(len(names))
    for offset, key, color in ((-w / 2, "em", "tab:blue"), (w / 2, "f1", "tab:green")):
        vals = [types[t].get(key) for t in names]
        heights = [v if _finite(v) else 0.0 for v in vals]
        bars = ax.bar([x + offset for x in xs], heights, w, label=key.upper(), color=color)
        ax.bar_label(bars, labels=[f"{v:.0f}" if _finite(v) else DASH for v in vals], fontsize=7)
    if _finite(em_target):
        ax.axhline(em_target, ls="--", color="tab:red", lw=1, label=f"EM target ({em_target:g}%)")
    ax.set_xticks(list(xs), [f"{t}\n(n={types[t].get('n', '?')})" for t in names], fontsize=8)
    ax.set(title=title, ylabel="score (%)", ylim=(0, 119))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper center", ncol=3, fontsize=8)


def _plot_calibration(ax: Any, cal: Mapping[str, Mapping]) -> None:
    title = "Reliability (per confidence bin)"
    if not cal:
        return _no_data(ax, title)
    ax.plot([0, 1], [0, 1], ls="--", color="gray", lw=1, label="perfect calibration")
    counts = [b.get("n") or 0 for c in cal.values() for b in c["bins"]]
    biggest = max(counts, default=0) or 1
    for i, (split, c) in enumerate(cal.items()):
        bins = [b for b in c["bins"] if b.get("n") and _finite(b.get("confidence"))]
        bins = [b for b in bins if _finite(b.get("accuracy"))]
        color, marker = SPLIT_STYLE.get(split, (f"C{i + 2}", "^"))
        ece = c.get("ece")
        name = f"{split} (ECE {ece:.3f})" if _finite(ece) else split
        x, y = [b["confidence"] for b in bins], [b["accuracy"] for b in bins]
        ax.plot(x, y, color=color, lw=1, alpha=0.7)
        sizes = [15 + 185 * b["n"] / biggest for b in bins]  # marker area by bin count
        ax.scatter(x, y, s=sizes, color=color, marker=marker, alpha=0.75, label=name)
    ax.set(title=title, xlabel="mean confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_aspect("equal", adjustable="box")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, markerscale=0.6)


def atomic_write(path: Path, mode: str, write: Callable[[Any], Any]) -> None:
    """Write through ``write(f)`` to a temp file beside ``path``, then ``os.replace`` it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    kwargs = {"encoding": "utf-8", "newline": "\n"} if "b" not in mode else {}
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 is needlessly private for a report
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
