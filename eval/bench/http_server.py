"""``rag serve`` as a benchmark's subprocess: on 127.0.0.1 and a free port, in its own process
group, ready when every worker has started; optionally with uvicorn's listening socket
patched to get TCP_NODELAY (``python -m eval.bench.http_server serve ...`` runs that patch).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.bench.procs import spawn, stop
from eval.bench.support import ROOT

HOST = "127.0.0.1"


def rag_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("rag")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "rag.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """``rag serve`` on 127.0.0.1 in its own process group; ready when every worker has started."""

    def __init__(
        self,
        index_dir: Path,
        workers: int,
        log: Path,
        ready_timeout: float,
        nodelay: bool = False,
        reader: str = "offline",
    ) -> None:
        self.index_dir, self.workers, self.log = index_dir, workers, log
        self.nodelay = nodelay
        self.ready_timeout = ready_timeout
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.ready_s = 0.0
        launcher = [sys.executable, "-m", "eval.bench.http_server"]
        self.cmd = [
            *(launcher if nodelay else rag_cmd()),
            "serve",
            "--index-dir",
            str(index_dir),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--reader",
            reader,
        ]

    def start(self, attempts: int = 2) -> Server:
        for attempt in range(1, attempts + 1):
            try:
                return self._start()
            except (RuntimeError, TimeoutError) as e:
                self.stop()
                tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
                print(f"    start-up attempt {attempt} failed: {e}\n{tail}", flush=True)
                if attempt == attempts:
                    raise
                self.port = free_port()
                self.url = f"http://{HOST}:{self.port}"
                self.cmd[self.cmd.index("--port") + 1] = str(self.port)
        raise AssertionError("unreachable")

    def _start(self) -> Server:
        env = {k: v for k, v in os.environ.items() if k != "RAG_API_KEY"}
        env["HF_HUB_OFFLINE"] = "1"
        t0 = time.perf_counter()
        with self.log.open("w") as log:
            self.proc = spawn(self.cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        deadline = t0 + self.ready_timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rag serve exited ({self.proc.returncode}); see {self.log}")
            started = self.log.read_text(errors="replace").count("Application startup complete")
            if started >= self.workers and self.health() is not None:
                self.ready_s = time.perf_counter() - t0
                return self
            time.sleep(0.25)
        raise TimeoutError(f"rag serve not ready after {self.ready_timeout:.0f}s; see {self.log}")

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                return json.loads(r.read()) if r.status == 200 else None
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def ask(self, question: str) -> tuple[int, dict]:
        req = urllib.request.Request(
            self.url + "/ask",
            data=json.dumps({"question": question}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve_with_nodelay(argv: Sequence[str]) -> int:
    """``rag <argv>`` with uvicorn's pre-bound listening socket marked IPPROTO_TCP.

    With ``--workers N`` uvicorn binds the socket itself (``Config.bind_socket``) with
    ``proto`` 0; accepted sockets inherit it, and asyncio sets TCP_NODELAY only when ``proto``
    is IPPROTO_TCP — so Nagle's algorithm stays on and a keep-alive response whose headers
    and body are written separately waits for the client's delayed ACK (~40 ms on Linux;
    uvicorn issue #3149). Re-wrapping the descriptor with IPPROTO_TCP is the workaround
    measured by ``--nodelay``. ``rag serve`` applies the same fix itself
    (``api.server._nodelay_for_workers``), so this patch finds ``proto`` already set and the
    ``--nodelay`` rows are a control that the service's fix works.
    """
    import uvicorn.config

    bind = uvicorn.config.Config.bind_socket

    def bind_tcp(self: Any) -> socket.socket:
        sock = bind(self)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        return sock

    uvicorn.config.Config.bind_socket = bind_tcp
    from rag.cli import main as rag_main

    return rag_main(list(argv))


if __name__ == "__main__":
    sys.exit(serve_with_nodelay(sys.argv[1:]))
