"""``POST /documents`` and ``DELETE /documents/{source}``: corpus writes (need X-API-Key)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, UploadFile

from api.deps import Live, require_writer
from api.errors import documented
from api.schemas import IndexReportOut

MAX_UPLOAD_FILES = 20

router = APIRouter(dependencies=[Depends(require_writer)])


@router.post(
    "/documents",
    status_code=201,
    response_model=IndexReportOut,
    responses=documented(400, 401, 403, 409, 413, 415, 422, 503),
)
def upload_documents(
    files: Annotated[list[UploadFile], File(description="one or more corpus files")],
    live: Live,
) -> dict[str, Any]:
    """Save files into the corpus folder and update the index (needs X-API-Key).

    Names are reduced to a basename; allowed types are those the loaders read; a file
    that does not load as text is a 422 and nothing is written.
    """
    if len(files) > MAX_UPLOAD_FILES:
        raise HTTPException(400, f"at most {MAX_UPLOAD_FILES} files per upload")
    uploads = [(f.filename or "", f.file.read()) for f in files]
    return live.add_documents(uploads)


@router.delete(
    "/documents/{source:path}",
    response_model=IndexReportOut,
    responses=documented(401, 403, 404, 409, 503),
)
def delete_document(source: str, live: Live) -> dict[str, Any]:
    """Remove a corpus file (its name as in the index manifest) and update the index."""
    return live.remove_document(source)
