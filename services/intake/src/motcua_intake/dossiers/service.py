"""Dossier use cases: each records its event in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from motcua import idnumbers, outbox
from motcua.contracts.intake import DossierSubmittedV1
from motcua.db import utcnow
from motcua.errors import FieldError
from sqlalchemy.ext.asyncio import AsyncSession

from motcua_intake.dossiers.errors import (
    AgencyUnknown,
    ApplicantIdInvalid,
    DossierNotFound,
    ProcedureUnknown,
)
from motcua_intake.dossiers.models import SUBMITTED, Dossier
from motcua_intake.dossiers.repository import DossierRepository
from motcua_intake.dossiers.schemas import DossierSubmit

BUSINESS_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_ACCEPTED_KINDS = {"individual": {"personal_id_12", "legacy_id_9"},
                   "organisation": {"tax_code"}}


def dossier_code(agency_code: str, at: datetime, sequence: int) -> str:
    """``<agency code>-YYMMDD-XXXX`` (Circular 01/2018 Art. 19), day in business time."""
    return f"{agency_code}-{at.astimezone(BUSINESS_TZ):%y%m%d}-{sequence:04d}"


def _check_applicant(body: DossierSubmit) -> None:
    result = idnumbers.validate(body.applicant.id_number)
    if not result.valid or result.kind not in _ACCEPTED_KINDS[body.applicant.kind]:
        reasons = [FieldError(field="applicant.id_number", code=r.code, message=r.message_en)
                   for r in result.reasons] or [FieldError(
                       field="applicant.id_number", code="applicant.kind_mismatch",
                       message=f"a {result.kind} does not identify an {body.applicant.kind}")]
        raise ApplicantIdInvalid("the applicant's identification number is not valid",
                                 errors=reasons)


async def submit(session: AsyncSession, body: DossierSubmit, *, province: str) -> Dossier:
    """Accept a submission: validate, number it, store it, record DossierSubmittedV1."""
    _check_applicant(body)
    repo = DossierRepository(session)
    if not await repo.procedure_exists(body.procedure_code):
        raise ProcedureUnknown(errors=[FieldError(field="procedure_code", code="procedure.unknown",
                                                  message="not in the catalog")])
    if not await repo.agency_exists(body.agency_code):
        raise AgencyUnknown(errors=[FieldError(field="agency_code", code="agency.unknown",
                                               message="unknown agency code")])
    now = utcnow()
    day = f"{now.astimezone(BUSINESS_TZ):%y%m%d}"
    sequence = await repo.next_sequence(body.agency_code, day)
    dossier = Dossier(
        code=dossier_code(body.agency_code, now, sequence), agency_code=body.agency_code,
        procedure_code=body.procedure_code, channel=body.channel,
        reception_point=body.reception_point, status=SUBMITTED,
        applicant_kind=body.applicant.kind,
        applicant_id_number=idnumbers.validate(body.applicant.id_number).normalized,
        applicant_name=body.applicant.full_name, submitted_at=now, version=1,
    )
    session.add(dossier)
    outbox.record(session, DossierSubmittedV1(
        dossier_code=dossier.code, agency_code=dossier.agency_code,
        procedure_code=dossier.procedure_code, status=dossier.status, occurred_at=now,
        channel=body.channel, reception_point=body.reception_point,
        applicant_kind=body.applicant.kind,
    ), province=province, key=dossier.code, sequence=dossier.version)
    await session.flush()
    return dossier


async def get(session: AsyncSession, code: str) -> Dossier:
    """A dossier, or DossierNotFound."""
    dossier = await DossierRepository(session).get(code)
    if dossier is None:
        raise DossierNotFound(f"no dossier {code}")
    return dossier
