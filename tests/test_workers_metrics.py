"""With several workers, a scrape of /metrics counts every worker's requests (prometheus
multiprocess mode), whichever worker answers it. A real `rag serve --workers 2` on
127.0.0.1, bounded in requests and time."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
ENV.pop("PROMETHEUS_MULTIPROC_DIR", None)
ASKED = 24


def _get(port: int, path: str, body: dict | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # a new connection:
    try:  # the kernel hands each to either worker
        if body is None:
            conn.request("GET", path)
        else:
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_two_workers_one_sum(tmp_path, offline_index):
    index = tmp_path / "index"
    shutil.copytree(offline_index, index)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "rag.cli", "serve", "--index-dir", str(index), "--reader",
           "offline", "--workers", "2", "--port", str(port)]  # fmt: skip
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(cmd, env=ENV, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        ready = 0
        while ready < 6:  # several answers in a row: both workers are up
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "not ready in 120 s"
            try:
                ready = ready + 1 if _get(port, "/readyz")[0] == 200 else 0
            except OSError:
                ready = 0
                time.sleep(0.3)
        for _ in range(ASKED):
            status, _ = _get(port, "/v1/ask", {"question": "古文化街被誉为什么？"})
            assert status == 200
        seen = set()
        for _ in range(8):
            text = _get(port, "/metrics")[1].decode()
            got = re.search(
                r'rag_http_requests_total\{method="POST",path="/v1/ask",status="200"\} (\S+)', text
            )
            assert got, text[:2000]
            seen.add(float(got.group(1)))
            assert re.search(r'rag_answers_total\{outcome="answered"\} 24\.0', text)
        assert seen == {float(ASKED)}  # every scrape, from either worker, counts all 24
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
