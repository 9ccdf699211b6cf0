"""HTTP entry points for fee assessments."""

from fastapi import APIRouter

from motcua.errors import problems
from motcua.service import SessionDep
from motcua_payments.errors import AssessmentNotFound
from motcua_payments.fees import service
from motcua_payments.schemas import AssessmentRead

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])


@router.get("/{dossier_code}", operation_id="getAssessment",
            responses=problems(AssessmentNotFound))
async def get_assessment(dossier_code: str, session: SessionDep) -> AssessmentRead:
    """A dossier's fee assessment: lines, exemptions, when to collect, what is outstanding."""
    assessment = await service.get_by_dossier(session, dossier_code)
    return AssessmentRead.of(assessment, await service.lines_of(session, assessment.id))
