"""The FastAPI application: its configuration, start-up and the routers it serves.

>>> app = create_app(Path("var/index"), corpus_dir=Path("corpus"), reader="offline")  # doctest: +SKIP
>>> uvicorn.run(app)  # doctest: +SKIP

Endpoints, under ``/v1`` (and at the same paths without it, as before the prefix):
``POST /ask``, ``GET /health``, ``GET /livez``, ``GET /readyz``, ``GET /articles`` (paged
under ``/v1``), ``GET /articles/{id}``, ``POST /documents`` (201), ``DELETE
/documents/{source}``, ``GET /metrics``; and ``GET /`` (the chat page), ``/favicon.ico``,
``/static/…``, the OpenAPI pages at ``/docs``. ``HEAD`` answers wherever ``GET`` does.

Every error is JSON ``{"detail": "…"}``: a question that is empty or over
:data:`~rag.question_rule.MAX_QUESTION_CHARS` characters is a 422 (it is an invalid field
value; 413 is kept for request bodies over the byte limit), and an unexpected failure is a
500 with ``{"detail": "internal error"}`` while the traceback goes to the log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles

from api import errors
from api.loop_turns import LoopTurns
from api.metrics import Metrics
from api.middleware import API_PREFIX, BodyLimit, HeadAsGet, RequestObserver
from api.routes import articles, ask, documents, health, page
from api.schemas import ErrorOut
from rag import __version__, check_import_roots
from rag.live_index import LiveIndex
from rag.settings import Settings, load_settings

log = logging.getLogger("api")

# the defaults of RAG_MAX_BODY_BYTES (every request but an upload) and RAG_MAX_UPLOAD_BYTES
# (a whole POST /documents body, all files together)
MAX_BODY_BYTES = Settings.model_fields["max_body_bytes"].default
MAX_UPLOAD_BYTES = Settings.model_fields["max_upload_bytes"].default


def create_app(
    index_dir: str | Path,
    corpus_dir: str | Path | None = None,
    reader: str = "auto",
    api_key: str | None = None,
    allow_local_writes: bool = False,
    max_upload_bytes: int | None = None,
    max_body_bytes: int | None = None,
    log_questions: bool = False,
) -> FastAPI:
    """The service over the index in ``index_dir``; uploads go to ``corpus_dir``.

    What is not given comes from :class:`rag.settings.Settings` (``RAG_API_KEY``, the body
    limits, ``RAG_LOG_QUESTIONS``). Without a key the write endpoints answer 403 unless
    ``allow_local_writes`` (which trusts every client that can reach the port).
    """
    check_import_roots()  # another distribution's `index` or `eval` first on the path: say so
    app = FastAPI(
        title="rag-zh",
        summary="Extractive question answering over Chinese documents, with citations.",
        version=__version__,
        lifespan=_serving(Path(index_dir), Path(corpus_dir) if corpus_dir else None, reader),
        responses={500: {"model": ErrorOut, "description": "internal error"}},
    )
    settings = load_settings()
    key = api_key if api_key is not None else settings.key()
    app.state.api_key = key or None
    app.state.allow_local_writes = allow_local_writes
    app.state.write_mode = "api-key" if key else ("local" if allow_local_writes else "disabled")
    app.state.metrics = Metrics()
    app.state.log_questions = log_questions or settings.log_questions
    app.state.turns = LoopTurns()
    app.add_middleware(
        BodyLimit,
        default=max_body_bytes or settings.max_body_bytes,
        uploads=max_upload_bytes or settings.max_upload_bytes,
    )
    app.add_middleware(HeadAsGet)
    app.add_middleware(RequestObserver, metrics=app.state.metrics)  # outermost: sees every status
    errors.install(app)
    for routes in (ask, health, articles, documents):
        app.include_router(routes.router, prefix=API_PREFIX)
    # the paths before the versioned prefix answer as they did (left out of the schema)
    for router in (ask.router, health.router, articles.legacy_router, documents.router):
        app.include_router(router, include_in_schema=False)
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=page.STATIC_DIR), name="static")
    return app


def _serving(
    index_dir: Path, corpus_dir: Path | None, reader: str
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: load the index (off the event loop), log what is served."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics: Metrics = app.state.metrics

        def swapped() -> None:  # an update swapped in: count it, and say what is served now
            metrics.count("reindex")
            now = getattr(app.state, "live", None)
            if now is not None:
                metrics.describe_served(now.pipeline.describe())

        live = await run_in_threadpool(LiveIndex.open, index_dir, reader, corpus_dir, swapped)
        app.state.live = live
        served = live.pipeline.describe()
        metrics.describe_served(served)
        emb, rd = served["embedder"], served["reader"]
        log.info(
            "serving %s (%s): %d articles, %d chunks; embedder %s%s, reader %s%s; writes %s",
            index_dir,
            served["index_version"],
            served["article_count"],
            served["chunk_count"],
            emb["name"],
            " (offline)" if emb["offline"] else f" ({emb['backend']})",
            rd["name"],
            " (offline)" if rd["offline"] else "",
            app.state.write_mode,
        )
        if rd.get("note"):
            log.warning("reader: %s", rd["note"])
        yield

    return lifespan
