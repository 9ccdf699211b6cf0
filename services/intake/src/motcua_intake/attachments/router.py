"""HTTP entry points for attachments (/v1/attachments).

Upload first, then name the returned ids in a dossier's or a supplement's documents.
The upload body is multipart (``file``); its size limit is ``attachment_max_bytes``
rather than the JSON limit (see ``main.py``).

Citizens and officers upload; a file is read by its uploader, by officers of the agency
of the dossier it is attached to, and by that dossier's owner citizen. Anyone else gets
the 404 of an unknown id (an officer of another agency: 403 ``auth.agency_forbidden``).
"""

from __future__ import annotations

import hashlib
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Header, Request, UploadFile, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.auth import AgencyForbidden, NotAllowed, Principal
from motcua.errors import problems
from motcua.idempotency import Idempotency, IdempotencyKeyReused, idempotency_scope
from motcua.service import SessionDep
from motcua_intake import access
from motcua_intake.access import FileUser
from motcua_intake.attachments import service
from motcua_intake.attachments.errors import (
    AttachmentEmpty,
    AttachmentNotFound,
    AttachmentTooLarge,
    AttachmentTypeMismatch,
    AttachmentTypeRefused,
    FilenameInvalid,
)
from motcua_intake.attachments.models import Attachment
from motcua_intake.attachments.storage import Storage
from motcua_intake.dossiers.repository import DossierRepository

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
                                NotAllowed, IdempotencyKeyReused))
async def upload_attachment(
    request: Request,
    file: Annotated[UploadFile, File(description="PDF, PNG or JPEG")],
    session: SessionDep,
    who: FileUser,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1,
                                                  max_length=255)] = None,
) -> AttachmentRead | JSONResponse:
    """Stream a file to storage; answers its id, type (from its bytes) and SHA-256.

    Only the uploader may name it in a dossier or a supplement."""
    storage = _storage(request)
    stored = await service.store(file, storage,
                                 max_bytes=request.app.state.settings.attachment_max_bytes)
    # The kit's IdempotencyDep hashes the raw body, which would hold the whole upload in
    # memory; the same contract is kept by hashing what was streamed instead.
    idem = Idempotency(idempotency_key, idempotency_scope(request, who),
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
    key = request.app.state.settings.resolved_owner_ref_key()
    result = AttachmentRead.model_validate(service.record(
        session, stored, by=access.uploader_ref(who, key), by_kind=who.kind))
    idem.remember(session, status.HTTP_201_CREATED, result)
    return result


async def _readable(request: Request, session: AsyncSession, attachment_id: str,
                    who: Principal) -> Attachment:
    attachment = await service.get(session, attachment_id)
    key = request.app.state.settings.resolved_owner_ref_key()
    if access.is_uploader(who, attachment, key):
        return attachment
    dossier = None
    if attachment.dossier_code is not None:
        dossier = await DossierRepository(session).get(attachment.dossier_code)
    if dossier is not None:
        if who.kind == "citizen" and access.is_owner(who, dossier):
            return attachment
        if who.kind == "officer":
            access.ensure_can_read(who, dossier)  # 403 for another agency's dossier
            return attachment
    raise AttachmentNotFound(f"no attachment {attachment_id}")


@router.get("/{attachment_id}", operation_id="getAttachment",
            responses=problems(AttachmentNotFound, NotAllowed, AgencyForbidden))
async def get_attachment(attachment_id: str, request: Request, session: SessionDep,
                         who: FileUser) -> AttachmentRead:
    """An attachment's metadata."""
    return AttachmentRead.model_validate(await _readable(request, session, attachment_id,
                                                         who))


@router.get("/{attachment_id}/content", operation_id="downloadAttachment",
            response_class=StreamingResponse,
            responses=problems(AttachmentNotFound, NotAllowed, AgencyForbidden))
async def download_attachment(attachment_id: str, request: Request, session: SessionDep,
                              who: FileUser) -> StreamingResponse:
    """The file as stored, with the type sniffed at upload (never the client's claim)."""
    attachment = await _readable(request, session, attachment_id, who)
    disposition = f"attachment; filename*=UTF-8''{quote(attachment.filename)}"
    return StreamingResponse(
        _storage(request).read(attachment.storage_key), media_type=attachment.content_type,
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff",
                 "Digest": f"sha-256={attachment.sha256}"})
