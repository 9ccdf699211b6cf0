"""HTTP entry points for cases."""

from fastapi import APIRouter
from motcua.errors import problems
from motcua.service import SessionDep

from motcua_workflow.cases import service
from motcua_workflow.cases.schemas import CaseRead

router = APIRouter(prefix="/v1/cases", tags=["cases"])


@router.get("/{dossier_code}", operation_id="getCase", responses=problems(service.CaseNotFound))
async def get_case(dossier_code: str, session: SessionDep) -> CaseRead:
    """The case of a dossier."""
    return CaseRead.model_validate(await service.get_by_dossier(session, dossier_code))
