"""Faults: kill -9 during a build, damaged index files, and a real server under abuse.

Everything runs on 127.0.0.1 over copies of the sample corpus and of the session's
offline index, is bounded in count and time, and stops by itself:

- ``rag index build`` killed with SIGKILL at several moments leaves the previous version
  live and intact, and the next build succeeds;
- a damaged live version is an ``IndexLoadError`` that says how to rebuild: ``rag ask``
  exits 3 with it, and the service refuses to start rather than serve garbage;
- a uvicorn server in a thread: a 10 MB question, a flood of half-sent, garbage and normal
  requests, hostile uploads, writes without the key, and questions asked while documents
  are uploaded and deleted (every answer consistent with the one version that gave it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import MAX_UPLOAD_BYTES, create_app
from index.hybrid import HybridRetriever
from index.store import IndexLoadError, IndexStore
from rag.indexing import build_index
from rag.ingest.loaders import iter_corpus, source_name
from rag.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
RAG = [sys.executable, "-m", "rag.cli"]
KEY = "fault-key-0123456789"
AUTH = {"X-API-Key": KEY}
HINT = "rag index build"

# an invented fact: only the uploaded file can answer it
FACT_FILE = "翠微湖天文馆.txt"
FACT = (
    "翠微湖天文馆今日开馆\n"
    "本报讯 翠微湖天文馆于2024年3月9日正式开馆。馆长周启航介绍，该馆共有展品860件，"
    "其中最受欢迎的是一架名为“望舒”的折射望远镜。\n"
    "开馆首日，天文馆接待游客3170人次。\n"
)
FACT_QUESTION = "翠微湖天文馆开馆首日接待游客多少人次？"
FACT_ANSWER = "3170"
OTHER_QUESTION = "古文化街被誉为什么？"
OTHER_ANSWER = "津门故里"


def copy_index(offline_index: Path, dst: Path) -> Path:
    shutil.copytree(offline_index, dst, ignore=shutil.ignore_patterns(".build.lock"))
    return dst


def corpus_names(corpus: Path) -> set[str]:
    return {source_name(p, corpus) for p in iter_corpus(corpus)}


# -- kill -9 during a build -----------------------------------------------------------------
def _versions(index: Path) -> set[str]:
    return {p.name for p in index.glob("v-*") if p.is_dir()}


def test_kill_9_during_a_build_leaves_the_previous_version_live(
    tmp_path, corpus_dir, offline_index
):
    corpus = tmp_path / "corpus"
    shutil.copytree(corpus_dir, corpus)
    index = copy_index(offline_index, tmp_path / "index")
    before = IndexStore.load(index)
    top = HybridRetriever(before).search(OTHER_QUESTION, k=3)[0].chunk.id
    log = tmp_path / "build.log"
    build = [*RAG, "index", "build", str(corpus), "--index-dir", str(index)]
    build += ["--embedder", "offline", "--full"]  # a full build: seconds of work to interrupt

    for when in (0.3, 1.0, 2.0, "new-version"):
        known = _versions(index)
        with log.open("ab") as out:
            proc = subprocess.Popen(build, cwd=ROOT, env=ENV, stdout=out, stderr=out)
        try:
            partial: list[str] = []
            if when == "new-version":  # the moment the new version's folder appears
                deadline = time.monotonic() + 90
                while not (_versions(index) - known) and proc.poll() is None:
                    assert time.monotonic() < deadline, "no new version folder appeared"
                    time.sleep(0.002)
                for name in _versions(index) - known:
                    partial = sorted(p.name for p in (index / name).iterdir())
            else:
                time.sleep(when)
            assert proc.poll() is None, f"the build ended before the kill at {when}"
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=20) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=20)

        moment = f"killed at {when} (new folder held {partial})"
        assert (index / "CURRENT").read_text(encoding="utf-8").strip() == before.version, moment
        after = IndexStore.load(index)
        assert after.version == before.version, moment
        assert after.manifest == before.manifest, moment
        assert len(after.chunks) == len(before.chunks), moment
        assert HybridRetriever(after).search(OTHER_QUESTION, k=3)[0].chunk.id == top, moment

    # the next build (not --full: an update over the surviving version) succeeds, and the
    # killed builds' lock does not hold it up
    (corpus / FACT_FILE).write_text(FACT, encoding="utf-8")
    done = subprocess.run(
        [*RAG, "index", "build", str(corpus), "--index-dir", str(index), "--json"]
        + ["--embedder", "offline"],  # the offline index updated (auto would switch models)
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    report = json.loads(done.stdout)
    assert report["added"] == [FACT_FILE] and report["version"] != before.version
    store = IndexStore.load(index)
    assert store.version == report["version"]
    assert set(store.manifest["sources"]) == corpus_names(corpus)
    answer = Pipeline.load(index, "offline").ask(FACT_QUESTION)
    assert FACT_ANSWER in (answer.answer or "") and answer.citations[0].source == FACT_FILE


# -- a damaged live version -------------------------------------------------------------------
def _cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _cut_at_a_line(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[: len(lines) // 2]))


def _garbage(path: Path) -> None:
    path.write_bytes(random.Random(path.name).randbytes(4096))


DAMAGE: dict[str, Callable[[Path], object]] = {
    "chunks.jsonl cut in half": lambda v: _cut_in_half(v / "chunks.jsonl"),
    "chunks.jsonl emptied": lambda v: (v / "chunks.jsonl").write_bytes(b""),
    "bm25.data.npy garbage": lambda v: _garbage(v / "bm25.data.npy"),
    "dense.faiss cut in half": lambda v: _cut_in_half(v / "dense.faiss"),
    "dense.faiss garbage": lambda v: _garbage(v / "dense.faiss"),
    "bm25.npz missing": lambda v: (v / "bm25.npz").unlink(),
    "bm25.data.npy cut in half": lambda v: _cut_in_half(v / "bm25.data.npy"),
    "bm25.indptr.npy garbage": lambda v: _garbage(v / "bm25.indptr.npy"),
    "offline_components.npy cut in half": lambda v: _cut_in_half(v / "offline_components.npy"),
    "articles.jsonl cut in half": lambda v: _cut_in_half(v / "articles.jsonl"),
    "manifest.json invalid": lambda v: (v / "manifest.json").write_text('{"format_version": 3,'),
    "manifest.json empty": lambda v: (v / "manifest.json").write_bytes(b""),
    "CURRENT points nowhere": lambda v: (v.parent / "CURRENT").write_text("v-gone\n"),
    "CURRENT empty": lambda v: (v.parent / "CURRENT").write_text(""),
    "CURRENT missing": lambda v: (v.parent / "CURRENT").unlink(),
    "version folder deleted": lambda v: shutil.rmtree(v),
}
DAMAGE_ONCE_MISSED: dict[str, tuple[Callable[[Path], object], str, type[BaseException]]] = {
    "manifest.json is JSON null": (
        lambda v: (v / "manifest.json").write_text("null"),
        "BUG: index.store.IndexStore.load calls manifest.get(...) on whatever json.loads "
        "returned: a manifest that is valid JSON but not an object (null, [], a number) or "
        "whose 'embedder' is not an object raises AttributeError, not IndexLoadError "
        "(rag ask: a traceback and exit 1; the service: AttributeError at startup)",
        AttributeError,
    ),
    "CURRENT holds non-UTF-8 bytes": (
        lambda v: (v.parent / "CURRENT").write_bytes(b"\xff\xfe\x00v-\x81"),
        "BUG: index.store.IndexStore.live_version reads CURRENT with read_text(encoding="
        "'utf-8') outside any try: non-UTF-8 bytes raise UnicodeDecodeError, not "
        "IndexLoadError (rag ask exits 2 with 'utf-8 codec can't decode', no rebuild hint)",
        UnicodeDecodeError,
    ),
    "articles.jsonl cut at a line": (
        lambda v: _cut_at_a_line(v / "articles.jsonl"),
        "BUG: IndexStore.load checks chunks, vectors, faiss and bm25 against the manifest's "
        "chunk_count but never articles (manifest article_count) nor that every chunk's "
        "article exists: half the articles missing loads fine and the service silently "
        "abstains on the questions those articles answer",
        pytest.fail.Exception,  # IndexStore.load: DID NOT RAISE
    ),
    "sources.jsonl emptied": (
        lambda v: (v / "sources.jsonl").write_bytes(b""),
        "BUG: IndexStore.load never checks sources.jsonl against the manifest's sources: "
        "with it emptied (or cut at a line) the index loads, and every question about a "
        "missing source is an abstention (the evidence cannot be quoted)",
        pytest.fail.Exception,  # IndexStore.load: DID NOT RAISE
    ),
}
DAMAGE_CASES = [pytest.param(name, DAMAGE[name], id=name) for name in DAMAGE] + [
    pytest.param(name, fn, id=name) for name, (fn, _why, _exc) in DAMAGE_ONCE_MISSED.items()
]


@pytest.fixture()
def damaged(tmp_path, offline_index):
    def make(damage: Callable[[Path], object]) -> Path:
        index = copy_index(offline_index, tmp_path / "index")
        damage(IndexStore.live_version(index))
        return index

    return make


@pytest.mark.parametrize(("name", "damage"), DAMAGE_CASES)
def test_a_damaged_index_is_a_clear_error_everywhere(damaged, name, damage):
    index = damaged(damage)
    # the library
    with pytest.raises(IndexLoadError) as e:
        IndexStore.load(index)
    assert HINT in str(e.value) and str(index) in str(e.value)
    # the CLI: exit 3 with the same message, at once (no retry loop)
    t0 = time.monotonic()
    done = subprocess.run(
        [*RAG, "ask", OTHER_QUESTION, "--index-dir", str(index), "--reader", "offline"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        timeout=60,
    )
    err = done.stderr.decode("utf-8", errors="replace")
    assert done.returncode == 3, err[-2000:]
    assert HINT in err and "Traceback" not in err
    assert done.stdout == b"" and time.monotonic() - t0 < 30
    # the service: startup fails with that error instead of serving garbage
    app = create_app(index, reader="offline", api_key=KEY)
    t0 = time.monotonic()
    with pytest.raises(IndexLoadError, match=HINT), TestClient(app):
        pass  # pragma: no cover - the lifespan raises before this runs
    assert time.monotonic() - t0 < 15


def test_the_server_process_exits_at_once_over_a_broken_index(damaged):
    """`python -m api.server` over a broken index: a non-zero exit with the hint, no serving."""
    index = damaged(DAMAGE["dense.faiss garbage"])
    done = subprocess.run(
        [*[sys.executable, "-m", "api.server"], "--index-dir", str(index), "--port", "0"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        timeout=60,
    )
    err = done.stderr.decode("utf-8", errors="replace")
    assert done.returncode != 0 and HINT in err, err[-2000:]
    assert "Application startup failed" in err


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(_cut_in_half, id="mid-line"),
        pytest.param(_cut_at_a_line, id="at-a-line"),
    ],
)
def test_an_update_over_damaged_tokens_rebuilds(tmp_path, corpus_dir, damaged, cut):
    corpus = tmp_path / "corpus"
    shutil.copytree(corpus_dir, corpus)
    index = damaged(lambda v: cut(v / "tokens.npz"))
    assert Pipeline.load(index, "offline").ask(OTHER_QUESTION).answer == OTHER_ANSWER
    (corpus / FACT_FILE).write_text(FACT, encoding="utf-8")
    build_index(corpus, index, embedder="offline")
    assert FACT_FILE in IndexStore.load(index).manifest["sources"]


def test_an_html_upload_in_an_unknown_codec_is_read_or_refused_and_leaves_no_staging_file(
    tmp_path, corpus_dir, offline_index
):
    """<meta charset="undefined"> over bytes no codec reads: once a 500 that left its hidden
    staging file (.upload-<hex>.html) behind. Now the page is read like any other (the loader
    ignores an unusable declared codec, as browsers do) or refused with a 422; either way the
    corpus holds the page or nothing, and never a staging file."""
    corpus = tmp_path / "corpus"
    shutil.copytree(corpus_dir, corpus)
    index = copy_index(offline_index, tmp_path / "index")
    before = sorted(p.name for p in corpus.iterdir())
    app = create_app(index, corpus, reader="offline", api_key=KEY)
    page = b'<meta charset="undefined"><p>\xff\xfe abc \x80</p>'
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/documents", files=[("files", ("page.html", page, "text/html"))], headers=AUTH)
        listed = {a["source"] for a in c.get("/articles").json()}
    after = sorted(p.name for p in corpus.iterdir())
    assert not [n for n in after if n.startswith(".upload-")]
    if r.status_code == 422:
        assert after == before
    else:
        assert r.status_code in (200, 201), r.text
        assert after == sorted([*before, "page.html"]) and "page.html" in listed


# -- a real server ----------------------------------------------------------------------------
class Live:
    def __init__(self, root: Path, corpus: Path, index: Path, port: int, app) -> None:
        self.root, self.corpus, self.index, self.port, self.app = root, corpus, index, port, app
        self.base = f"http://127.0.0.1:{port}"

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=kw.pop("timeout", 30), **kw)

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """Every file under the test root but the index: what a write may have touched."""
        out = {}
        for p in self.root.rglob("*"):
            rel = p.relative_to(self.root).as_posix()
            if p.is_file() and not rel.startswith("index/"):
                st = p.stat()
                out[rel] = (st.st_size, st.st_mtime_ns)
        return out


@pytest.fixture(scope="module")
def live(tmp_path_factory, corpus_dir, offline_index) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("live")
    corpus = root / "x" / "y" / "corpus"  # so that ../../ still lands inside the test root
    shutil.copytree(corpus_dir, corpus)
    index = copy_index(offline_index, root / "index")
    app = create_app(index, corpus, reader="offline", api_key=KEY)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,  # a free port, chosen by the system
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        assert time.monotonic() < deadline, "the server took over 60 s to start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Live(root, corpus, index, port, app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        assert not thread.is_alive(), "the server did not stop"


def _status(data: bytes) -> int | None:
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else None


def _read_response_head(sock: socket.socket, limit: float) -> bytes:
    sock.settimeout(limit)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _health(live: Live) -> dict:
    with live.client(timeout=5) as c:
        r = c.get("/health")
    assert r.status_code == 200
    return r.json()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_10_mb_question_is_413_at_once_and_the_server_lives_on(live, framing):
    body = json.dumps({"question": "问" * 3_500_000}).encode()  # 10.5 MB of UTF-8
    head = "POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    if framing == "content-length":
        head += f"Content-Length: {len(body)}\r\n\r\n"
        payload = head.encode() + body
    else:
        head += "Transfer-Encoding: chunked\r\n\r\n"
        step = 64 * 1024
        parts = [
            f"{len(body[i : i + step]):x}\r\n".encode() + body[i : i + step] + b"\r\n"
            for i in range(0, len(body), step)
        ]
        payload = head.encode() + b"".join(parts) + b"0\r\n\r\n"
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:

        def send() -> None:
            with contextlib.suppress(OSError):  # the server may close once it has answered
                sock.sendall(payload)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        data = _read_response_head(sock, 5)
        elapsed = time.monotonic() - t0
    sender.join(timeout=5)
    assert _status(data) == 413, data[:300]
    assert elapsed < 2, f"413 after {elapsed:.2f} s"
    assert b"65536" in data or b"413" in data
    assert _health(live)["status"] == "ok"


@pytest.mark.parametrize("path", ["/ask", "/v1/ask", "/v1/documents"])
def test_a_6_mb_body_sent_whole_reads_its_413(live, path):
    """Python's own client sends the whole body before it reads: it gets the 413 and its
    detail, not "connection reset by peer" (the server reads the body it refuses)."""
    import urllib.error
    import urllib.request

    body = json.dumps({"question": "问" * 2_000_000}).encode()  # 6 MB of UTF-8
    req = urllib.request.Request(
        live.base + path, data=body, headers={"Content-Type": "application/json", **AUTH}
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=20)
    assert err.value.code == 413
    assert "detail" in json.loads(err.value.read())
    assert _health(live)["status"] == "ok"


_GARBAGE = [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(1, 200)) + b"\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
    b"POST /ask HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nxx\r\n0\r\n\r\n",
    b'POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"question":',
    b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 26\r\n"
    b'\r\n{"question": "\xff\xfe\xfd", "x":1}',  # not UTF-8
    b"GET /" + b"A" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n",
    b"GET /articles?q=" + b"%ff%fe" * 50 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /articles/%ff%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"POST /documents HTTP/1.1\r\nHost: x\r\nX-API-Key: " + KEY.encode() + b"\r\n"
    b"Content-Type: multipart/form-data; boundary=zz\r\nContent-Length: 30\r\nConnection: close"
    b"\r\n\r\n--zz\r\ngarbage garbage garbag",
    b"DELETE /documents/..%2F..%2Fx%2Fy%2Fcorpus HTTP/1.1\r\nHost: x\r\nX-API-Key: "
    + KEY.encode()
    + b"\r\nConnection: close\r\n\r\n",
    bytes(random.Random(6).randbytes(300)) + b"\r\n\r\n",
]


def _complete(data: bytes) -> bool:
    """A whole response: its head, and as much body as Content-Length says."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if m:
        return len(body) >= int(m.group(1))
    return body.endswith(b"0\r\n\r\n")


