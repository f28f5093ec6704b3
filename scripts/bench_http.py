"""HTTP benchmark: ``POST /ask`` end to end on loopback, driven by ``wrk``, at 1× and N× the corpus.

One run measures, and prints as tables (nothing is asserted):

1. **Sample corpus** — ``rag index build`` (offline embedder, ``--full``) into a temporary
   folder, unless ``--index-dir`` gives a built index; then for each ``--workers`` count
   (default 1 and 2): ``rag serve`` as a subprocess on 127.0.0.1 and a free port, wait until
   every worker has started and ``/health`` answers, a short untimed warm-up, then for each
   ``--clients`` level (default 1, 8, 32 concurrent connections) ``wrk`` sends ``POST /ask``
   for ``--duration`` seconds, rotating through every question of ``eval/questions.jsonl``
   (each wrk thread starts at another offset). Reported: latency p50/p90/p95/p99/max,
   requests/s, socket errors and non-2xx answers (counted by the Lua script), the server's CPU
   time per request (utime+stime of the whole process tree), and the server's memory: peak
   of the summed VmRSS and PSS of its process tree (sampled every 0.25 s) and the sum of each
   process's VmHWM. The server is stopped (SIGTERM to its process group, SIGKILL after 15 s).
2. **Synthetic corpus** — ``--scale`` copies of every sample file (default 100; the corpus
   maker of ``scripts/bench_retrieval.py``), built with ``rag index build`` (wall time and peak
   memory of the build process) and served and loaded the same way. A build that runs over
   ``--build-timeout`` is stopped and the next smaller scale is tried.

Then a chart (latency percentiles and throughput against corpus size at 8 clients) and a
markdown report with the service's latency, throughput and memory targets.

Why wrk: a C load generator (Debian ``wrk``) that keeps N connections busy (closed loop)
with HdrHistogram-style latency percentiles, and whose Lua hooks can rotate the request
body through all questions and count non-2xx statuses; ``ab`` and ``hey`` send one fixed
body. It runs on the same 2 cores as the server, so its CPU time is reported as well.

Usage::

    apt-get install -y --no-install-recommends wrk
    python scripts/bench_http.py [--corpus ../shared/corpus] [--scale 100] [--workers 1,2]
                                 [--clients 1,8,32] [--duration 10]
                                 [--chart docs/bench_http.png] [--report docs/bench_http.md]

``--nodelay`` adds, for each ``--workers`` N > 1, a server whose listening socket is patched
to get TCP_NODELAY (see :func:`eval.bench.http_server.serve_with_nodelay`).

Only 127.0.0.1 is used. Every subprocess is started in its own session and killed (by its
process group id) on exit, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.bench.http_report import (
    Build,
    Level,
    Serving,
    build_table,
    latency_table,
    memory_table,
    targets_table,
    write_chart,
    write_report,
)
from eval.bench.http_server import Server, rag_cmd
from eval.bench.procs import (
    MemorySampler,
    cpu_seconds,
    forget,
    process_tree,
    pss_kib,
    spawn,
    status_kib,
    stop,
    stop_all,
    system_busy_seconds,
)
from eval.bench.support import (
    ROOT,
    SCALE_LADDER,
    code_version,
    cpu_model,
    write_synthetic,
)
from eval.dataset import DEFAULT_DATASET, load_questions


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# -- building an index --------------------------------------------------------------------------
def build_index(
    corpus: Path, index_dir: Path, scale: int, timeout: float, log: Path
) -> Build | None:
    """``rag index build CORPUS --index-dir DIR --embedder offline --full``; None on timeout."""
    cmd = [*rag_cmd(), "index", "build", str(corpus), "--index-dir", str(index_dir)]
    cmd += ["--embedder", "offline", "--full", "--json"]
    print(f"  $ {shlex.join(cmd)}", flush=True)
    out_path = log.with_suffix(".json")
    with out_path.open("w") as out, log.open("w") as err:
        t0 = time.perf_counter()
        proc = spawn(cmd, stdout=out, stderr=err, cwd=ROOT)
        peak = tree_rss = tree_pss = 0
        last_note = last_pss = t0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                seconds = time.perf_counter() - t0
                proc.returncode = os.waitstatus_to_exitcode(status)
                forget(proc)
                break
            tree = process_tree(proc.pid)
            peak = max(peak, status_kib(proc.pid, "VmHWM"))
            tree_rss = max(tree_rss, sum(status_kib(p, "VmRSS") for p in tree))
            now = time.perf_counter()
            if now - last_pss >= 0.5 or len(tree) > 1:  # smaps_rollup costs more
                last_pss = now
                tree_pss = max(tree_pss, sum(pss_kib(p) for p in tree))
            if now - t0 > timeout:
                stop(proc, grace=5.0)
                print(f"  the {scale}x build ran over {timeout:.0f}s and was stopped", flush=True)
                return None
            if now - last_note >= 30:
                last_note = now
                print(
                    f"    [{now - t0:6.0f}s] building; RSS {status_kib(proc.pid, 'VmRSS') / 1024:.0f} MiB",
                    flush=True,
                )
            time.sleep(0.2)
    if proc.returncode != 0:
        raise RuntimeError(f"rag index build failed ({proc.returncode}); see {log}")
    report = json.loads(out_path.read_text())
    manifest = json.loads(
        (index_dir / (index_dir / "CURRENT").read_text().strip() / "manifest.json").read_text()
    )
    return Build(
        scale=scale,
        seconds=seconds,
        peak_mib=(peak or usage.ru_maxrss) / 1024,
        tree_rss_mib=tree_rss / 1024,
        tree_pss_mib=tree_pss / 1024,
        maxrss_mib=usage.ru_maxrss / 1024,
        chunks=int(report.get("chunk_count", manifest.get("chunk_count", 0))),
        articles=int(manifest.get("article_count", 0)),
        files=len(manifest.get("sources", {})),
        index_dir=index_dir,
    )


def index_counts(index_dir: Path) -> tuple[int, int, int]:
    manifest = json.loads(
        (index_dir / (index_dir / "CURRENT").read_text().strip() / "manifest.json").read_text()
    )
    return manifest["chunk_count"], manifest["article_count"], len(manifest.get("sources", {}))


# -- the load generator ---------------------------------------------------------------------------
LUA = r"""
-- written by scripts/bench_http.py: POST /ask, rotating through the eval questions
local bodies = {
%(bodies)s
}
local n = #bodies
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  idx = ((tid or 1) - 1) * 131 %% n
  non2xx = 0
  headers = {["Content-Type"] = "application/json"}
