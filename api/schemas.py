"""Request and response bodies of the HTTP API (the JSON contract of ARCHITECTURE.md).

Response models allow extra fields, so a field the library adds later passes through.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rag.pipeline import MAX_QUESTION_CHARS

MAX_TOP_K = 20


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AskRequest(BaseModel):
    question: str = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        description="the question, in natural language (at most 1000 characters)",
        examples=["古文化街被誉为什么？"],
    )
    # strict: true or "5" is not a count (pydantic would otherwise read true as 1)
    top_k: int = Field(
        5, ge=1, le=MAX_TOP_K, strict=True, description="how many passages to return"
    )


class EvidenceOut(_Open):
    text: str
    source: str
    start: int
    end: int
    answer_start: int | None = None
    answer_end: int | None = None


class CitationOut(_Open):
    article_id: str
    title: str
    source: str
    start: int
    end: int
    publication: str | None = None
    issue: str | None = None
    author: str | None = None


class PassageOut(_Open):
    chunk_id: str
    title: str
    source: str
    start: int
    end: int
    text: str
    score: float


class AnswerOut(_Open):
    question: str
    answer: str | None = Field(description="null when the corpus does not answer the question")
    confidence: float
    evidence: EvidenceOut | None = None
    citations: list[CitationOut] = []
    passages: list[PassageOut] = []


class ComponentOut(BaseModel):
    name: str
    offline: bool
    backend: str | None = None  # a model's runtime: torch, onnx, onnx-int8


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


class ArticleOut(_Open):
    id: str
    title: str
    source: str
    start: int
    end: int
    chars: int


class ArticleDetailOut(ArticleOut):
    text: str = Field(description="the cleaned article text (what is indexed and read)")
    original: str = Field(
        description="the source file's text from start to end: evidence offsets point into it"
        " after subtracting start"
    )


class IndexReportOut(_Open):
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
