"""HTTP entry points for fee assessments."""

from typing import Annotated

from fastapi import APIRouter

from motcua.auth import AgencyForbidden, Principal, require
from motcua.errors import problems
from motcua.service import SessionDep
from motcua_payments import access
from motcua_payments.context import ContextDep
from motcua_payments.errors import AssessmentNotFound
from motcua_payments.fees import service
from motcua_payments.schemas import AssessmentRead

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])


def _unknown(dossier_code: str) -> AssessmentNotFound:
    return AssessmentNotFound(f"no fee assessment for dossier {dossier_code}")


@router.get("/{dossier_code}", operation_id="getAssessment",
            responses=problems(AssessmentNotFound, AgencyForbidden))
async def get_assessment(dossier_code: str, session: SessionDep, ctx: ContextDep,
                         who: Annotated[Principal, require(scopes=[access.READ])],
                         ) -> AssessmentRead:
    """A dossier's fee assessment: lines, exemptions, when to collect, what is outstanding.

    The owner citizen (another citizen gets the 404 of an unknown dossier), officers of
    the dossier's agency, services with ``payments.read``.
    """
    access.ensure(who, ctx, await access.dossier(session, dossier_code),
                  hidden=lambda: _unknown(dossier_code))
    assessment = await service.get_by_dossier(session, dossier_code)
    return AssessmentRead.of(assessment, await service.lines_of(session, assessment.id))
