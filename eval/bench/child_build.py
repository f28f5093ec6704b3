"""Building an index for a benchmark, in a child process that reports what the build cost.

``build_in_child`` runs ``python -m eval.bench.child_build CORPUS INDEX_DIR``: the child builds
(full, offline embedder) and prints one JSON line with its wall time and peak memory, read
from its own ``/proc/self/status`` so that the parent's memory is not counted.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from eval.bench.support import SCALE_LADDER, write_synthetic
from index.store import IndexStore


@dataclass
class BuildResult:
    """What one ``build_index`` run in a child process cost."""

    scale: int
    seconds: float
    chunks: int
    articles: int
    files: int
    peak_rss_mib: float  # VmHWM of the child at the end of the build (peak RSS since exec)
    maxrss_mib: float  # getrusage(RUSAGE_SELF).ru_maxrss of the child (see _proc_status_kib)
    base_rss_mib: float  # VmRSS of the child after imports, before building
    disk_mib: float
    index_dir: Path
    vector_index: str = ""


def _mib(kib: float) -> float:
    return kib / 1024.0


def _dir_size_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def _proc_status_kib(field_name: str) -> int | None:
    """``VmHWM``/``VmRSS`` of this process from ``/proc/self/status``, in KiB (Linux only).

    Why not only ``ru_maxrss``: on Linux it survives ``execve``, so a child forked from a big
    parent reports at least the parent's RSS at fork time. ``VmHWM`` belongs to the new
    address space and is the child's own peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def child_build(corpus: str, index_dir: str) -> None:
    """Run in the child process: build the index, print one JSON line with cost figures.

    Progress goes to stderr; the result is the last stdout line.
    """
    import logging

    logging.basicConfig(level=logging.WARNING)
    from rag.indexing import build_index

    base_kib = _proc_status_kib("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    counts = {"read": 0, "embed": 0}
    last = [0.0]

    def progress(stage: str, n: int, total: int | None = None) -> None:
        """``build_index``'s progress: ``n`` more done of ``total`` (the fit: before and after)."""
        counts[stage] = counts.get(stage, 0) + n
        now = time.perf_counter() - t0
        if stage == "fit":
            if n:  # the fit's second call: it is done
                return
            print(
                f"    [{now:7.1f}s] read {counts['read']} files; fitting the offline embedder on {total} chunks",
                file=sys.stderr,
                flush=True,
            )
        elif now - last[0] >= 15 or (stage == "read" and counts["read"] == 1):
            last[0] = now
            print(
                f"    [{now:7.1f}s] read {counts['read']} files, embedded {counts['embed']} chunks",
                file=sys.stderr,
                flush=True,
            )

    done = threading.Event()

    def heartbeat() -> None:  # build_index reports nothing while it tokenises and fits
        while not done.wait(30):
            rss = _mib(_proc_status_kib("VmRSS") or 0)
            print(
                f"    [{time.perf_counter() - t0:7.1f}s] still building (RSS {rss:.0f} MiB)",
                file=sys.stderr,
                flush=True,
            )

    threading.Thread(target=heartbeat, daemon=True).start()
    try:
        report = build_index(corpus, index_dir, embedder="offline", full=True, progress=progress)
    finally:
        done.set()
    seconds = time.perf_counter() - t0
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_kib = _proc_status_kib("VmHWM") or maxrss_kib
    manifest = IndexStore.read_manifest(Path(index_dir))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "chunks": report.chunk_count,
                "articles": manifest.get("article_count", 0),
                "files": len(manifest.get("sources", {})),
                "vector_index": manifest.get("vector_index", ""),
                "peak_kib": peak_kib,
                "maxrss_kib": maxrss_kib,
                "base_kib": base_kib,
            }
        ),
        flush=True,
    )


def build_in_child(
    corpus: Path, index_dir: Path, scale: int, timeout: float | None
) -> BuildResult | None:
    """Build ``corpus`` into ``index_dir`` in a fresh Python process; ``None`` on timeout."""
    cmd = [sys.executable, "-m", "eval.bench.child_build", str(corpus), str(index_dir)]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:  # subprocess.run has killed (and reaped) the child
        return None
    d = json.loads(proc.stdout.strip().splitlines()[-1])
    live = IndexStore.live_version(index_dir)
    return BuildResult(
        scale=scale,
        seconds=d["seconds"],
        chunks=d["chunks"],
        articles=d["articles"],
        files=d["files"],
        peak_rss_mib=_mib(d["peak_kib"]),
        maxrss_mib=_mib(d["maxrss_kib"]),
        base_rss_mib=_mib(d["base_kib"]),
        disk_mib=_dir_size_mib(live),
        index_dir=index_dir,
        vector_index=d["vector_index"],
    )


def synthetic_build(
    corpus: Path, work: Path, scale: int, budget: float
) -> tuple[BuildResult | None, list[str]]:
    """Build the largest scale <= ``scale`` (from :data:`SCALE_LADDER`) that fits ``budget`` seconds."""
    notes: list[str] = []
    ladder = [scale] + [s for s in SCALE_LADDER if s < scale]
    for s in ladder:
        folder = work / f"synthetic-{s}x"
        n_bytes = write_synthetic(corpus, folder / "corpus", s)
        print(
            f"  synthetic {s}x: {len(list((folder / 'corpus').iterdir()))} files, {n_bytes / 2**20:.1f} MiB; building "
            f"(budget {budget:.0f}s)",
            flush=True,
        )
        res = build_in_child(folder / "corpus", folder / "index", s, timeout=budget)
        if res is not None:
            return res, notes
        msg = f"the {s}x build did not finish within {budget:.0f}s; it was stopped"
        print(f"  {msg}", flush=True)
        notes.append(msg)
        shutil.rmtree(folder, ignore_errors=True)
    return None, notes


if __name__ == "__main__":
    child_build(*sys.argv[1:3])