end

function request()
  idx = idx %% n + 1
  return wrk.format("POST", "/ask", headers, bodies[idx])
end

function response(status, hdrs, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local non = 0
  for _, t in ipairs(threads) do non = non + (t:get("non2xx") or 0) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, "connect": %%d, "read": %%d, ' ..
    '"write": %%d, "status": %%d, "timeout": %%d, "non2xx": %%d, "p50": %%f, "p90": %%f, ' ..
    '"p95": %%f, "p99": %%f, "mean": %%f, "max": %%f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, non, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.mean, latency.max))
end
"""


def write_lua(questions: Sequence[str], path: Path) -> Path:
    bodies = []
    for q in questions:
        body = json.dumps({"question": q})  # ASCII only: \uXXXX escapes
        assert "]==]" not in body
        bodies.append(f"  [==[{body}]==],")
    path.write_text(LUA % {"bodies": "\n".join(bodies)})
    return path


def run_wrk(
    server: Server, lua: Path, clients: int, duration: float, timeout_s: float
) -> dict[str, Any]:
    threads = max(1, min(clients, os.cpu_count() or 1))
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{clients}",
        f"-d{duration:g}s",
        f"--timeout={timeout_s:g}s",
        "-s",
        str(lua),
        server.url + "/ask",
    ]
    proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=duration + timeout_s + 30)
    finally:
        stop(proc, grace=2.0)
    line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {out}\n{err}")
    return {"cmd": cmd, **json.loads(line.removeprefix("BENCH_JSON "))}


def _self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def measure_levels(
    server: Server, lua: Path, clients: Sequence[int], duration: float, warmup: float
) -> list[Level]:
    assert server.proc is not None
    if warmup > 0:
        run_wrk(server, lua, max(clients), warmup, 10)
    levels = []
    for c in clients:
        pids = process_tree(server.proc.pid)
        cpu0, sys0, self0 = cpu_seconds(pids), system_busy_seconds(), _self_cpu()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        d = run_wrk(server, lua, c, duration, 10)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu1, sys1, self1 = cpu_seconds(pids), system_busy_seconds(), _self_cpu()
        lvl = Level(
            workers=server.workers,
            clients=c,
            requests=d["requests"],
            seconds=d["duration_us"] / 1e6,
            p50=d["p50"] / 1000,
            p90=d["p90"] / 1000,
            p95=d["p95"] / 1000,
            p99=d["p99"] / 1000,
            mean=d["mean"] / 1000,
            max=d["max"] / 1000,
            socket_errors=d["connect"] + d["read"] + d["write"] + d["timeout"],
            non2xx=d["non2xx"],
            server_cpu_s=cpu1 - cpu0,
            wrk_cpu_s=(ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
            raw=d,
        )
        # everything else the machine did meanwhile (other users of this VM, and this script)
        lvl.other_cpu_s = max(
            0.0, (sys1 - sys0) - lvl.server_cpu_s - lvl.wrk_cpu_s - (self1 - self0)
        )
        levels.append(lvl)
        print(
            f"    {c:>3} clients: {lvl.requests} requests, {lvl.rps:.0f} req/s, p50 {lvl.p50:.1f} ms, "
            f"p99 {lvl.p99:.1f} ms, errors {lvl.errors}, server CPU {lvl.cpu_ms_per_request:.1f} ms/req, "
            f"other processes {lvl.other_cpu_s / lvl.seconds:.2f} cores",
            flush=True,
        )
    return levels


def serve_and_measure(
    label: str, index_dir: Path, chunks: int, args: argparse.Namespace, work: Path, lua: Path
) -> list[Serving]:
    out = []
    configs = [(w, False) for w in args.workers]
    configs += [(w, True) for w in args.workers if w > 1 and args.nodelay]
    for w, nodelay in configs:
        tag = " (TCP_NODELAY patch)" if nodelay else ""
        print(f"  {label}: rag serve --workers {w}{tag}", flush=True)
        log = work / f"serve-{label.replace(' ', '-')}-{w}w{'-nodelay' if nodelay else ''}.log"
        server = Server(index_dir, w, log, args.ready_timeout, nodelay, args.reader)
        with server:
            assert server.proc is not None
            procs = process_tree(server.proc.pid)
            idle = sum(status_kib(p, "VmRSS") for p in procs) / 1024
            status, answer = server.ask("天津港2023年的集装箱航线有多少条？")
            print(
                f"    ready in {server.ready_s:.1f}s, {len(procs)} processes, {idle:.0f} MiB; "
                f"check: {status} {answer.get('answer')!r}",
                flush=True,
            )
            with MemorySampler(server.proc.pid) as mem:
                levels = measure_levels(server, lua, args.clients, args.duration, args.warmup)
        out.append(
            Serving(
                corpus=label,
                chunks=chunks,
                workers=w,
                nodelay=nodelay,
                ready_s=server.ready_s,
                processes=len(procs),
                peak_rss_mib=mem.peak_rss_kib / 1024,
                peak_pss_mib=mem.peak_pss_kib / 1024,
                sum_hwm_mib=mem.sum_hwm_kib / 1024,
                idle_rss_mib=idle,
                levels=levels,
            )
        )
    return out


# -- report ---------------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        wrk_v = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
        wrk_v = wrk_v.splitlines()[0].split(" [")[0] if wrk_v else "?"
    except OSError:
        wrk_v = "not installed"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "memory": f"{mem_gib:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": wrk_v,
        "code": code_version(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


# -- main ------------------------------------------------------------------------------------------
def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument(
        "--index-dir", type=Path, help="a built index of the sample corpus (else built)"
    )
    ap.add_argument("--scale", type=int, default=100, help="synthetic corpus size (0: skip)")
    ap.add_argument(
        "--synthetic-index-dir", type=Path, help="a built synthetic index (skips its build)"
    )
    ap.add_argument("--workers", type=_ints, default=[1, 2], help="comma list (default 1,2)")
    ap.add_argument("--clients", type=_ints, default=[1, 8, 32], help="comma list (default 1,8,32)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per client level")
    ap.add_argument(
        "--warmup",
        type=float,
        default=10.0,
        help="untimed seconds of load at the highest client level before the timed levels",
    )
    ap.add_argument("--build-timeout", type=float, default=480.0, help="per synthetic build, s")
    ap.add_argument("--ready-timeout", type=float, default=300.0, help="server start-up, s")
    ap.add_argument("--chart", type=Path, help="write the chart PNG here")
    ap.add_argument("--report", type=Path, help="write the markdown report here")
    ap.add_argument(
        "--nodelay",
        action="store_true",
        help="also measure every --workers N>1 server with uvicorn's listening socket patched "
        "to IPPROTO_TCP, so accepted connections get TCP_NODELAY (uvicorn issue #3149); rag "
        "serve does this itself, so the patched run is a control",
    )
    ap.add_argument("--reader", default="offline", help="the served reader (offline, neural, auto)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (path printed)")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print(
            "error: wrk is not installed (apt-get install -y --no-install-recommends wrk)",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
    # Ctrl-C stops the run even when started where SIGINT was ignored (e.g. `cmd &`)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    atexit.register(stop_all)
    work = Path(tempfile.mkdtemp(prefix="rag-bench-http-"))
    try:
        return run(args, argv, work)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping subprocesses", file=sys.stderr)
        return 130
    finally:
        stop_all()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, argv: Sequence[str], work: Path) -> int:
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"work folder {work}\n", flush=True)
    questions = [q.question for q in load_questions(DEFAULT_DATASET)]
    lua = write_lua(questions, work / "ask.lua")
    print(f"{len(questions)} questions from {DEFAULT_DATASET.name}, rotated; wrk script {lua}")
    builds: list[Build] = []
    notes: list[str] = []
    servings: list[Serving] = []

    # 1. sample corpus
    print("[1/2] sample corpus", flush=True)
    if args.index_dir:
        sample_dir = args.index_dir
        notes.append(f"sample index reused from {sample_dir} (its build was not timed)")
    else:
        sample_dir = work / "sample-index"
        b = build_index(args.corpus, sample_dir, 1, args.build_timeout, work / "build-1x.log")
        assert b is not None
        b.text_mib = sum(p.stat().st_size for p in args.corpus.iterdir() if p.is_file()) / 2**20
        builds.append(b)
        print(
            f"  built in {b.seconds:.1f}s, {b.chunks} chunks, peak {b.peak_mib:.0f} MiB", flush=True
        )
    chunks = index_counts(sample_dir)[0]
    sample = serve_and_measure("sample", sample_dir, chunks, args, work, lua)
    servings += sample

    # 2. synthetic corpus
    big_build: Build | None = None
    big: list[Serving] = []
    if args.scale > 0:
        print(f"[2/2] synthetic corpus, {args.scale}x", flush=True)
        if args.synthetic_index_dir:
            big_dir = args.synthetic_index_dir
            notes.append(f"synthetic index reused from {big_dir} (its build was not timed here)")
            label = f"synthetic ({big_dir.name})"
        else:
            big_build = build_synthetic(args, work, notes)
            if big_build is not None:
                builds.append(big_build)
            if big_build is None:
                notes.append("no synthetic scale was built within the time budget")
            else:
                if big_build.scale != args.scale:
                    notes.append(f"fell back from {args.scale}x to {big_build.scale}x")
                print(
                    f"  built in {big_build.seconds:.1f}s, {big_build.chunks} chunks, "
                    f"peak {big_build.peak_mib:.0f} MiB",
                    flush=True,
                )
                big_dir = big_build.index_dir
                label = f"synthetic {big_build.scale}x"
        if args.synthetic_index_dir or big_build is not None:
            big = serve_and_measure(label, big_dir, index_counts(big_dir)[0], args, work, lua)
            servings += big

    # report
    print("\n## Index build (rag index build --embedder offline --full)\n")
    print(build_table(builds) if builds else "(no build timed)")
    print("\n## POST /ask over HTTP (wrk; latency in ms)\n")
    print(latency_table(servings))
    print("\n## Server memory (process tree)\n")
    print(memory_table(servings))
    targets = targets_table(sample, big, big_build, args.scale)
    print("\n## Targets\n")
    print(targets)
    for n in notes:
        print(f"NOTE: {n}")
    if args.chart:
        write_chart(servings, args.chart)
        print(f"\nchart: {args.chart}")
    if args.report:
        cmds = example_commands(args.duration, work, args.reader)
        write_report(args.report, info, argv, builds, servings, targets, notes, args.chart, cmds)
        print(f"report: {args.report}")
    return 0


def example_commands(duration: float, work: Path, reader: str) -> dict[str, str]:
    """What the run started, for the report (ports and folders as placeholders)."""
    example = Server(Path("INDEX_DIR"), 2, work / "x.log", 0, reader=reader)
    return {
        "build": "rag index build CORPUS --index-dir INDEX_DIR --embedder offline --full --json",
        "serve": shlex.join(example.cmd)
        .replace(str(example.port), "PORT")
        .replace(rag_cmd()[0], "rag"),
        "wrk": f"wrk -t2 -c8 -d{duration:g}s --timeout=10s -s ask.lua http://127.0.0.1:PORT/ask"
        "   # -t1 for 1 client; ask.lua rotates the 276 questions",
    }


def build_synthetic(args: argparse.Namespace, work: Path, notes: list[str]) -> Build | None:
    """The largest scale up to ``--scale`` (from :data:`SCALE_LADDER`) that builds within
    ``--build-timeout``; what was stopped goes into ``notes``."""
    for s in [args.scale] + [x for x in SCALE_LADDER if x < args.scale]:
        folder = work / f"synthetic-{s}x"
        n_bytes = write_synthetic(args.corpus, folder / "corpus", s)
        print(f"  {s}x: {n_bytes / 2**20:.1f} MiB of text; building", flush=True)
        build = build_index(
            folder / "corpus", folder / "index", s, args.build_timeout, work / f"build-{s}x.log"
        )
        if build is not None:
            build.text_mib = n_bytes / 2**20
            return build
        notes.append(f"the {s}x build ran over {args.build_timeout:.0f}s and was stopped")
        shutil.rmtree(folder, ignore_errors=True)
    return None


if __name__ == "__main__":
    sys.exit(main())
