"""Electronic results of finished cases, filed in the citizen data store.

workflow's ``CaseCompletedV1`` references the result (name, media type, SHA-256, where to
fetch it) and carries the applicant's owner reference, never the personal ID. Each result
becomes a stored document known by that reference:

- type ``result:<procedure code>`` (a bundle member's result: the member's procedure);
- issuing agency the case's agency, source ``result``, provenance dossier and procedure;
- content hash and reference from the event (contents are not fetched here);
- valid from the business day the case finished, no end of validity.

Filing is idempotent twice over: the consumer's inbox skips a redelivered event, and
``result_of`` (``<dossier>#<procedure>``, unique) files a dossier's result once even when
workflow publishes its completion again under a new event id. A result already stored by
hand (``POST /v1/documents``: same owner, dossier and content hash) is not filed again.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.contracts.workflow import CaseCompletedV1, ResultDocument
from motcua.db import utcnow
from motcua.events import Envelope
from motcua.ids import new_id
from motcua.logging import get_logger
from motcua_identity.documents.models import StoredDocument
from motcua_identity.documents.service import BUSINESS_TZ, record_stored

log = get_logger("motcua_identity.documents.results")

#: Document type of a procedure's result: ``result:1.001193``.
RESULT_TYPE_PREFIX = "result:"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LIMITS = {"dossier_code": 60, "agency_code": 35, "procedure_code": 40}


class ResultNotFileable(ValueError):
    """The event breaks the contract in a way no retry fixes (it is dead-lettered)."""


def result_type(procedure_code: str) -> str:
    """The stored document type of ``procedure_code``'s result."""
    return RESULT_TYPE_PREFIX + procedure_code


async def file_results(session: AsyncSession, province: str, event: Envelope,
                       data: CaseCompletedV1) -> list[StoredDocument]:
    """File the case's result and its bundle members' results; return what was stored."""
    results: list[tuple[str, ResultDocument]] = []
    if data.result is not None:
        results.append((data.procedure_code, data.result))
    results.extend(sorted(data.member_results.items()))
    if not results:
        return []
    if not data.owner_ref:
        # An organisation's dossier, or a producer that could not name the owner.
        log.info("case_result_not_filed", reason="no_owner_ref", case_id=data.case_id,
                 dossier_code=data.dossier_code, results=len(results))
        return []
    _check(data, results)
    stored = []
    for procedure_code, result in results:
        doc = await _file_one(session, province, event, data, procedure_code, result)
        if doc is not None:
            stored.append(doc)
    return stored


def _business_day(at: datetime) -> date:
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(BUSINESS_TZ).date()


def _check(data: CaseCompletedV1, results: list[tuple[str, ResultDocument]]) -> None:
    values = {"dossier_code": data.dossier_code, "agency_code": data.agency_code}
    for field, value in [*values.items(), *(("procedure_code", p) for p, _ in results)]:
        if not value or len(value) > _LIMITS[field]:
            raise ResultNotFileable(f"{field} is empty or longer than {_LIMITS[field]}")
    for procedure_code, result in results:
        if not _SHA256.match(result.sha256.lower()):
            raise ResultNotFileable(f"the result of {procedure_code} has no SHA-256 digest")


async def _file_one(session: AsyncSession, province: str, event: Envelope,
                    data: CaseCompletedV1, procedure_code: str,
                    result: ResultDocument) -> StoredDocument | None:
    key = f"{data.dossier_code}#{procedure_code}"
    digest = result.sha256.lower()
    fields = {"case_id": data.case_id, "dossier_code": data.dossier_code,
              "procedure_code": procedure_code}
    if (await session.execute(select(StoredDocument.id).where(
            StoredDocument.result_of == key))).first() is not None:
        log.info("case_result_already_filed", **fields)
        return None
    by_hand = (await session.execute(select(StoredDocument).where(
        StoredDocument.owner_ref == data.owner_ref,
        StoredDocument.dossier_code == data.dossier_code,
        StoredDocument.content_sha256 == digest))).scalars().first()
    if by_hand is not None:
        by_hand.result_of = by_hand.result_of or key
        log.info("case_result_already_stored", document_id=by_hand.id, **fields)
        return None
    reference = result.reference if result.reference and len(result.reference) <= 500 \
        else None
    now = utcnow()
    doc = StoredDocument(
        id=new_id(), owner_personal_id=None, owner_ref=data.owner_ref,
        document_type=result_type(procedure_code),
        title=(result.name.strip() or f"Kết quả giải quyết hồ sơ {data.dossier_code}")[:255],
        issuing_agency=data.agency_code, procedure_code=procedure_code,
        dossier_code=data.dossier_code, source="result", content_sha256=digest,
        content_uri=reference, media_type=(result.media_type or "application/pdf")[:100],
        valid_from=_business_day(data.finished_at), valid_until=None,
        stored_at=now, stored_by=f"event:{event.id}", reuse_count=0, result_of=key)
    try:
        async with session.begin_nested():
            session.add(doc)
    except IntegrityError:
        # Another replica filed the same dossier's result from another delivery.
        log.info("case_result_already_filed", **fields)
        return None
    record_stored(session, province, doc)
    await session.flush()
    log.info("case_result_filed", document_id=doc.id, **fields)
    return doc
