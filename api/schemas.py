"""Request and response bodies of the HTTP API (the JSON contract of ARCHITECTURE.md).

The answer's parts and the article listing are built from the domain dataclasses of
:mod:`rag.types`, so the schema follows them; the question is checked by the domain's
rule (:func:`rag.question_rule.check_question`), whose limits the schema documents.
Response models allow extra fields, so a field the library adds later passes through.
"""

from __future__ import annotations

import dataclasses
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from rag.conversation import MAX_HISTORY, Turn
from rag.question_rule import MAX_QUESTION_CHARS, check_question
from rag.types import Article, Chunk, Citation, Evidence

MAX_TOP_K = 20
_OPEN = ConfigDict(extra="allow")


def _model_of(
    name: str,
    domain: type,
    *,
    rename: dict[str, str] | None = None,
    only: tuple[str, ...] = (),
    drop: tuple[str, ...] = (),
    **more: Any,
) -> type[BaseModel]:
    """An open response model with the fields of the dataclass ``domain``: ``only`` those
    (default all) but not ``drop``, ``rename`` mapping a field to its JSON name; ``more``
    adds fields as ``name=(type, default)``."""
    hints = get_type_hints(domain)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(domain):
        if (not only or f.name in only) and f.name not in drop:
            default = ... if f.default is dataclasses.MISSING else f.default
            fields[(rename or {}).get(f.name, f.name)] = (hints[f.name], default)
    return create_model(name, __config__=_OPEN, **fields, **more)


class HistoryTurn(BaseModel):
    """An earlier turn of the conversation, as the client shows it."""

    question: str = Field(max_length=MAX_QUESTION_CHARS, description="what was asked")
    understood_as: str | None = Field(
        None, max_length=MAX_QUESTION_CHARS, description="the answer's `understood_as`"
    )
    answer: str | None = Field(None, max_length=500, description="the answer given, if any")
    answer_type: str | None = Field(None, max_length=20, description="the answer's type")
    article_id: str | None = Field(
        None, max_length=200, description="the article the answer cited (`citations[0]`)"
    )

    def turn(self) -> Turn:
        return Turn(
            self.question, self.understood_as, self.answer, self.answer_type, self.article_id
        )


class AskRequest(BaseModel):
    question: str = Field(
        description=f"the question, in natural language (at most {MAX_QUESTION_CHARS} characters)",
        examples=["古文化街被誉为什么？"],
        json_schema_extra={"minLength": 1, "maxLength": MAX_QUESTION_CHARS},
    )
    # strict: true or "5" is not a count (pydantic would otherwise read true as 1)
    top_k: int = Field(
        5, ge=1, le=MAX_TOP_K, strict=True, description="how many passages to return"
    )
    history: list[HistoryTurn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY,
        description="the conversation so far, oldest first: a follow-up (销售额呢？) is "
        "completed from the last turn and answered as `understood_as`",
    )

    @field_validator("question")
    @classmethod
    def _askable(cls, question: str) -> str:
        return check_question(question)


EvidenceOut = _model_of("EvidenceOut", Evidence)
CitationOut = _model_of("CitationOut", Citation)
PassageOut = _model_of(
    "PassageOut", Chunk, rename={"id": "chunk_id"}, drop=("text_start",), score=(float, ...)
)
# the fields every article has; the optional ones pass through as extras, as Article.to_json
# leaves them out when unknown
ArticleOut = _model_of(
    "ArticleOut", Article, only=("id", "title", "source", "start", "end"), chars=(int, ...)
)


class ArticlePageOut(BaseModel):
    total: int = Field(description="articles in all (that match ``q``)")
    limit: int
    offset: int
    items: list[ArticleOut]  # type: ignore[valid-type]


class AnswerOut(BaseModel):
    model_config = _OPEN

    question: str
    answer: str | None = Field(description="null when the corpus does not answer the question")
    confidence: float
    doubtful: bool = Field(
        False, description="answered, but below 0.5 confidence: show it as a guess"
    )
    understood_as: str | None = Field(
        None, description="a follow-up completed from the history: the question answered"
    )
    evidence: EvidenceOut | None = None  # type: ignore[valid-type]
    citations: list[CitationOut] = []  # type: ignore[valid-type]
    passages: list[PassageOut] = []  # type: ignore[valid-type]


class ComponentOut(BaseModel):
    name: str
    offline: bool
    backend: str | None = None  # a model's runtime: torch, onnx, onnx-int8
    note: str | None = None  # why a fallback serves instead of the intended component


class HealthOut(BaseModel):
    status: str
    article_count: int
    chunk_count: int
    index_version: str
    index_built: str | None = None
    embedder: ComponentOut
    reader: ComponentOut
    corpus_dir: str | None = None
    writes: str = Field(description="api-key, local (no key, writes allowed) or disabled")


class ArticleDetailOut(ArticleOut):  # type: ignore[valid-type,misc]
    text: str = Field(description="the cleaned article text (what is indexed and read)")
    original: str = Field(
        description="the source file's text from start to end: evidence offsets point into it"
        " after subtracting start"
    )


class IndexReportOut(BaseModel):
    model_config = _OPEN

    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: int
    embedded_chunks: int
    chunk_count: int
    article_count: int
    seconds: float
    version: str


class ErrorOut(BaseModel):
    detail: str
