"""``GET /articles`` and ``GET /articles/{id}``: the indexed articles and their text.

``/v1/articles`` is paged (``limit``, ``offset``; the answer says ``total``); the path before
``/v1`` keeps its plain list of every article, with the total in ``X-Total-Count``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response

from api.deps import Live
from api.errors import documented
from api.schemas import ArticleDetailOut, ArticleOut, ArticlePageOut

router = APIRouter()  # served under /v1
legacy_router = APIRouter()  # the paths before /v1, kept as they were

MAX_PAGE = 500
TitlePart = Annotated[
    str | None, Query(max_length=200, description="part of the title (spaces ignored)")
]


@router.get("/articles", response_model=ArticlePageOut, responses=documented(422))
def page_of_articles(
    live: Live,
    q: TitlePart = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="articles on this page")] = 50,
    offset: Annotated[int, Query(ge=0, description="articles skipped before this page")] = 0,
) -> dict[str, Any]:
    """A page of the indexed articles in corpus order (``q`` keeps those whose title holds
    it), with how many there are in all."""
    found = live.pipeline.articles(q)
    items = [a.to_json() for a in found[offset : offset + limit]]
    return {"total": len(found), "limit": limit, "offset": offset, "items": items}


@legacy_router.get("/articles", response_model=list[ArticleOut], responses=documented(422))
def list_articles(live: Live, response: Response, q: TitlePart = None) -> list[dict[str, Any]]:
    """Every indexed article, in corpus order; ``q`` keeps those whose title holds it."""
    found = live.pipeline.articles(q)
    response.headers["X-Total-Count"] = str(len(found))
    return [a.to_json() for a in found]


@router.get("/articles/{article_id}", response_model=ArticleDetailOut, responses=documented(404))
@legacy_router.get(
    "/articles/{article_id}", response_model=ArticleDetailOut, responses=documented(404)
)
def get_article(article_id: str, live: Live) -> dict[str, Any]:
    """Metadata, the cleaned ``text`` and the ``original`` source text from start to end."""
    found = live.pipeline.article(article_id)
    if found is None:
        raise HTTPException(404, f"no article {article_id!r}")
    article, original = found
    return {**article.to_json(), "text": article.text, "original": original}
