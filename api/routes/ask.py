"""``POST /ask``: a question answered from the live index."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import Ask
from api.errors import documented
from api.schemas import AnswerOut, AskRequest

router = APIRouter()


@router.post("/ask", response_model=AnswerOut, responses=documented(400, 413, 422))
async def ask(body: AskRequest, ctx: Ask, request: Request) -> Response:
    """Answer a question from the corpus, with evidence and citation.

    ``answer`` is null when the corpus does not answer it. An empty question, or one
    over 1000 characters, is a 422 with a readable ``detail``.
    """
    if request.app.state.log_questions:  # off unless configured: questions may be private
        request.scope["rag.log"]["question"] = body.question
    pipeline = ctx.live.pipeline  # this request keeps this index, whatever swaps meanwhile
    history = [t.turn() for t in body.history]
    if pipeline.pure_python:
        # a few milliseconds of pure Python: run it here rather than hand it to a thread
        # (threads would only take turns on the GIL), polling between turns (LoopTurns)
        answer = await ctx.turns.run(
            pipeline.answer, body.question, top_k=body.top_k, history=history
        )
    else:  # a model (embedder or reader) releases the GIL: the loop keeps serving meanwhile
        answer = await run_in_threadpool(
            pipeline.answer, body.question, top_k=body.top_k, history=history
        )
    ctx.metrics.count("abstained" if answer.answer is None else "answered")
    # built from the same dataclasses AnswerOut documents, so returned as is rather than
    # validated again on every answer
    return Response(orjson.dumps(answer.to_json()), media_type="application/json")
