"""``GET /articles`` and ``GET /articles/{id}``: the indexed articles and their text."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from api.deps import Live
from api.errors import documented
from api.schemas import ArticleDetailOut, ArticleOut

router = APIRouter()


@router.get("/articles", response_model=list[ArticleOut], responses=documented(422))
def list_articles(
    live: Live,
    q: Annotated[
        str | None, Query(max_length=200, description="part of the title (spaces ignored)")
    ] = None,
) -> list[dict[str, Any]]:
    """The indexed articles, in corpus order; ``q`` keeps those whose title holds it."""
    return [a.to_json() for a in live.pipeline.articles(q)]


@router.get("/articles/{article_id}", response_model=ArticleDetailOut, responses=documented(404))
def get_article(article_id: str, live: Live) -> dict[str, Any]:
    """Metadata, the cleaned ``text`` and the ``original`` source text from start to end."""
    found = live.pipeline.article(article_id)
    if found is None:
        raise HTTPException(404, f"no article {article_id!r}")
    article, original = found
    return {**article.to_json(), "text": article.text, "original": original}
