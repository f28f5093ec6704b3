"""Subprocesses of a benchmark, and what they cost, read from ``/proc`` (Linux).

Every subprocess is started as the leader of its own session, remembered, and killed by its
process group id on exit (:func:`stop_all`), so that a benchmark interrupted midway leaves no
server or load generator behind. CPU time and memory are summed over a process tree (a
server's supervisor and its workers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")

_STARTED: dict[int, subprocess.Popen] = {}


def spawn(cmd: Sequence[str], **kwargs: Any) -> subprocess.Popen:
    """Start ``cmd`` as the leader of a new process group and remember it for clean-up."""
    proc = subprocess.Popen(list(cmd), start_new_session=True, **kwargs)
    _STARTED[proc.pid] = proc
    return proc


def stop(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the process group of ``proc`` (which we started), SIGKILL it after ``grace`` s."""
    pgid = proc.pid  # start_new_session: the process group id is the leader's pid
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    # workers of a supervisor that has exited already, or one that ignored SIGTERM
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait(5)
    _STARTED.pop(proc.pid, None)


def forget(proc: subprocess.Popen) -> None:
    """``proc`` was reaped by its caller: nothing to clean up."""
    _STARTED.pop(proc.pid, None)


def stop_all() -> None:
    for proc in list(_STARTED.values()):
        try:
            stop(proc, grace=5.0)
        except Exception as e:  # clean-up must go on for the others
            print(f"warning: could not stop pid {proc.pid}: {e}", file=sys.stderr)


# -- /proc: process tree, CPU and memory ----------------------------------------------------
def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants that are alive now."""
    parent: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            pp = _ppid(int(entry.name))
            if pp is not None:
                parent[int(entry.name)] = pp
    tree, frontier = [root], [root]
    while frontier:
        nxt = [p for p, pp in parent.items() if pp in frontier]
        tree += nxt
        frontier = nxt
    return tree


def status_kib(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of the live processes ``pids``."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return total / CLK_TCK


def system_busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine so far (all cores; /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


class MemorySampler:
    """Peak of the summed VmRSS and PSS of a process tree, sampled in a thread."""

    def __init__(self, root: int, every: float = 0.25) -> None:
        self.root, self.every = root, every
        self.peak_rss_kib = 0
        self.peak_pss_kib = 0
        self.hwm_kib: dict[int, int] = {}  # per process: its last VmHWM seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        pids = process_tree(self.root)
        self.peak_rss_kib = max(self.peak_rss_kib, sum(status_kib(p, "VmRSS") for p in pids))
        self.peak_pss_kib = max(self.peak_pss_kib, sum(pss_kib(p) for p in pids))
        for p in pids:
            self.hwm_kib[p] = max(self.hwm_kib.get(p, 0), status_kib(p, "VmHWM"))

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self) -> MemorySampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def sum_hwm_kib(self) -> int:
        return sum(self.hwm_kib.values())
