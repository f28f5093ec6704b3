"""The results of the HTTP benchmark (``scripts/bench_http.py``) and how they are shown:
the index builds, the load levels and the servers measured, as tables against the targets,
a chart and a markdown report.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.bench.support import table

TARGETS = {
    "sample_p50_ms": 15.0,
    "sample_p99_ms": 60.0,
    "sample_rps": 200.0,
    "big_build_s": 120.0,
    "big_p50_ms": 30.0,
    "big_rss_mib": 2048.0,
}


@dataclass
class Build:
    scale: int
    seconds: float  # wall time of `rag index build`, process start to exit
    peak_mib: float  # VmHWM of the `rag index build` process itself
    tree_rss_mib: float  # peak of the summed VmRSS of its process tree (fork pools counted twice)
    tree_pss_mib: float  # peak of the summed PSS of its process tree (shared pages split)
    maxrss_mib: float  # wait4() ru_maxrss of the build process
    chunks: int
    articles: int
    files: int
    index_dir: Path
    text_mib: float = 0.0


@dataclass
class Level:
    workers: int
    clients: int
    requests: int
    seconds: float
    p50: float  # ms
    p90: float
    p95: float
    p99: float
    mean: float
    max: float
    socket_errors: int
    non2xx: int
    server_cpu_s: float
    wrk_cpu_s: float
    raw: dict = field(default_factory=dict)
    other_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non2xx

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.server_cpu_s / self.requests if self.requests else float("nan")


@dataclass
class Serving:
    corpus: str
    chunks: int
    workers: int
    nodelay: bool
    ready_s: float
    processes: int
    peak_rss_mib: float
    peak_pss_mib: float
    sum_hwm_mib: float
    idle_rss_mib: float
    levels: list[Level]


# -- tables, chart and report -----------------------------------------------------------------
def build_table(builds: Sequence[Build]) -> str:
    return table(
        [
            "corpus",
            "files",
            "articles",
            "chunks",
            "text MiB",
            "build wall s",
            "VmHWM MiB (main process)",
            "peak ΣPss MiB (process tree)",
            "peak ΣVmRSS MiB (process tree)",
            "ru_maxrss MiB",
        ],
        [
            [
                f"{b.scale}x" if b.scale != 1 else "sample (1x)",
                b.files,
                b.articles,
                b.chunks,
                b.text_mib,
                b.seconds,
                b.peak_mib,
                b.tree_pss_mib,
                b.tree_rss_mib,
                b.maxrss_mib,
            ]
            for b in builds
        ],
    )


def latency_table(servings: Sequence[Serving]) -> str:
    rows = []
    for s in servings:
        for lv in s.levels:
            rows.append(
                [
                    s.corpus,
                    s.chunks,
                    _workers(s),
                    lv.clients,
                    lv.requests,
                    lv.rps,
                    lv.p50,
                    lv.p90,
                    lv.p95,
                    lv.p99,
                    lv.max,
                    lv.socket_errors,
                    lv.non2xx,
                    lv.cpu_ms_per_request,
                    lv.server_cpu_s / lv.seconds if lv.seconds else 0.0,
                    lv.wrk_cpu_s / lv.seconds if lv.seconds else 0.0,
                    lv.other_cpu_s / lv.seconds if lv.seconds else 0.0,
                ]
            )
    return table(
        [
            "corpus",
            "chunks",
            "workers",
            "clients",
            "requests",
            "req/s",
            "p50 ms",
            "p90 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "socket errors",
            "non-2xx",
            "server CPU ms/req",
            "server cores busy",
            "wrk cores busy",
            "other cores busy",
        ],
        rows,
    )


def memory_table(servings: Sequence[Serving]) -> str:
    return table(
        [
            "corpus",
            "chunks",
            "workers",
            "processes",
            "ready s",
            "RSS at ready MiB",
            "peak ΣVmRSS MiB",
            "peak ΣPss MiB",
            "ΣVmHWM MiB",
        ],
        [
            [
                s.corpus,
                s.chunks,
                _workers(s),
                s.processes,
                s.ready_s,
                s.idle_rss_mib,
                s.peak_rss_mib,
                s.peak_pss_mib,
                s.sum_hwm_mib,
            ]
            for s in servings
        ],
    )


def _workers(s: Serving) -> str:
    return f"{s.workers}" + (" +NODELAY patch" if s.nodelay else "")


def _at(s: Serving, clients: int) -> Level | None:
    return next((lv for lv in s.levels if lv.clients == clients), None)


def targets_table(
    sample: Sequence[Serving], big: Sequence[Serving], big_build: Build | None, scale: int
) -> str:
    rows: list[list[Any]] = []

    def mark(ok: bool) -> str:
        return "met" if ok else "**missed**"

    t = TARGETS
    for s in sample:
        lv = _at(s, 8)
        if lv is None:
            continue
        w = f"sample, 8 clients, workers {_workers(s)}"
        rows.append([w, "p50 ≤ 15 ms", f"{lv.p50:.1f} ms", mark(lv.p50 <= t["sample_p50_ms"])])
        rows.append([w, "p99 ≤ 60 ms", f"{lv.p99:.1f} ms", mark(lv.p99 <= t["sample_p99_ms"])])
        rows.append([w, "≥ 200 req/s", f"{lv.rps:.0f} req/s", mark(lv.rps >= t["sample_rps"])])
        rows.append([w, "zero errors", str(lv.errors), mark(lv.errors == 0)])
    if big_build is not None:
        note = "" if big_build.scale == scale else f" (at {big_build.scale}x, not {scale}x)"
        rows.append(
            [
                f"{big_build.scale}x build{note}",
                "≤ 2 min, offline embedder",
                f"{big_build.seconds:.0f} s",
                mark(big_build.seconds <= t["big_build_s"]),
            ]
        )
    for s in big:
        lv = _at(s, 8)
        w = f"{s.corpus}, workers {_workers(s)}"
        if lv is not None:
            rows.append(
                [
                    f"{w}, 8 clients",
                    "/ask p50 ≤ 30 ms",
                    f"{lv.p50:.1f} ms",
                    mark(lv.p50 <= t["big_p50_ms"]),
                ]
            )
        rows.append(
            [
                w,
                "resident memory ≤ 2 GB (ΣVmHWM of the server's processes)",
                f"{s.sum_hwm_mib:.0f} MiB",
                mark(s.sum_hwm_mib <= t["big_rss_mib"]),
            ]
        )
    if big_build is not None:
        rows.append(
            [
                f"{big_build.scale}x build",
                "resident memory ≤ 2 GB (build: peak ΣPss of its process tree)",
                f"{big_build.tree_pss_mib:.0f} MiB",
                mark(max(big_build.tree_pss_mib, big_build.peak_mib) <= t["big_rss_mib"]),
            ]
        )
    return table(["where", "target", "measured", "verdict"], rows)


def write_chart(servings: Sequence[Serving], path: Path, clients: int = 8) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 5.2), dpi=120)
    ax1, ax2 = fig.subplots(1, 2)
    configs = sorted({(s.workers, s.nodelay) for s in servings})
    styles = ["-", "--", ":", "-."]
    top = max(lv.clients for s in servings for lv in s.levels)
    for n, (w, nd) in enumerate(configs):
        mine = [s for s in servings if (s.workers, s.nodelay) == (w, nd)]
        name = f"{w} worker{'s' if w > 1 else ''}" + (" +NODELAY" if nd else "")
        pts = sorted((s.chunks, _at(s, clients)) for s in mine if _at(s, clients))
        if not pts:
            continue
        for pname, color in (("p50", "C0"), ("p95", "C1"), ("p99", "C3")):
            ax1.plot(
                [c for c, _ in pts],
                [getattr(lv, pname) for _, lv in pts],
                styles[n % len(styles)],
                marker="o",
                color=color,
                label=f"{pname}, {name}",
            )
        for c_level, marker in sorted({(clients, "o"), (top, "s")}):
            pts2 = sorted((s.chunks, _at(s, c_level)) for s in mine if _at(s, c_level))
            ax2.plot(
                [c for c, _ in pts2],
                [lv.rps for _, lv in pts2],
                styles[n % len(styles)],
                marker=marker,
                color=f"C{n}",
                label=f"{name}, {c_level} clients",
            )
    for ax, y, text in (
        (ax1, TARGETS["sample_p50_ms"], "target p50 (sample) 15 ms"),
        (ax1, TARGETS["big_p50_ms"], "target p50 (100x) 30 ms"),
        (ax1, TARGETS["sample_p99_ms"], "target p99 (sample) 60 ms"),
        (ax2, TARGETS["sample_rps"], "target (sample) 200 req/s"),
    ):
        ax.axhline(y, color="grey", lw=0.8, ls=":")
        ax.text(0.01, y, text, fontsize=7, va="bottom", transform=ax.get_yaxis_transform())
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("corpus size (chunks, log scale)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    ax1.set_ylabel(f"POST /ask latency at {clients} clients (ms)")
    ax1.set_title(f"Latency percentiles, {clients} concurrent clients (wrk)", fontsize=9)
    ax2.set_ylabel("throughput (requests/s)")
    ax1.set_ylim(bottom=0)
    ax2.set_ylim(bottom=0, top=max(TARGETS["sample_rps"] * 1.15, ax2.get_ylim()[1]))
    ax2.set_title("Throughput", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def write_report(
    path: Path,
    info: dict[str, str],
    argv: Sequence[str],
    builds: Sequence[Build],
    servings: Sequence[Serving],
    targets: str,
    notes: Sequence[str],
    chart: Path | None,
    example_cmds: dict[str, str],
) -> None:
    lines = [
        "# HTTP benchmark: `POST /ask` end to end (`scripts/bench_http.py`)",
        "",
        "Written by `scripts/bench_http.py` from one run; a benchmark, not a test.",
        "",
        "## Machine",
        "",
        table(["", ""], [[k, v] for k, v in info.items()]),
        "",
        "## Commands",
        "",
        "```bash",
        "apt-get install -y --no-install-recommends wrk",
        f".venv/bin/python scripts/bench_http.py {shlex.join(argv)}".rstrip(),
        "```",
        "",
        "What the script runs (ports are free ports picked at run time):",
        "",
        "```bash",
        *example_cmds.values(),
        "```",
        "",
        "## Index build (`rag index build --embedder offline --full`, wall time of the process)",
        "",
        build_table(builds),
        "",
        "## `POST /ask` over HTTP (wrk, closed loop, questions rotated)",
        "",
        latency_table(servings),
        "",
        "## Server memory (process tree: supervisor + workers)",
        "",
        memory_table(servings),
        "",
        "## Targets (issue 6)",
        "",
        targets,
        "",
    ]
    if chart is not None:
        lines += [f"![latency and throughput against corpus size]({chart.name})", ""]
    if notes:
        lines += ["## Notes from the run", ""] + [f"- {n}" for n in notes] + [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
