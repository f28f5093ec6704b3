"""``GET /health`` and ``GET /metrics``: what is served, and how the service is doing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from api.deps import Live, ServiceMetrics
from api.schemas import HealthOut

router = APIRouter()


@router.get("/health", response_model=HealthOut)
def health(live: Live, request: Request) -> dict[str, Any]:
    return {
        "status": "ok",
        **live.pipeline.describe(),
        "corpus_dir": str(live.corpus_dir) if live.corpus_dir else None,
        "writes": request.app.state.write_mode,
    }


@router.get("/metrics", response_class=PlainTextResponse)
def metrics_text(live: Live, metrics: ServiceMetrics) -> PlainTextResponse:
    """Prometheus text format."""
    served = live.pipeline.describe()
    text = metrics.render(
        {
            "rag_index_chunks": ("Chunks in the live index.", served["chunk_count"]),
            "rag_index_articles": ("Articles in the live index.", served["article_count"]),
        }
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")
