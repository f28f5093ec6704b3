"""The service's logs: one JSON object a line, with time, level and the request's id.

Every request gets an id (the client's ``X-Request-ID`` when it is a plain token of at most
64 characters, else a new one), sent back in ``X-Request-ID`` and put on every line logged
while the request runs, so an error's traceback and its access line can be joined. The API
key is never logged; the question text only when ``RAG_LOG_QUESTIONS`` is set.

>>> line = orjson.loads(JsonFormatter().format(logging.makeLogRecord({"msg": "hi", "levelname": "INFO"})))
>>> sorted(line)
['level', 'logger', 'message', 'ts']
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar

import orjson

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def new_request_id(given: bytes | None) -> str:
    """The client's id when it is a plain token, else a fresh one."""
    if given:
        text = given.decode("latin-1")
        if _TOKEN.fullmatch(text):
            return text
    return uuid.uuid4().hex


def timestamp(seconds: float | None = None) -> str:
    """ISO 8601 in UTC with milliseconds: ``2026-12-08T01:02:03.456Z``."""
    t = time.time() if seconds is None else seconds
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: ts, level, logger, message, request_id, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            line["request_id"] = rid
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure(level: int = logging.INFO, fmt: str = "json") -> None:
    """The service log on stderr (``json``, or ``text`` for people); the access log is one
    JSON object a request either way."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    access = logging.getLogger("api.access")
    if not access.handlers:
        plain = logging.StreamHandler(sys.stderr)
        plain.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(plain)
    access.propagate = False
    access.setLevel(logging.INFO)
