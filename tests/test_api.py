"""The HTTP service over an offline index of a copy of the sample corpus.

One app serves the module (loaded once); tests that write to the corpus put it back as
they found it. The fact used for uploads is invented here, so only the uploaded file can
answer it.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.errors import WRITE_STATUS
from api.routes.page import STATIC_DIR
from rag.indexing import build_index
from rag.live_index import WriteError, safe_filename
from rag.pipeline import Pipeline
from rag.question_rule import MAX_QUESTION_CHARS

KEY = "test-key-0123456789"
AUTH = {"X-API-Key": KEY}
QUESTION = "古文化街被誉为什么？"
NEW_FACT = (
    "星河湾科技馆今日开馆\n"
    "本报讯 星河湾科技馆于2023年5月18日正式开馆。科技馆馆长是李明远，他介绍说，"
    "该馆共有展品1280件，其中最受欢迎的是一台名为“追光者”的天文望远镜。\n"
    "开馆首日，科技馆接待游客4600人次。\n"
)
NEW_QUESTION = "星河湾科技馆开馆首日接待游客多少人次？"
ANSWER_KEYS = {"question", "answer", "confidence", "evidence", "citations", "passages"}


@pytest.fixture(scope="module")
def site(tmp_path_factory, corpus_dir) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("api")
    corpus = root / "corpus"
    shutil.copytree(corpus_dir, corpus)
    build_index(corpus, root / "index", embedder="offline")
    return {"root": root, "corpus": corpus, "index": root / "index"}


@pytest.fixture(scope="module")
def app(site):
    return create_app(
        site["index"], site["corpus"], reader="offline", api_key=KEY, max_upload_bytes=1_000_000
    )


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def corpus_files(site) -> set[str]:
    """Every file under the test root except the index: what a write may have touched."""
    root = site["root"]
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).as_posix().startswith("index/")
    }


def well_formed(body: dict) -> None:
    assert set(body) >= ANSWER_KEYS
    assert isinstance(body["citations"], list) and isinstance(body["passages"], list)
    assert 0.0 <= body["confidence"] <= 1.0
    if body["answer"] is not None:
        ev = body["evidence"]
        i, j = ev["answer_start"] - ev["start"], ev["answer_end"] - ev["start"]
        assert ev["text"][i:j] == body["answer"]
        assert body["citations"][0]["source"] == ev["source"]


def upload(client, name: str, data: bytes, headers=AUTH):
    return client.post("/documents", files=[("files", (name, data, "text/plain"))], headers=headers)


# -- asking ----------------------------------------------------------------------------
def test_ask_answers_with_evidence_and_citation(client):
    r = client.post("/ask", json={"question": QUESTION, "top_k": 3})
    assert r.status_code == 200
    body = r.json()
    well_formed(body)
    assert body["answer"] == "津门故里"
    assert body["citations"][0]["source"].startswith("003_")
    assert len(body["passages"]) == 3


def test_evidence_offsets_point_into_the_article_original(client):
    body = client.post("/ask", json={"question": QUESTION}).json()
    ev, cite = body["evidence"], body["citations"][0]
    art = client.get(f"/articles/{cite['article_id']}").json()
    assert art["start"] <= ev["start"] < ev["end"] <= art["end"]
    assert art["original"][ev["start"] - art["start"] : ev["end"] - art["start"]] == ev["text"]


@pytest.mark.parametrize("question", ["", "   ", "\u3000\n\t"])
def test_empty_question_is_422_with_a_clear_detail(client, question):
    r = client.post("/ask", json={"question": question})
    assert r.status_code == 422
    assert "empty" in r.json()["detail"] and "为空" in r.json()["detail"]


def test_too_long_question_is_422(client):
    r = client.post("/ask", json={"question": "问" * (MAX_QUESTION_CHARS + 1)})
    assert r.status_code == 422
    assert "too long" in r.json()["detail"] and str(MAX_QUESTION_CHARS) in r.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"question": QUESTION, "top_k": 0},
        {"question": QUESTION, "top_k": 21},
        {"top_k": 3},
        {
            "question": QUESTION,
            "top_k": True,
        },  # a bool is not a count (pydantic would read it as 1)
        {"question": QUESTION, "top_k": "5"},
    ],
)
def test_invalid_fields_are_422_with_a_readable_detail(client, body):
    r = client.post("/ask", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, str) and ("top_k" in detail or "question" in detail)


def test_malformed_json_is_422(client):
    r = client.post("/ask", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert isinstance(r.json()["detail"], str)


def test_oversized_body_is_413_by_length_and_by_stream(client):
    big = json.dumps({"question": "问" * 30_000}).encode()  # over 64 KB in UTF-8
    r = client.post("/ask", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert "65536" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(100):
            yield b"x" * 1024

    r = client.post("/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_unexpected_error_is_json_500_and_logged(client, monkeypatch, caplog):
    def boom(self, question, top_k=5, history=()):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(Pipeline, "answer", boom)  # what /ask calls once the question is checked
    with caplog.at_level(logging.ERROR, logger="api"):
        r = client.post("/ask", json={"question": QUESTION})
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error"}
    assert "secret" not in r.text
    assert any(
        rec.exc_info and "secret internals" in str(rec.exc_info[1]) for rec in caplog.records
    )


# -- reading -----------------------------------------------------------------------------
def test_the_loaded_index_is_frozen_out_of_the_garbage_collector(client):
    """After start-up the index's objects sit in the permanent generation, which full
    collections do not walk."""
    import gc

    assert client.get("/health").status_code == 200
    assert gc.get_freeze_count() > 10_000
    assert gc.get_threshold()[0] == 20_000


def test_health_fields(client, site):
    h = client.get("/health").json()
    assert h["status"] == "ok"
    assert h["article_count"] > 50 and h["chunk_count"] > h["article_count"]
    assert h["index_version"].startswith("v-")
    assert h["embedder"] == {"name": "offline-lsa", "offline": True, "backend": None, "note": None}
    assert h["reader"] == {"name": "offline", "offline": True, "backend": None, "note": None}
    assert h["corpus_dir"] == str(site["corpus"].resolve())
    assert h["writes"] == "api-key"


def test_articles_list_filter_and_detail(client):
    everything = client.get("/articles").json()
    assert len(everything) == client.get("/health").json()["article_count"]
    assert {"id", "title", "source", "start", "end"} <= set(everything[0])
    found = client.get("/articles", params={"q": "古街续文脉党建"}).json()  # spaces ignored
    assert [a["title"] for a in found] == ["古街续文脉 党建兴百业"]
    assert client.get("/articles", params={"q": "不存在的标题xyz"}).json() == []

    art = client.get(f"/articles/{found[0]['id']}").json()
    assert art["title"] == "古街续文脉 党建兴百业"
    assert "津门故里" in art["text"] and "津门故里" in art["original"]
    assert len(art["original"]) == art["end"] - art["start"]


def test_unknown_article_and_route_are_404_json(client):
    r = client.get("/articles/no-such-article")
    assert r.status_code == 404
    assert "no-such-article" in r.json()["detail"]
    assert client.get("/no/such/route").status_code == 404


# -- the page, static files, OpenAPI -----------------------------------------------------
def test_page_has_the_hooks_and_a_strict_policy(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for hook in ('id="question"', 'id="send"', 'id="conversation"', 'id="article-panel"'):
        assert hook in r.text
    assert 'id="footer"' in r.text and 'id="clear"' in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    js = client.get("/static/app.js")
    assert js.status_code == 200
    for cls in ("msg-answer", "answer-text", "evidence", "cite-chip", "abstain", "msg-error"):
        assert cls in js.text
    assert "scrollIntoView" in js.text and "localStorage" in js.text
    assert client.get("/static/app.css").status_code == 200


def test_static_code_never_parses_text_as_markup():
    for path in STATIC_DIR.iterdir():
        source = path.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{path.name} uses {sink}"
    assert "<script>" not in (STATIC_DIR / "index.html").read_text(encoding="utf-8")  # no inline


def test_openapi_lists_the_endpoints(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/ask", "/health", "/articles", "/articles/{article_id}", "/documents", "/metrics"):
        assert "/v1" + p in paths
        assert p not in paths  # the paths before /v1 answer, but the schema names one of each
    for p in ("/livez", "/readyz", "/documents/{source}"):
        assert "/v1" + p in paths


# -- metrics and the access log ----------------------------------------------------------
def test_metrics_count_requests_and_describe_the_index(client):
    client.post("/ask", json={"question": QUESTION})
    client.post("/ask", json={"question": " "})
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert re.search(
        r'rag_http_requests_total\{method="POST",path="/ask",status="200"\} [1-9]', text
    )
    assert re.search(
        r'rag_http_requests_total\{method="POST",path="/ask",status="422"\} [1-9]', text
    )
    # latency by route and status
    assert 'rag_http_request_duration_seconds_bucket{le="+Inf",path="/ask",status="200"}' in text
    assert 'rag_http_request_duration_seconds_count{path="/ask",status="422"}' in text
    health = client.get("/health").json()
    assert f"rag_index_chunks {float(health['chunk_count'])}" in text
    assert re.search(r'rag_answers_total\{outcome="answered"\} [1-9]', text)
    info = re.search(r"rag_served_info\{([^}]*)\} 1\.0", text)
    assert info and f'index_version="{health["index_version"]}"' in info.group(1)
    assert 'reader="offline"' in info.group(1)
    assert re.search(r"rag_index_build_timestamp_seconds \d\.\d+e\+09", text)


def test_one_json_access_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger="api.access"):
        client.get("/health")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "api.access"]
    assert len(lines) == 1
    assert lines[0]["method"] == "GET" and lines[0]["path"] == "/health"
    assert lines[0]["status"] == 200 and lines[0]["ms"] >= 0


# -- writes: who may write -----------------------------------------------------------------
def test_writes_need_the_right_key(client, site):
    before = corpus_files(site)
    assert upload(client, "a.txt", NEW_FACT.encode(), headers={}).status_code == 401
    assert (
        upload(client, "a.txt", NEW_FACT.encode(), headers={"X-API-Key": "wrong"}).status_code
        == 401
    )
    assert client.delete("/documents/003_c0fa0c3c18fd1ce0.txt").status_code == 401
    r = client.delete(
        "/documents/003_c0fa0c3c18fd1ce0.txt", headers={"X-API-Key": "clé".encode("latin-1")}
    )
    assert r.status_code == 401 and "X-API-Key" in r.json()["detail"]  # non-ASCII: no crash
    assert corpus_files(site) == before


def test_without_a_key_writes_are_refused_unless_local_writes(site, monkeypatch):
    monkeypatch.delenv("RAG_API_KEY", raising=False)
    closed = create_app(site["index"], site["corpus"], reader="offline")
    with TestClient(closed) as c:
        r = c.delete("/documents/003_c0fa0c3c18fd1ce0.txt")
        assert r.status_code == 403 and "RAG_API_KEY" in r.json()["detail"]
        assert upload(c, "a.txt", b"x", headers={}).status_code == 403
        assert c.get("/health").json()["writes"] == "disabled"
    local = create_app(site["index"], site["corpus"], reader="offline", allow_local_writes=True)
    with TestClient(local) as c:
        assert c.delete("/documents/nothing-here.txt").status_code == 404  # past the gate
        assert c.get("/health").json()["writes"] == "local"

    monkeypatch.setenv("RAG_API_KEY", "from-env")
    assert create_app(site["index"]).state.api_key == "from-env"


# -- writes: what may be written -------------------------------------------------------------
def test_unsupported_type_is_415(client, site):
    before = corpus_files(site)
    r = upload(client, "tool.exe", b"MZ\x90\x00")
    assert r.status_code == 415 and ".exe" in r.json()["detail"]
    assert corpus_files(site) == before


def test_oversized_upload_is_413(client, site):
    before = corpus_files(site)
    r = upload(client, "big.txt", "大".encode() * 400_000)  # 1.2 MB, the limit is 1 MB
    assert r.status_code == 413
    assert corpus_files(site) == before


def test_binary_disguised_as_text_is_422_and_nothing_is_written(client, site):
    before = corpus_files(site)
    r = upload(client, "fake.txt", bytes(range(256)) * 20)
    assert r.status_code == 422 and "fake.txt" in r.json()["detail"]
    assert corpus_files(site) == before  # no temporary file left either


def test_one_bad_file_rejects_the_whole_upload(client, site):
    before = corpus_files(site)
    files = [
        ("files", ("good.txt", NEW_FACT.encode(), "text/plain")),
        ("files", ("bad.txt", b"\x00\x01" * 100, "text/plain")),
    ]
    assert client.post("/documents", files=files, headers=AUTH).status_code == 422
    assert corpus_files(site) == before


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\x.txt", "x.txt"),
        ("/abs/path/新闻.txt", "新闻.txt"),
        (".hidden.txt", "hidden.txt"),
        ("a\x00b.txt", "ab.txt"),
        ('what?"<>.md', "what____.md"),
    ],
)
def test_safe_filename_reduces_to_a_basename(raw, safe):
    assert safe_filename(raw) == safe


@pytest.mark.parametrize("raw", ["", "..", "...", "/", "a/..", "\\", "\x00", " . "])
def test_safe_filename_rejects_what_is_left_empty(raw):
    with pytest.raises(WriteError) as e:
        safe_filename(raw)
    assert WRITE_STATUS[e.value.reason] == 400


def test_traversal_names_write_only_inside_the_corpus(client, site):
    before = corpus_files(site)
    r = upload(client, "../../etc/passwd", b"root:x:0:0")  # becomes "passwd": no type
    assert r.status_code == 415
    assert corpus_files(site) == before

    files = [
        ("files", ("../../escape.txt", NEW_FACT.encode(), "text/plain")),
        ("files", ("..\\x.txt", NEW_FACT.replace("星河湾", "月亮湾").encode(), "text/plain")),
    ]
    r = client.post("/documents", files=files, headers=AUTH)
    assert r.status_code == 201, r.text
    assert sorted(r.json()["added"]) == ["escape.txt", "x.txt"]
    assert corpus_files(site) == before | {"corpus/escape.txt", "corpus/x.txt"}
    for name in ("escape.txt", "x.txt"):
        assert client.delete(f"/documents/{name}", headers=AUTH).status_code == 200
    assert corpus_files(site) == before


def test_delete_unknown_or_outside_is_404(client, site):
    before = corpus_files(site)
    assert client.delete("/documents/nope.txt", headers=AUTH).status_code == 404
    assert client.delete("/documents/..%2F..%2Fetc%2Fpasswd", headers=AUTH).status_code == 404
    assert corpus_files(site) == before


# -- writes: upload, ask, delete ---------------------------------------------------------------
def test_upload_then_ask_cites_the_new_file_and_delete_removes_it(client, site):
    chunks_before = client.get("/health").json()["chunk_count"]
    r = upload(client, "星河湾科技馆.txt", NEW_FACT.encode())
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["added"] == ["星河湾科技馆.txt"] and report["removed"] == []
    assert report["chunk_count"] > chunks_before and report["version"].startswith("v-")
    assert (site["corpus"] / "星河湾科技馆.txt").read_text(encoding="utf-8") == NEW_FACT
    assert client.get("/health").json()["index_version"] == report["version"]

    body = client.post("/ask", json={"question": NEW_QUESTION}).json()
    well_formed(body)
    assert "4600" in body["answer"]
    assert body["citations"][0]["source"] == "星河湾科技馆.txt"
    assert client.get("/articles", params={"q": "星河湾科技馆"}).json()

    r = client.delete("/documents/星河湾科技馆.txt", headers=AUTH)
    assert r.status_code == 200
    assert r.json()["removed"] == ["星河湾科技馆.txt"]
    assert not (site["corpus"] / "星河湾科技馆.txt").exists()
    assert client.get("/health").json()["chunk_count"] == chunks_before
    body = client.post("/ask", json={"question": NEW_QUESTION}).json()
    assert all(c["source"] != "星河湾科技馆.txt" for c in body["citations"])
    assert client.delete("/documents/星河湾科技馆.txt", headers=AUTH).status_code == 404


def test_concurrent_questions_during_an_upload_all_succeed(client, app, site):
    old = app.state.live.pipeline
    stop = threading.Event()
    results: list[tuple[float, float, int, dict]] = []

    def asker(question: str) -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            r = client.post("/ask", json={"question": question})
            results.append((t0, time.perf_counter(), r.status_code, r.json()))

    questions = [QUESTION, NEW_QUESTION, "天津古文化街有什么美称？", "火星车祝融号行驶了多少米？"]
    with ThreadPoolExecutor(len(questions)) as pool:
        workers = [pool.submit(asker, q) for q in questions]
        time.sleep(0.3)
        up0 = time.perf_counter()
        r = upload(client, "concurrent.txt", NEW_FACT.encode())
        up1 = time.perf_counter()
        time.sleep(0.3)
        stop.set()
        for w in workers:
            w.result()
    assert r.status_code == 201, r.text
    assert len(results) >= len(questions)
    for _, _, status, body in results:
        assert status == 200
        well_formed(body)
    assert any(t0 < up1 and t1 > up0 for t0, t1, _, _ in results), "no question overlapped"

    new = app.state.live.pipeline
    assert new is not old and new.store.version == r.json()["version"]
    assert old.ask(QUESTION).answer == "津门故里"  # a request holding the old index still works
    assert client.delete("/documents/concurrent.txt", headers=AUTH).status_code == 200


def test_removing_the_last_document_is_refused(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "only.txt").write_text(NEW_FACT, encoding="utf-8")
    build_index(corpus, tmp_path / "index", embedder="offline")
    app = create_app(tmp_path / "index", corpus, reader="offline", api_key=KEY)
    with TestClient(app) as c:
        r = c.delete("/documents/only.txt", headers=AUTH)
        assert r.status_code == 409
        assert (corpus / "only.txt").read_text(encoding="utf-8") == NEW_FACT
        assert sorted(p.name for p in corpus.iterdir()) == ["only.txt"]
        assert c.get("/health").json()["article_count"] >= 1


def test_index_rebuilt_outside_is_picked_up(tmp_path, corpus_dir):
    """`rag index build` while the service runs: the next request after the check interval
    sees the new version; a broken version on disk leaves the old one serving."""
    import shutil

    from fastapi.testclient import TestClient

    from api.app import create_app

    corpus = tmp_path / "corpus"
    shutil.copytree(corpus_dir, corpus)
    index = tmp_path / "index"
    build_index(corpus, index, embedder="offline")
    app = create_app(index, corpus_dir=corpus, reader="offline")
    with TestClient(app) as client:
        live = app.state.live
        before = client.get("/health").json()["index_version"]
        (corpus / "extra.txt").write_text(
            "测试日报\n\n本市新建智慧公园\n\n文/记者 李明\n\n本市今年新建智慧公园12座，总面积达86公顷。\n",
            encoding="utf-8",
        )
        build_index(corpus, index, embedder="offline")
        live._checked = 0.0  # as if the check interval had passed
        after = client.get("/health").json()
        assert after["index_version"] != before and after["chunk_count"] > 0
        (index / "CURRENT").write_text("v-missing", encoding="utf-8")
        live._checked = 0.0
        assert client.get("/health").json()["index_version"] == after["index_version"]
        r = client.post("/ask", json={"question": "本市今年新建了多少座智慧公园？"})
        assert r.status_code == 200 and r.json()["answer"] == "12座"


# -- HTTP conventions: /v1, paging, HEAD, favicon, probes, request ids --------------------------
def test_the_versioned_paths_answer_as_the_old_ones(client):
    old = client.post("/ask", json={"question": QUESTION}).json()
    new = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert new["answer"] == old["answer"] == "津门故里"
    assert (
        client.get("/v1/health").json()["index_version"]
        == client.get("/health").json()["index_version"]
    )


def test_v1_articles_are_paged_and_the_old_list_is_kept(client):
    everything = client.get("/articles")
    assert int(everything.headers["X-Total-Count"]) == len(everything.json()) > 60
    page = client.get("/v1/articles", params={"limit": 10, "offset": 20}).json()
    assert page["total"] == len(everything.json()) and page["limit"] == 10
    assert page["offset"] == 20
    assert [a["id"] for a in page["items"]] == [a["id"] for a in everything.json()[20:30]]
    assert client.get("/v1/articles").json()["limit"] == 50  # a page by default
    assert client.get("/v1/articles", params={"limit": 501}).status_code == 422
    assert client.get("/v1/articles", params={"offset": -1}).status_code == 422
    beyond = client.get("/v1/articles", params={"offset": 10_000}).json()
    assert beyond["items"] == [] and beyond["total"] == page["total"]


@pytest.mark.parametrize("path", ["/", "/health", "/v1/articles", "/static/app.css", "/livez"])
def test_head_answers_where_get_does(client, path):
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


def test_the_favicon_is_served(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in r.content


def test_liveness_and_readiness(app, client):
    assert client.get("/livez").json() == {"status": "alive"}
    ready = client.get("/v1/readyz").json()
    assert ready["status"] == "ready" and ready["index_version"]
    # an app whose index is not loaded yet (no start-up run): alive, not ready
    cold = TestClient(create_app("no-index-here", reader="offline"))
    assert cold.get("/livez").status_code == 200
    assert cold.get("/readyz").status_code == 503


def test_every_request_has_an_id_in_its_answer_and_its_log_line(client, caplog):
    with caplog.at_level(logging.INFO, logger="api.access"):
        mine = client.get("/health", headers={"X-Request-ID": "trace-42"})
        fresh = client.get("/health")
        odd = client.get("/health", headers={"X-Request-ID": "no spaces allowed"})
    assert mine.headers["X-Request-ID"] == "trace-42"
    assert len(fresh.headers["X-Request-ID"]) == 32
    assert odd.headers["X-Request-ID"] != "no spaces allowed"
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "api.access"]
    assert [ln["request_id"] for ln in lines] == [
        "trace-42",
        fresh.headers["X-Request-ID"],
        odd.headers["X-Request-ID"],
    ]
    assert all(ln["level"] == "INFO" and re.fullmatch(r"\d{4}-.*Z", ln["ts"]) for ln in lines)


def test_the_question_and_the_key_stay_out_of_the_log_unless_asked(site, caplog):
    for log_questions in (False, True):
        app = create_app(site["index"], site["corpus"], reader="offline", api_key=KEY,
                         log_questions=log_questions)  # fmt: skip
        with TestClient(app) as c, caplog.at_level(logging.INFO, logger="api.access"):
            caplog.clear()
            c.post("/ask", json={"question": QUESTION}, headers=AUTH)
        text = "\n".join(r.getMessage() for r in caplog.records)
        assert KEY not in text
        assert (QUESTION in text) is log_questions
