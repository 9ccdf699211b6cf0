"""Case use cases."""

from __future__ import annotations

from motcua import outbox
from motcua.contracts.intake import DossierSubmittedV1
from motcua.contracts.workflow import CaseStartedV1, CaseStatusChangedV1
from motcua.db import utcnow
from motcua.errors import NotFound
from motcua.events import Envelope
from motcua.ids import new_id
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua_workflow.cases.models import Case


class CaseNotFound(NotFound):
    code = "case.not_found"
    title = "Case not found"


async def open_for_submission(session: AsyncSession, event: Envelope,
                              data: DossierSubmittedV1, *, province: str) -> Case:
    """Open the case of a submitted dossier and record CaseStarted and its status."""
    existing = await session.scalar(select(Case).where(Case.dossier_code == data.dossier_code))
    if existing is not None:
        return existing  # a second event for the same dossier (e.g. a replay) opens nothing
    now = utcnow()
    case = Case(id=new_id(), dossier_code=data.dossier_code, agency_code=data.agency_code,
                procedure_code=data.procedure_code, status=data.status, opened_at=now,
                version=1)
    session.add(case)
    common = {"case_id": case.id, "dossier_code": case.dossier_code,
              "agency_code": case.agency_code, "occurred_at": now}
    outbox.record(session, CaseStartedV1(**common, procedure_code=case.procedure_code),
                  province=province, key=case.dossier_code, sequence=case.version)
    outbox.record(session, CaseStatusChangedV1(**common, status=case.status),
                  province=province, key=case.dossier_code, sequence=case.version)
    await session.flush()
    return case


async def get_by_dossier(session: AsyncSession, dossier_code: str) -> Case:
    """The case of a dossier, or CaseNotFound."""
    case = await session.scalar(select(Case).where(Case.dossier_code == dossier_code))
    if case is None:
        raise CaseNotFound(f"no case for dossier {dossier_code}")
    return case
