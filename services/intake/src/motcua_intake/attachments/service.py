"""Attachment use cases: stream an upload to storage, record it, attach it, sweep orphans.

An upload is checked before a byte is stored (filename, declared size, magic bytes
against the extension and declared type), then streamed to storage while it is hashed
(SHA-256) and counted, so a body that grows past the limit is aborted with nothing left.
The database row is written in the request's transaction; a row without a dossier after
``attachment_orphan_hours`` is swept together with its object.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import UploadFile
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua.db import utcnow
from motcua.errors import FieldError
from motcua.ids import new_id
from motcua.logging import get_logger
from motcua_intake.attachments.errors import (
    AttachmentEmpty,
    AttachmentNotFound,
    AttachmentTooLarge,
    AttachmentTypeMismatch,
    AttachmentTypeRefused,
    FilenameInvalid,
)
from motcua_intake.attachments.models import Attachment
from motcua_intake.attachments.sniff import ACCEPTED, extension_type, filename_problem, sniff
from motcua_intake.attachments.storage import CHUNK, Storage

log = get_logger("motcua_intake.attachments")
_UNDECLARED = {None, "", "application/octet-stream"}


@dataclass(frozen=True)
class StoredFile:
    """An object streamed to storage, not yet recorded."""

    key: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str


def _check_type(filename: str, declared: str | None, head: bytes) -> str:
    """The accepted content type of the upload, or the problem that refuses it."""
    sniffed = sniff(head)
    claimed = extension_type(filename)
    declared = (declared or "").split(";", 1)[0].strip().lower() or None
    if sniffed.content_type is None:
        what = sniffed.looks_like or "not a PDF, PNG or JPEG file"
        if claimed or declared in ACCEPTED:
            raise AttachmentTypeMismatch(
                f"{filename} claims to be {claimed or declared} but its content is {what}",
                errors=[FieldError(field="file", code="attachment.type_mismatch",
                                   message=f"content is {what}")])
        raise AttachmentTypeRefused(f"{filename}: {what}; accepted: PDF, PNG, JPEG",
                                    errors=[FieldError(field="file",
                                                       code="attachment.type_not_allowed",
                                                       message=what)])
    if claimed is None:
        raise AttachmentTypeRefused(
            f"{filename}: the extension must be one of .pdf, .png, .jpg, .jpeg",
            errors=[FieldError(field="file.filename", code="attachment.type_not_allowed",
                               message="extension not accepted")])
    if claimed != sniffed.content_type or declared not in _UNDECLARED | {sniffed.content_type}:
        raise AttachmentTypeMismatch(
            f"{filename} is {sniffed.content_type}, not {declared or claimed}",
            errors=[FieldError(field="file", code="attachment.type_mismatch",
                               message=f"content is {sniffed.content_type}")])
    return sniffed.content_type


async def store(upload: UploadFile, storage: Storage, *, max_bytes: int) -> StoredFile:
    """Validate and stream an upload to storage (nothing is stored if it is refused)."""
    filename = upload.filename or ""
    if (why := filename_problem(filename)) is not None:
        raise FilenameInvalid(why, errors=[FieldError(field="file.filename",
                                                      code="attachment.filename_invalid",
                                                      message=why)])
    if upload.size is not None and upload.size > max_bytes:
        raise AttachmentTooLarge(f"limit is {max_bytes} bytes", limit_bytes=max_bytes)
    first = await upload.read(CHUNK)
    if not first:
        raise AttachmentEmpty(errors=[FieldError(field="file", code="attachment.empty",
                                                 message="no content")])
    content_type = _check_type(filename, upload.content_type, first)
    key = new_id()
    digest = hashlib.sha256()
    size = 0
    async with storage.writer(key) as writer:
        chunk = first
        while chunk:
            size += len(chunk)
            if size > max_bytes:
                raise AttachmentTooLarge(f"limit is {max_bytes} bytes", limit_bytes=max_bytes)
            digest.update(chunk)
            await writer.write(chunk)
            chunk = await upload.read(CHUNK)
    return StoredFile(key=key, filename=filename, content_type=content_type,
                      size_bytes=size, sha256=digest.hexdigest())


def record(session: AsyncSession, stored: StoredFile, *, by: str,
           by_kind: str) -> Attachment:
    """The attachment row of a stored file, in the request's transaction."""
    attachment = Attachment(id=stored.key, storage_key=stored.key, filename=stored.filename,
                            content_type=stored.content_type, size_bytes=stored.size_bytes,
                            sha256=stored.sha256, uploaded_at=utcnow(), uploaded_by=by,
                            uploader_kind=by_kind)
    session.add(attachment)
    return attachment


async def get(session: AsyncSession, attachment_id: str) -> Attachment:
    """An attachment, or AttachmentNotFound."""
    found = await session.get(Attachment, attachment_id)
    if found is None:
        raise AttachmentNotFound(f"no attachment {attachment_id}")
    return found


async def usable(session: AsyncSession, ids: list[str]) -> dict[str, Attachment]:
    """Attachments by id, locked for attaching (PostgreSQL)."""
    if not ids:
        return {}
    rows = await session.scalars(
        select(Attachment).where(Attachment.id.in_(ids)).with_for_update())
    return {a.id: a for a in rows}


async def sweep_orphans(sessions: async_sessionmaker[AsyncSession], storage: Storage, *,
                        older_than: timedelta, now: datetime | None = None) -> int:
    """Delete uploads never attached to a dossier, with their objects; return how many."""
    cutoff = (now or utcnow()) - older_than
    async with sessions() as session, session.begin():
        rows = list(await session.scalars(
            select(Attachment).where(Attachment.dossier_code.is_(None),
                                     Attachment.uploaded_at < cutoff)
            .limit(500).with_for_update(skip_locked=True)))
        for row in rows:
            await session.delete(row)
    for row in rows:  # after the commit: a crash here leaves a file, never a dangling row
        await storage.delete(row.storage_key)
    return len(rows)


def orphan_sweeper(storage: Storage, older_than: timedelta, every_s: float = 600.0):
    """A background loop for create_service_app that sweeps orphans forever."""

    async def sweep_attachments(rt) -> None:  # type: ignore[no-untyped-def]
        while True:
            try:
                swept = await sweep_orphans(rt.sessions, storage, older_than=older_than)
                if swept:
                    log.info("attachments_swept", count=swept)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("attachment_sweep_failed", error=str(exc))
            await asyncio.sleep(every_s)

    return sweep_attachments
