"""``GET /health`` and ``GET /metrics``: what is served, and how the service is doing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response

from api.deps import Live, ServiceMetrics
from api.metrics import CONTENT_TYPE
from api.schemas import ErrorOut, HealthOut

router = APIRouter()


@router.get("/livez", responses={200: {"description": "the process answers"}})
def livez() -> dict[str, str]:
    """Liveness: the process is up and its event loop answers (no index needed)."""
    return {"status": "alive"}


@router.get("/readyz", responses={503: {"model": ErrorOut, "description": "not ready yet"}})
def readyz(request: Request) -> dict[str, str]:
    """Readiness: the index is loaded and questions can be answered."""
    live = getattr(request.app.state, "live", None)
    if live is None:
        raise HTTPException(503, "the service is starting: the index is not loaded yet")
    return {"status": "ready", "index_version": live.pipeline.version}


@router.get("/health", response_model=HealthOut)
def health(live: Live, request: Request) -> dict[str, Any]:
    return {
        "status": "ok",
        **live.pipeline.describe(),
        "corpus_dir": str(live.corpus_dir) if live.corpus_dir else None,
        "writes": request.app.state.write_mode,
    }


@router.get("/metrics", response_class=PlainTextResponse)
def metrics_text(live: Live, metrics: ServiceMetrics) -> Response:
    """Prometheus text format (with several workers: all of them, added up)."""
    metrics.describe_served(live.pipeline.describe())
    return Response(metrics.render(), media_type=CONTENT_TYPE)
