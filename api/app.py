"""The FastAPI application: thin routes over :class:`rag.pipeline.Pipeline` and the index.

>>> app = create_app(Path("var/index"), corpus_dir=Path("corpus"), reader="offline")  # doctest: +SKIP
>>> uvicorn.run(app)  # doctest: +SKIP

Endpoints: ``POST /ask``, ``GET /health``, ``GET /articles``, ``GET /articles/{id}``,
``POST /documents``, ``DELETE /documents/{source}``, ``GET /metrics``, ``GET /`` (the chat
page), ``/static/…`` and the OpenAPI pages at ``/docs``.

Every error is JSON ``{"detail": "…"}``: a question that is empty or over
:data:`~rag.pipeline.MAX_QUESTION_CHARS` characters is a 422 (it is an invalid field value;
413 is kept for request bodies over the byte limit), and an unexpected failure is a 500
with ``{"detail": "internal error"}`` while the traceback goes to the log.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.schemas import (
    AnswerOut,
    ArticleDetailOut,
    ArticleOut,
    AskRequest,
    ErrorOut,
    HealthOut,
    IndexReportOut,
)
from api.state import Metrics, ServiceState, WriteError, settle_memory
from rag.pipeline import MAX_QUESTION_CHARS, Pipeline, QuestionError, check_question

log = logging.getLogger("api")
access_log = logging.getLogger("api.access")

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 64 * 1024  # every request but an upload
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a whole POST /documents body, all files together
MAX_UPLOAD_FILES = 20
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    return {code: {"model": ErrorOut} for code in codes}


# -- middleware ------------------------------------------------------------------------
class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"请求体过大，上限 {limit} 字节（request body over {limit} bytes）")


class BodyLimit:
    """Refuse request bodies over a byte limit: by Content-Length, and while reading."""

    def __init__(self, app: ASGIApp, default: int, uploads: int) -> None:
        self.app, self.default, self.uploads = app, default, uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].removeprefix(scope.get("root_path", "")) or "/"
        upload = scope["method"] == "POST" and path == "/documents"
        limit = self.uploads if upload else self.default
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        try:
            too_big = int(declared) > limit
        except ValueError:
            await JSONResponse({"detail": "invalid Content-Length"}, 400)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            # raised inside the route's body reading, so FastAPI answers it and the route is
            # known to the metrics; a declared length over the limit fails before any reading
            nonlocal seen
            if too_big:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


class RequestObserver:
    """Time, count and log every request (one JSON line); turn a crash into a JSON 500."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status, started = 500, False

        async def observed(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, observed)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            status = 500
            if not started:
                response = JSONResponse({"detail": "internal error"}, status_code=500)
                await response(scope, receive, send)
        finally:
            seconds = time.perf_counter() - t0
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe(scope["method"], route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                line = {
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round(seconds * 1000, 1),
                }
                access_log.info(orjson.dumps(line).decode())


# -- dependencies ----------------------------------------------------------------------
async def get_service(request: Request) -> ServiceState:
    service = getattr(request.app.state, "service", None)
    if service is None:
        raise HTTPException(503, "the service is starting: the index is not loaded yet")
    if service.refresh_due():  # a new version on disk: load it off the event loop
        await run_in_threadpool(service.refresh)
    return service


Service = Annotated[ServiceState, Depends(get_service)]
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def require_writer(
    request: Request, api_key: Annotated[str | None, Depends(_api_key_header)]
) -> None:
    """Writes need the configured key; with no key configured only the local-writes flag allows them."""
    expected: str | None = request.app.state.api_key
    if expected:
        given = (api_key or "").encode("latin-1")  # the raw header bytes (ASGI decodes latin-1)
        if not api_key or not hmac.compare_digest(given, expected.encode("utf-8")):
            raise HTTPException(401, "missing or wrong X-API-Key header")
        return
    if not request.app.state.allow_local_writes:
        raise HTTPException(
            403,
            "writes are disabled: set RAG_API_KEY (and send it as X-API-Key) "
            "or start the service with the local-writes flag",
        )


def _question(text: str) -> str:
    try:
        return check_question(text)
    except QuestionError as e:
        if not text.strip():
            raise HTTPException(422, "问题不能为空（the question is empty）") from e
        raise HTTPException(422, f"问题太长，最多 {MAX_QUESTION_CHARS} 个字（{e}）") from e


# -- the app ---------------------------------------------------------------------------
def create_app(
    index_dir: str | Path,
    corpus_dir: str | Path | None = None,
    reader: str = "auto",
    api_key: str | None = None,
    allow_local_writes: bool = False,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The service over the index in ``index_dir``; uploads go to ``corpus_dir``.

    ``api_key`` defaults to the environment variable ``RAG_API_KEY``. Without a key the
    write endpoints answer 403 unless ``allow_local_writes`` (which trusts every client
    that can reach the port).
    """
    index_dir = Path(index_dir)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pipeline = await run_in_threadpool(lambda: Pipeline.load(index_dir, reader).warm_up())
        app.state.service = ServiceState(
            pipeline, index_dir, Path(corpus_dir) if corpus_dir else None, metrics
        )
        settle_memory()
        store = pipeline.store
        log.info(
            "serving %s (%s): %d articles, %d chunks; embedder %s%s, reader %s%s; writes %s",
            index_dir,
            store.version,
            len(store.articles),
            len(store.chunks),
            store.embedder.name,
            " (offline)"
            if store.embedder.offline
            else f" ({getattr(store.embedder, 'backend_used', None)})",
            pipeline.reader.name,
            " (offline)" if pipeline.reader.offline else "",
            app.state.write_mode,
        )
        yield

    app = FastAPI(
        title="rag-zh",
        summary="Extractive question answering over Chinese documents, with citations.",
        version="0.1.0",
        lifespan=lifespan,
        responses={500: {"model": ErrorOut, "description": "internal error"}},
    )
    key = api_key if api_key is not None else os.environ.get("RAG_API_KEY")
    app.state.api_key = key or None
    app.state.allow_local_writes = allow_local_writes
    app.state.write_mode = "api-key" if key else ("local" if allow_local_writes else "disabled")
    app.add_middleware(BodyLimit, default=max_body_bytes, uploads=max_upload_bytes)
    app.add_middleware(RequestObserver, metrics=metrics)  # outermost: sees every status

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        said = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in errors
        )
        for e in exc.errors():  # an empty or over-long question: the words /ask itself uses
            if tuple(e.get("loc", ())) == ("body", "question") and isinstance(e.get("input"), str):
                try:
                    _question(e["input"])
                except HTTPException as q:
                    return JSONResponse({"detail": q.detail, "errors": errors}, 422)
        return JSONResponse(
            {"detail": f"请求无效（invalid request）：{said}", "errors": errors}, 422
        )

    @app.exception_handler(WriteError)
    async def write_refused(request: Request, exc: WriteError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, exc.status)

    @app.post("/ask", response_model=AnswerOut, responses=_errors(400, 413, 422))
    async def ask(body: AskRequest, service: Service) -> Response:
        """Answer a question from the corpus, with evidence and citation.

        ``answer`` is null when the corpus does not answer it. An empty question, or one
        over 1000 characters, is a 422 with a readable ``detail``.
        """
        question = _question(body.question)
        pipeline = service.pipeline  # this request keeps this index, whatever swaps meanwhile
        if pipeline.reader.offline and pipeline.store.embedder.offline:
            # a few milliseconds of pure Python: run it here rather than hand it to a thread
            # (threads would only take turns on the GIL), polling between turns (LoopTurns)
            answer = await service.turns.run(pipeline.ask, question, top_k=body.top_k)
        else:  # a model (embedder or reader) releases the GIL: the loop keeps serving meanwhile
            answer = await run_in_threadpool(pipeline.ask, question, top_k=body.top_k)
        service.metrics.count("abstained" if answer.answer is None else "answered")
        # built from the same dataclasses AnswerOut documents (tests check the schema), so
        # returned as is rather than validated again on every answer
        return Response(orjson.dumps(answer.to_json()), media_type="application/json")

    @app.get("/health", response_model=HealthOut)
    def health(service: Service) -> dict[str, Any]:
        pipeline = service.pipeline
        store = pipeline.store
        return {
            "status": "ok",
            "article_count": len(store.articles),
            "chunk_count": len(store.chunks),
            "index_version": store.version,
            "index_built": store.manifest.get("build_time"),
            "embedder": {
                "name": store.embedder.name,
                "offline": bool(store.embedder.offline),
                "backend": getattr(store.embedder, "backend_used", None),
            },
            "reader": {"name": pipeline.reader.name, "offline": bool(pipeline.reader.offline)},
            "corpus_dir": str(service.corpus_dir) if service.corpus_dir else None,
            "writes": app.state.write_mode,
        }

    @app.get("/articles", response_model=list[ArticleOut], responses=_errors(422))
    def list_articles(
        service: Service,
        q: Annotated[
            str | None, Query(max_length=200, description="part of the title (spaces ignored)")
        ] = None,
    ) -> list[dict[str, Any]]:
        """The indexed articles, in corpus order; ``q`` keeps those whose title holds it."""
        needle = "".join((q or "").split()).casefold()
        articles = sorted(
            service.pipeline.store.articles.values(), key=lambda a: (a.source, a.start)
        )
        return [a.to_json() for a in articles if needle in "".join(a.title.split()).casefold()]

    @app.get("/articles/{article_id}", response_model=ArticleDetailOut, responses=_errors(404))
    def get_article(article_id: str, service: Service) -> dict[str, Any]:
        """Metadata, the cleaned ``text`` and the ``original`` source text from start to end."""
        store = service.pipeline.store
        article = store.articles.get(article_id)
        if article is None:
            raise HTTPException(404, f"no article {article_id!r}")
        original = store.originals.get(article.source, "")[article.start : article.end]
        return {**article.to_json(), "text": article.text, "original": original}

    @app.post(
        "/documents",
        response_model=IndexReportOut,
        responses=_errors(400, 401, 403, 409, 413, 415, 422, 503),
        dependencies=[Depends(require_writer)],
    )
    def upload_documents(
        files: Annotated[list[UploadFile], File(description="one or more corpus files")],
        service: Service,
    ) -> dict[str, Any]:
        """Save files into the corpus folder and update the index (needs X-API-Key).

        Names are reduced to a basename; allowed types are those the loaders read; a file
        that does not load as text is a 422 and nothing is written.
        """
        if len(files) > MAX_UPLOAD_FILES:
            raise HTTPException(400, f"at most {MAX_UPLOAD_FILES} files per upload")
        uploads = [(f.filename or "", f.file.read()) for f in files]
        return service.add_documents(uploads)

    @app.delete(
        "/documents/{source:path}",
        response_model=IndexReportOut,
        responses=_errors(401, 403, 404, 409, 503),
        dependencies=[Depends(require_writer)],
    )
    def delete_document(source: str, service: Service) -> dict[str, Any]:
        """Remove a corpus file (its name as in the index manifest) and update the index."""
        return service.remove_document(source)

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics_text(service: Service) -> PlainTextResponse:
        """Prometheus text format."""
        store = service.pipeline.store
        text = service.metrics.render(
            {
                "rag_index_chunks": ("Chunks in the live index.", len(store.chunks)),
                "rag_index_articles": ("Articles in the live index.", len(store.articles)),
            }
        )
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