async def _exchange(port: int, payload: bytes, timeout: float) -> tuple[int | None, bytes]:
    """Send a payload and read one response (or until the server closes, or ``timeout``)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as e:
        return None, repr(e).encode()
    try:
        writer.write(payload)
        await writer.drain()
        data = b""
        try:
            async with asyncio.timeout(timeout):
                while not _complete(data) and (chunk := await reader.read(65536)):
                    data += chunk
        except TimeoutError:
            data += b"\n<timed out>"
        return _status(data), data
    except OSError as e:  # reset by the server: a refusal too
        return None, repr(e).encode()
    finally:
        writer.close()


async def _flood(port: int) -> dict[str, list]:
    stalls: list[asyncio.StreamWriter] = []

    async def stall(payload: bytes) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(payload)
        await writer.drain()
        stalls.append(writer)

    def ask(n: int) -> bytes:
        body = json.dumps({"question": [OTHER_QUESTION, FACT_QUESTION][n % 2]}).encode()
        return (
            b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )

    half_head = b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Len"
    half_body = b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n" + b'{"question": "'
    jobs: list = []
    kinds: list[tuple[str, bytes]] = []
    for n in range(200):
        kind = ("stall-head", "stall-body", "garbage", "ask", "ask")[n % 5]
        if kind == "stall-head":
            payload, job = half_head, stall(half_head)
        elif kind == "stall-body":
            payload, job = half_body, stall(half_body)
        elif kind == "garbage":
            payload = _GARBAGE[(n // 5) % len(_GARBAGE)]
            job = _exchange(port, payload, timeout=10)
        else:
            payload = ask(n)
            job = _exchange(port, payload, timeout=15)
        kinds.append((kind, payload))
        jobs.append(job)
    t0 = time.monotonic()
    async with asyncio.timeout(20):
        results = await asyncio.gather(*jobs, return_exceptions=True)
    elapsed = time.monotonic() - t0
    # the stalled connections are still open: the server must answer meanwhile
    health = await _exchange(
        port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=5
    )
    for w in stalls:
        w.close()
    out: dict[str, list] = {"elapsed": [elapsed], "health": [health], "stalls": [len(stalls)]}
    for (kind, payload), res in zip(kinds, results):
        out.setdefault(kind, []).append((payload, res))
    return out


def test_a_flood_of_slow_garbage_and_normal_requests(live):
    out = asyncio.run(_flood(live.port))
    assert out["elapsed"][0] < 20
    assert out["stalls"][0] == 80
    asks = out["ask"]
    assert len(asks) == 80
    for _, res in asks:
        assert not isinstance(res, BaseException), res
        status, data = res
        assert status is not None, data[:200]
        assert status == 200 or 400 <= status < 500 or status == 503, data[:300]
    assert sum(res[0] == 200 for _, res in asks) >= 70  # a flood may shed a few, not most
    assert len(out["garbage"]) == 40
    for payload, res in out["garbage"]:
        assert not isinstance(res, BaseException), (payload[:80], res)
        status, data = res
        # a clean refusal (4xx) or a closed connection: never a 5xx, never a hang
        assert status is None or status < 500, (payload[:80], data[:300])
    assert _status(out["health"][0][1]) == 200
    assert _health(live)["status"] == "ok"


def _multipart(files: list[tuple[bytes, bytes]]) -> tuple[bytes, str]:
    """A multipart body built by hand, so a file name can hold any byte (a NUL)."""
    boundary = b"faultboundary7MA4YWxkTrZu0gW"
    out = b""
    for name, data in files:
        out += b"--" + boundary + b"\r\n"
        out += b'Content-Disposition: form-data; name="files"; filename="' + name + b'"\r\n'
        out += b"Content-Type: text/plain\r\n\r\n" + data + b"\r\n"
    out += b"--" + boundary + b"--\r\n"
    return out, "multipart/form-data; boundary=" + boundary.decode()


def _upload(c: httpx.Client, name: str, data: bytes, headers=AUTH) -> httpx.Response:
    return c.post("/documents", files=[("files", (name, data, "text/plain"))], headers=headers)


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256)) * 8


def test_hostile_uploads_write_nothing_outside_the_corpus(live):
    before = live.snapshot()
    with live.client() as c:
        # wrong types
        for name, data in [("tool.exe", b"MZ\x90\x00" * 64), ("pic.png", PNG)]:
            r = _upload(c, name, data)
            assert r.status_code == 415, r.text
            assert Path(name).suffix in r.json()["detail"]
        # over the app's limit (the default, 5 MB)
        r = _upload(c, "big.txt", "大".encode() * (MAX_UPLOAD_BYTES // 3 + 10))
        assert r.status_code == 413, r.text[:300]
        # binary data under a text name
        for name, data in [("fake.txt", random.Random(1).randbytes(8192)), ("img.txt", PNG)]:
            r = _upload(c, name, data)
            assert r.status_code == 422, r.text[:300]
            assert name in r.json()["detail"]
        # a traversal name without a supported type left once reduced
        r = _upload(c, "../../etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n")
        assert r.status_code == 415, r.text
        assert live.snapshot() == before, "a refused upload left a file behind"

        # traversal names with a supported type: reduced to a safe base name, in the corpus
        names = [b"..\\..\\x.txt", b"/abs/path.txt", b"a/../../b.txt", b"a\x00b.txt"]
        files = [(n, FACT.replace("翠微湖", f"第{i}号湖").encode()) for i, n in enumerate(names)]
        body, content_type = _multipart(files)
        r = c.post("/documents", content=body, headers={**AUTH, "Content-Type": content_type})
        assert r.status_code == 201, r.text
        added = r.json()["added"]
    assert len(added) == len(names)
    for name in added:
        assert name == Path(name).name and not name.startswith(".")
        assert not set(name) & {"/", "\\", "\x00"}, name
        assert (live.corpus / name).is_file()
    corpus_rel = live.corpus.relative_to(live.root).as_posix()
    new = set(live.snapshot()) - set(before)
    assert new == {f"{corpus_rel}/{name}" for name in added}, new
    assert sorted(added) == sorted(["x.txt", "path.txt", "b.txt", "ab.txt"])


def test_writes_without_the_right_key_are_401_and_write_nothing(live):
    before = live.snapshot()
    victim = sorted(corpus_names(live.corpus))[0]
    with live.client() as c:
        for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": KEY[:-1]}, {"X-API-Key": ""}):
            assert _upload(c, "a.txt", FACT.encode(), headers=headers).status_code == 401
            r = c.delete(f"/documents/{victim}", headers=headers)
            assert r.status_code == 401 and "X-API-Key" in r.json()["detail"]
    assert live.snapshot() == before


def test_answers_stay_consistent_while_documents_come_and_go(live):
    """4 clients ask while a writer uploads, deletes and uploads again a file with a fact."""
    with live.client() as c:
        start = c.get("/health").json()["index_version"]
    has_fact: dict[str, bool] = {start: False}  # version -> does it hold the file?
    writes: list[tuple[str, int, str]] = []
    done = threading.Event()
    results: list[tuple[str, int, dict]] = []
    lock = threading.Lock()

    def writer() -> None:
        try:
            with live.client(timeout=120) as c:
                for _ in range(2):
                    time.sleep(0.3)
                    r = _upload(c, FACT_FILE, FACT.encode())
                    writes.append(("upload", r.status_code, r.text))
                    if r.status_code == 201:
                        has_fact[r.json()["version"]] = True
                    time.sleep(0.3)
                    r = c.delete(f"/documents/{FACT_FILE}", headers=AUTH)
                    writes.append(("delete", r.status_code, r.text))
                    if r.status_code == 200:
                        has_fact[r.json()["version"]] = False
                time.sleep(0.3)
        finally:
            done.set()

    def asker(question: str) -> None:
        deadline = time.monotonic() + 60
        with live.client() as c:
            for _ in range(2000):
                if done.is_set() or time.monotonic() > deadline:
                    break
                r = c.post("/ask", json={"question": question})
                body = (
                    r.json()
                    if r.headers.get("content-type", "").startswith("application/json")
                    else {}
                )
                with lock:
                    results.append((question, r.status_code, body))
                time.sleep(0.02)  # steady traffic that leaves the writer some CPU

    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=asker, args=(q,)) for q in [FACT_QUESTION] * 3]
    threads += [threading.Thread(target=asker, args=(OTHER_QUESTION,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert not any(t.is_alive() for t in threads), "a client did not finish"

    assert [(kind, status) for kind, status, _ in writes] == [
        ("upload", 201),
        ("delete", 200),
        ("upload", 201),
        ("delete", 200),
    ], writes
    assert len(has_fact) == 5, has_fact  # every write made a new version
    seen = {True: 0, False: 0}
    for question, status, body in results:
        assert status == 200, (question, status, body)
        version = body.get("index_version")
        assert version in has_fact, (version, sorted(has_fact))
        sources = {c["source"] for c in body["citations"]} | {p["source"] for p in body["passages"]}
        if question == FACT_QUESTION:
            seen[has_fact[version]] += 1
            if has_fact[version]:
                assert FACT_ANSWER in (body["answer"] or ""), body
                assert body["citations"][0]["source"] == FACT_FILE, body["citations"]
            else:
                assert FACT_FILE not in sources, (version, body["answer"], sources)
        else:
            assert body["answer"] == OTHER_ANSWER, body
            assert FACT_FILE not in sources or has_fact[version]
    assert seen[True] and seen[False], f"no question met both states: {seen}"

    # nothing lost: the corpus folder, the index on disk and the service agree
    manifest = IndexStore.read_manifest(live.index)
    assert set(manifest["sources"]) == corpus_names(live.corpus)
    assert FACT_FILE not in manifest["sources"]
    assert _health(live)["index_version"] == IndexStore.live_version(live.index).name
    assert not [p.name for p in live.corpus.iterdir() if p.name.startswith(".")]
