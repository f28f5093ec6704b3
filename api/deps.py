"""What the routes depend on: the live index, the metrics, the loop's turns, the writer check.

The app keeps them in ``app.state`` (``live`` once the index is loaded, ``metrics``,
``turns``, ``api_key``, ``allow_local_writes``, ``write_mode``).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader

from api.loop_turns import LoopTurns
from api.metrics import Metrics
from rag.live_index import LiveIndex


async def live_index(request: Request) -> LiveIndex:
    """The live index, after picking up a version built outside the service, if due."""
    live = getattr(request.app.state, "live", None)
    if live is None:
        raise HTTPException(503, "the service is starting: the index is not loaded yet")
    if live.refresh_due():  # a new version on disk: load it off the event loop
        await run_in_threadpool(live.refresh)
    return live


async def metrics(request: Request) -> Metrics:
    return request.app.state.metrics


@dataclass(frozen=True)
class Asking:
    """What ``POST /ask`` needs, resolved as one dependency (each dependency costs the
    request its own resolution step, and /ask is the hot path)."""

    live: LiveIndex
    metrics: Metrics
    turns: LoopTurns


async def asking(request: Request) -> Asking:
    state = request.app.state
    return Asking(await live_index(request), state.metrics, state.turns)


Live = Annotated[LiveIndex, Depends(live_index)]
Ask = Annotated[Asking, Depends(asking)]
ServiceMetrics = Annotated[Metrics, Depends(metrics)]
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
