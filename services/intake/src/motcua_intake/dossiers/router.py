"""HTTP entry points for dossiers."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from motcua.errors import problems
from motcua.idempotency import IdempotencyDep, IdempotencyKeyReused
from motcua.service import SessionDep

from motcua_intake.dossiers import service
from motcua_intake.dossiers.errors import (
    AgencyUnknown,
    ApplicantIdInvalid,
    DossierNotFound,
    ProcedureUnknown,
)
from motcua_intake.dossiers.schemas import DossierRead, DossierSubmit

router = APIRouter(prefix="/v1/dossiers", tags=["dossiers"])


@router.post("", status_code=status.HTTP_201_CREATED, operation_id="submitDossier",
             response_model=DossierRead,
             responses=problems(ProcedureUnknown, AgencyUnknown, ApplicantIdInvalid,
                                IdempotencyKeyReused))
async def submit_dossier(body: DossierSubmit, request: Request, session: SessionDep,
                         idem: IdempotencyDep) -> DossierRead | JSONResponse:
    """Submit a dossier on any channel; answers its code (``<agency>-YYMMDD-XXXX``)."""
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    dossier = await service.submit(session, body, province=request.app.state.settings.province)
    result = DossierRead.of(dossier)
    idem.remember(session, status.HTTP_201_CREATED, result)
    return result


@router.get("/{code}", operation_id="getDossier", responses=problems(DossierNotFound))
async def get_dossier(code: str, session: SessionDep) -> DossierRead:
    """One dossier by code."""
    return DossierRead.of(await service.get(session, code))
