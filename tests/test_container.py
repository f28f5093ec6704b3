"""The container: the Dockerfile's promises, and its entry script run directly (docker
itself may not run here), indexing a mounted corpus and serving it on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENTRY = ROOT / "scripts" / "docker-entrypoint.sh"
RAG_BIN = Path(sys.executable).parent / "rag"
DOC = (
    "# 翠屏山索道通车\n\n"
    "本报讯 翠屏山索道于2024年9月1日正式通车，全长2.6公里，共有轿厢86个，"
    "单向每小时运送游客1800人次。\n"
)


def test_the_dockerfile_builds_what_the_readme_promises():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    assert "scripts/torch_source.py torch==2.13.0" in text  # the CPU build of torch
    assert 'pip install ".[models]"' in text  # runtime extras only, not train/test
    assert "rag models install" in text and "warm_up()" in text  # model at build time
    users = [ln.split()[1] for ln in text.splitlines() if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert 'VOLUME ["/data/corpus", "/data/index"]' in text
    assert "HEALTHCHECK" in text and "/readyz" in text
    assert 'ENTRYPOINT ["scripts/docker-entrypoint.sh"]' in text
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", "var", ".git"} <= set(ignored)


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "RAG_CORPUS_DIR": str(tmp_path / "corpus"),
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "RAG_BIN": str(RAG_BIN),
        "HOST": "127.0.0.1",
        "HF_HUB_OFFLINE": "1",
        **more,
    }


def test_other_commands_go_to_rag(tmp_path):
    import rag

    r = subprocess.run([str(ENTRY), "--version"], env=_env(tmp_path), capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0 and r.stdout.strip() == f"rag-zh {rag.__version__}"


def test_no_documents_and_no_index_is_a_clear_error(tmp_path):
    (tmp_path / "corpus").mkdir()
    r = subprocess.run([str(ENTRY)], env=_env(tmp_path), capture_output=True, text=True,
                       timeout=60)  # fmt: skip
    assert r.returncode == 2 and "mount a folder of documents" in r.stderr


def test_serve_indexes_the_mounted_corpus_and_answers(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "news.txt").write_text(DOC, encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([str(ENTRY)], env=_env(tmp_path, PORT=str(port)), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "not ready in 240 s"
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        req = urllib.request.Request(
            base + "/v1/ask",
            data=json.dumps({"question": "翠屏山索道全长多少公里？"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            answer = json.loads(r.read())
        assert answer["answer"] == "2.6公里"
        assert (tmp_path / "index" / "CURRENT").is_file()  # the index is in the volume
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the server did not stop on SIGTERM")
        log.close()
