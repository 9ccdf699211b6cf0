"""HTTP entry points for attachments (/v1/attachments).

Upload first, then name the returned ids in a dossier's or a supplement's documents.
The upload body is multipart (``file``); its size limit is ``attachment_max_bytes``
rather than the JSON limit (see ``main.py``).
"""

from __future__ import annotations

import hashlib
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Header, Request, UploadFile, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict

from motcua.errors import problems
from motcua.idempotency import Idempotency, IdempotencyKeyReused
from motcua.service import SessionDep
from motcua_intake.attachments import service
from motcua_intake.attachments.errors import (
    AttachmentEmpty,
    AttachmentNotFound,
    AttachmentTooLarge,
    AttachmentTypeMismatch,
    AttachmentTypeRefused,
    FilenameInvalid,
)
from motcua_intake.attachments.storage import Storage

router = APIRouter(prefix="/v1/attachments", tags=["attachments"])


class AttachmentRead(BaseModel):
    """An uploaded file."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    dossier_code: str | None


def _storage(request: Request) -> Storage:
    return request.app.state.storage


@router.post("", status_code=status.HTTP_201_CREATED, operation_id="uploadAttachment",
             response_model=AttachmentRead,
             responses=problems(AttachmentTooLarge, AttachmentTypeRefused,
                                AttachmentTypeMismatch, AttachmentEmpty, FilenameInvalid,
                                IdempotencyKeyReused))
async def upload_attachment(
    request: Request,
    file: Annotated[UploadFile, File(description="PDF, PNG or JPEG")],
    session: SessionDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1,
                                                  max_length=255)] = None,
) -> AttachmentRead | JSONResponse:
    """Stream a file to storage; answers its id, type (from its bytes) and SHA-256."""
    storage = _storage(request)
    stored = await service.store(file, storage,
                                 max_bytes=request.app.state.settings.attachment_max_bytes)
    # The kit's IdempotencyDep hashes the raw body, which would hold the whole upload in
    # memory; the same contract is kept by hashing what was streamed instead.
    caller = hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()
    idem = Idempotency(idempotency_key, f"POST {request.url.path} {caller[:16]}",
                       hashlib.sha256(f"{stored.filename}\n{stored.content_type}\n"
                                      f"{stored.sha256}".encode()).hexdigest())
    try:
        replayed = await idem.replay(session)
    except Exception:
        await storage.delete(stored.key)
        raise
    if replayed is not None:
        await storage.delete(stored.key)
        return replayed
    result = AttachmentRead.model_validate(service.record(session, stored))
    idem.remember(session, status.HTTP_201_CREATED, result)
    return result


@router.get("/{attachment_id}", operation_id="getAttachment",
            responses=problems(AttachmentNotFound))
async def get_attachment(attachment_id: str, session: SessionDep) -> AttachmentRead:
    """An attachment's metadata."""
    return AttachmentRead.model_validate(await service.get(session, attachment_id))


@router.get("/{attachment_id}/content", operation_id="downloadAttachment",
            response_class=StreamingResponse, responses=problems(AttachmentNotFound))
async def download_attachment(attachment_id: str, request: Request,
                              session: SessionDep) -> StreamingResponse:
    """The file as stored, with the type sniffed at upload (never the client's claim)."""
    attachment = await service.get(session, attachment_id)
    disposition = f"attachment; filename*=UTF-8''{quote(attachment.filename)}"
    return StreamingResponse(
        _storage(request).read(attachment.storage_key), media_type=attachment.content_type,
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff",
                 "Digest": f"sha-256={attachment.sha256}"})
