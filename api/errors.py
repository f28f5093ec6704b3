"""How failures become HTTP answers: every error is JSON ``{"detail": "…"}``.

A question the domain rule refuses (:func:`rag.question_rule.check_question`, applied by the
request model) is a 422 with the rule's own words; any other invalid field is a 422 that
names the fields; a refused corpus write has the status its :class:`Refusal` maps to.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.schemas import ErrorOut
from rag.live_index import Refusal, WriteError
from rag.question_rule import QuestionError

WRITE_STATUS = {
    Refusal.BAD_NAME: 400,
    Refusal.UNSUPPORTED: 415,
    Refusal.UNREADABLE: 422,
    Refusal.CONFLICT: 409,
    Refusal.NOT_FOUND: 404,
    Refusal.NO_CORPUS: 503,
}


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    return {code: {"model": ErrorOut} for code in codes}


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()
    ]
    for e in exc.errors():
        refused = (e.get("ctx") or {}).get("error")
        if isinstance(refused, QuestionError):
            return JSONResponse({"detail": refused.detail, "errors": errors}, 422)
    said = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}" for e in errors
    )
    return JSONResponse({"detail": f"请求无效（invalid request）：{said}", "errors": errors}, 422)


async def write_refused(request: Request, exc: WriteError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, WRITE_STATUS[exc.reason])


def install(app: FastAPI) -> None:
    """Answer invalid requests and refused writes as above."""
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(WriteError, write_refused)  # type: ignore[arg-type]
