"""ASGI middleware: the request body limit, HEAD as GET, and timing, counting and logging
every request."""

from __future__ import annotations

import logging
import time

import orjson
from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logs import new_request_id, request_id, timestamp
from api.metrics import Metrics

log = logging.getLogger("api")
access_log = logging.getLogger("api.access")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"请求体过大，上限 {limit} 字节（request body over {limit} bytes）")


# a body over the limit is read and thrown away up to this size before the 413 is sent, so
# that a client still sending reads the answer (one that is closed on mid-send sees only a
# "connection reset"); a larger one is answered at once and the connection closed
DRAIN_MAX = 64 * 1024 * 1024


class BodyLimit:
    """Refuse request bodies over a byte limit: by Content-Length, and while reading."""

    def __init__(self, app: ASGIApp, default: int, uploads: int) -> None:
        self.app, self.default, self.uploads = app, default, uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].removeprefix(scope.get("root_path", "")) or "/"
        upload = scope["method"] == "POST" and path in ("/documents", "/v1/documents")
        limit = self.uploads if upload else self.default
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        try:
            too_big = int(declared) > limit
        except ValueError:
            await JSONResponse({"detail": "invalid Content-Length"}, 400)(scope, receive, send)
            return
        seen = 0

        async def drain(message: Message) -> None:
            """Read the rest of the body (up to DRAIN_MAX) so the 413 reaches the client."""
            nonlocal seen
            while message["type"] == "http.request" and message.get("more_body", False):
                if seen > DRAIN_MAX:
                    return
                message = await receive()
                seen += len(message.get("body", b""))

        if too_big:  # answered here, whatever the route would read: after the body, if sent
            if int(declared) <= DRAIN_MAX:
                first = await receive()
                seen += len(first.get("body", b""))
                await drain(first)
            detail = BodyTooLarge(limit).detail
            response = JSONResponse({"detail": detail}, 413, headers={"Connection": "close"})
            await response(scope, receive, send)
            return

        async def counted() -> Message:
            # raised inside the route's body reading, so FastAPI answers it and the route is
            # known to the metrics
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    await drain(message)
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


class HeadAsGet:
    """``HEAD`` answers wherever ``GET`` does: the same status and headers, no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


API_PREFIX = "/v1"


def route_label(scope: Scope) -> str:
    """The route a request matched, as its template (``/v1/articles/{article_id}``), so
    metrics stay few; ``unmatched`` for none. (FastAPI names an included router's route
    without the prefix it was included under: the versioned prefix is put back.)"""
    route = getattr(scope.get("route"), "path", None)
    if route is None:
        return "unmatched"
    if scope["path"].startswith(API_PREFIX + "/") and not route.startswith(API_PREFIX + "/"):
        return API_PREFIX + route
    return route


class RequestObserver:
    """Time, count and log every request (one JSON line, with its id); turn a crash into a
    JSON 500. A route adds to the line through ``scope["rag.log"]`` (a dict)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status, started = 500, False
        rid = new_request_id(dict(scope["headers"]).get(b"x-request-id"))
        token = request_id.set(rid)
        scope["rag.log"] = {}

        async def observed(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message = {**message, "headers": headers}
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
            route = route_label(scope)
            self.metrics.observe(scope["method"], route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                line = {
                    "ts": timestamp(),
                    "level": "INFO",
                    "request_id": rid,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round(seconds * 1000, 1),
                    **scope["rag.log"],
                }
                access_log.info(orjson.dumps(line).decode())
            request_id.reset(token)
