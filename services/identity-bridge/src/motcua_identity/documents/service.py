"""Citizen data store use cases: store with provenance, attach for reuse.

A document's owner is known by personal ID and/or owner reference
(``motcua.auth.owner_ref``); every lookup by person matches either, so a result filed
from an event (reference only) is found exactly like one stored with the number.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from motcua import outbox
from motcua.auth import Principal, owner_ref
from motcua.contracts.identity import DocumentReusedV1, DocumentStoredV1
from motcua.db import utcnow
from motcua.ids import new_id
from motcua_identity.documents.errors import (
    DocumentExpired,
    DocumentNotFound,
    DocumentNotYetValid,
)
from motcua_identity.documents.models import DocumentReuse, StoredDocument
from motcua_identity.documents.schemas import DocumentStore, ReuseCreate

BUSINESS_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


async def store(session: AsyncSession, province: str, body: DocumentStore, owner: str,
                by: Principal, *, ref_key: str) -> StoredDocument:
    """Keep a document for its owner and record DocumentStoredV1."""
    now = utcnow()
    doc = StoredDocument(
        id=new_id(), owner_personal_id=owner, owner_ref=owner_ref(owner, ref_key),
        document_type=body.document_type,
        title=body.title, issuing_agency=body.issuing_agency,
        procedure_code=body.procedure_code, dossier_code=body.dossier_code,
        source=body.source, content_sha256=body.content_sha256,
        content_uri=body.content_uri, media_type=body.media_type,
        valid_from=body.valid_from, valid_until=body.valid_until, stored_at=now,
        stored_by=by.subject, reuse_count=0)
    session.add(doc)
    record_stored(session, province, doc)
    await session.flush()
    return doc


def record_stored(session: AsyncSession, province: str, doc: StoredDocument) -> None:
    """DocumentStoredV1 for a new document, in the caller's transaction."""
    outbox.record(session, DocumentStoredV1(
        document_id=doc.id, document_type=doc.document_type,
        issuing_agency=doc.issuing_agency, source=doc.source,
        procedure_code=doc.procedure_code, dossier_code=doc.dossier_code,
        content_sha256=doc.content_sha256, valid_until=doc.valid_until,
        stored_at=doc.stored_at,
    ), province=province, key=doc.id, sequence=1)


async def get(session: AsyncSession, document_id: str, *, lock: bool = False) -> StoredDocument:
    """A document, or DocumentNotFound."""
    stmt = select(StoredDocument).where(StoredDocument.id == document_id)
    if lock:
        stmt = stmt.with_for_update()
    doc = (await session.execute(stmt)).scalar_one_or_none()
    if doc is None:
        raise DocumentNotFound(f"no document {document_id}")
    return doc


async def of_owner(session: AsyncSession, personal_id: str,
                   ref_key: str) -> list[StoredDocument]:
    """A citizen's documents (by number or by owner reference), newest first."""
    return list((await session.execute(
        select(StoredDocument).where(or_(
            StoredDocument.owner_personal_id == personal_id,
            StoredDocument.owner_ref == owner_ref(personal_id, ref_key)))
        .order_by(StoredDocument.stored_at.desc(), StoredDocument.id)
        .limit(500))).scalars().all())


def is_owner(who: Principal, doc: StoredDocument, ref_key: str) -> bool:
    """Whether ``who`` is the citizen owning ``doc`` (by number or by reference)."""
    return who.is_person(doc.owner_personal_id) or who.owns(doc.owner_ref, ref_key)


async def backfill_owner_refs(session: AsyncSession, ref_key: str, *,
                              batch: int = 500) -> int:
    """Give ``batch`` rows stored before owner references their reference; return how many.

    Deterministic, so two replicas doing it at once write the same values.
    """
    rows = (await session.execute(
        select(StoredDocument).where(StoredDocument.owner_ref.is_(None),
                                     StoredDocument.owner_personal_id.is_not(None))
        .limit(batch))).scalars().all()
    for doc in rows:
        assert doc.owner_personal_id is not None
        doc.owner_ref = owner_ref(doc.owner_personal_id, ref_key)
    await session.flush()
    return len(rows)


def check_validity(doc: StoredDocument, at: datetime) -> None:
    """Refuse a document outside its validity period (on the business day of ``at``)."""
    today = at.astimezone(BUSINESS_TZ).date()
    if doc.valid_until is not None and doc.valid_until < today:
        raise DocumentExpired(f"valid until {doc.valid_until.isoformat()}")
    if doc.valid_from is not None and doc.valid_from > today:
        raise DocumentNotYetValid(f"valid from {doc.valid_from.isoformat()}")


async def reuse(session: AsyncSession, province: str, doc: StoredDocument, body: ReuseCreate,
                by: Principal) -> tuple[DocumentReuse, bool]:
    """Attach ``doc`` to a dossier component; record DocumentReusedV1 the first time.

    Returns the reuse and whether it is new (the same attachment twice is one reuse).
    """
    existing = await _existing(session, doc.id, body)
    if existing is not None:
        return existing, False
    now = utcnow()
    check_validity(doc, now)
    row = DocumentReuse(id=new_id(), document_id=doc.id, dossier_code=body.dossier_code,
                        component_code=body.component_code,
                        procedure_code=body.procedure_code, reused_at=now,
                        reused_by=by.subject)
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # A concurrent request attached it first.
        existing = await _existing(session, doc.id, body)
        assert existing is not None
        return existing, False
    doc.reuse_count += 1
    outbox.record(session, DocumentReusedV1(
        document_id=doc.id, document_type=doc.document_type,
        issuing_agency=doc.issuing_agency, reuse_id=row.id, dossier_code=row.dossier_code,
        component_code=row.component_code, procedure_code=row.procedure_code,
        reused_at=now,
    ), province=province, key=doc.id, sequence=1 + doc.reuse_count)
    await session.flush()
    return row, True


async def _existing(session: AsyncSession, document_id: str,
                    body: ReuseCreate) -> DocumentReuse | None:
    return (await session.execute(select(DocumentReuse).where(
        DocumentReuse.document_id == document_id,
        DocumentReuse.dossier_code == body.dossier_code,
        DocumentReuse.component_code == body.component_code))).scalar_one_or_none()
