"""Projection of events into dossier facts, and the figures read from them."""

from __future__ import annotations

from datetime import datetime

from motcua.contracts.intake import DossierSubmittedV1
from motcua.contracts.workflow import CaseStartedV1, CaseStatusChangedV1
from motcua.db import utcnow
from motcua.events import Envelope
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua_metrics.facts.models import DossierFact


async def _fact(session: AsyncSession, code: str, agency_code: str) -> DossierFact:
    fact = await session.get(DossierFact, code, with_for_update=True)
    if fact is None:
        fact = DossierFact(dossier_code=code, agency_code=agency_code, status_sequence=0,
                           updated_at=utcnow())
        session.add(fact)
    return fact


async def on_submitted(session: AsyncSession, event: Envelope, data: DossierSubmittedV1) -> None:
    """Record the submission (channel, procedure, time)."""
    fact = await _fact(session, data.dossier_code, data.agency_code)
    fact.procedure_code = data.procedure_code
    fact.channel = data.channel
    fact.submitted_at = data.occurred_at
    if fact.status is None:
        fact.status = data.status
    fact.updated_at = utcnow()


async def on_case_started(session: AsyncSession, event: Envelope, data: CaseStartedV1) -> None:
    """Record that workflow opened the case."""
    fact = await _fact(session, data.dossier_code, data.agency_code)
    fact.case_opened_at = data.occurred_at
    fact.procedure_code = fact.procedure_code or data.procedure_code
    fact.updated_at = utcnow()


async def on_status_changed(session: AsyncSession, event: Envelope,
                            data: CaseStatusChangedV1) -> None:
    """Apply a status change unless a later one was already applied (out-of-order safe)."""
    fact = await _fact(session, data.dossier_code, data.agency_code)
    sequence = event.sequence or 0
    if sequence >= fact.status_sequence:
        fact.status = data.status
        fact.status_sequence = sequence
    fact.updated_at = utcnow()


async def dossier_counts(session: AsyncSession, *, agency_code: str | None,
                         since: datetime | None, until: datetime | None) -> dict[str, object]:
    """Counts of dossiers submitted, with cases opened, and by status."""
    conditions = []
    if agency_code:
        conditions.append(DossierFact.agency_code == agency_code)
    if since:
        conditions.append(DossierFact.submitted_at >= since)
    if until:
        conditions.append(DossierFact.submitted_at < until)
    row = (await session.execute(select(
        func.count(DossierFact.submitted_at), func.count(DossierFact.case_opened_at),
    ).where(*conditions))).one()
    by_status = dict((await session.execute(
        select(DossierFact.status, func.count()).where(*conditions)
        .group_by(DossierFact.status))).all())
    return {"submitted": row[0], "cases_opened": row[1],
            "by_status": {str(k): v for k, v in sorted(by_status.items(), key=lambda kv:
                                                       (kv[0] is None, kv[0] or 0))}}
