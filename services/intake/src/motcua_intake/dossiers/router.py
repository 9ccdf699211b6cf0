"""HTTP entry points for dossiers: submission, officer lists and desk decisions, citizen
actions, printable slips. Every state-changing POST honours ``Idempotency-Key``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.db import utcnow
from motcua.errors import FieldError, ValidationFailed, problems
from motcua.idempotency import Idempotency, IdempotencyDep, IdempotencyKeyReused
from motcua.pagination import DEFAULT_LIMIT, CursorInvalid, CursorQuery, LimitQuery
from motcua.service import SessionDep
from motcua_intake.dossiers import service
from motcua_intake.dossiers.errors import (
    AgencyReplaced,
    AgencyRequired,
    AgencyUnknown,
    ApplicantIdInvalid,
    ComponentsMissing,
    DocumentsInvalid,
    DossierAlreadyRated,
    DossierNotFound,
    DossierNotPrintable,
    DossierWrongStatus,
    ExemptionUnknown,
    ProcedureNotAtAgency,
    ProcedureNotAvailable,
    ProcedureNotConfigured,
    ProcedureNotReceivedHere,
    ProcedureUnknown,
)
from motcua_intake.dossiers.repository import SORTS, DossierFilter, DossierRepository
from motcua_intake.dossiers.schemas import (
    DocumentRead,
    DossierDetail,
    DossierPage,
    DossierRate,
    DossierRead,
    DossierReceive,
    DossierRefuse,
    DossierSubmit,
    DossierSummary,
    DossierSupplement,
    DossierWithdraw,
    HistoryEntry,
)
from motcua_intake.dossiers.service import Desk
from motcua_intake.printing import service as printing

router = APIRouter(prefix="/v1/dossiers", tags=["dossiers"])


def _desk(request: Request) -> Desk:
    return request.app.state.desk


async def officer_agencies() -> list[str] | None:
    """The agencies the calling officer may see; None means all.

    Open until issue 5: its token dependency replaces this one and answers the officer's
    agencies, which the repository then applies to every list.
    """
    return None


DeskDep = Annotated[Desk, Depends(_desk)]
ScopeDep = Annotated[list[str] | None, Depends(officer_agencies)]


async def _once(session: AsyncSession, idem: Idempotency, code: int,
                act: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``act`` unless this Idempotency-Key already ran it; remember the answer."""
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    result = await act()
    idem.remember(session, code, result)
    return result


@router.post("", status_code=status.HTTP_201_CREATED, operation_id="submitDossier",
             response_model=DossierRead,
             responses=problems(ProcedureUnknown, ProcedureNotAvailable, ProcedureNotConfigured,
                                ProcedureNotAtAgency, ProcedureNotReceivedHere, AgencyUnknown,
                                AgencyReplaced, AgencyRequired, ApplicantIdInvalid,
                                ComponentsMissing, DocumentsInvalid, ExemptionUnknown,
                                IdempotencyKeyReused))
async def submit_dossier(body: DossierSubmit, session: SessionDep, idem: IdempotencyDep,
                         desk: DeskDep) -> DossierRead | JSONResponse:
    """Submit a dossier on any channel; answers its code (``<agency>-YYMMDD-XXXX``).

    Online and postal dossiers start at status 1 until a desk receives them; a direct
    one with ``receive_now`` is received at once (status 2, appointment fixed).
    """
    async def act() -> DossierRead:
        return DossierRead.of(await service.submit(session, body, desk))

    return await _once(session, idem, status.HTTP_201_CREATED, act)


@router.get("", operation_id="listDossiers", responses=problems(CursorInvalid))
async def list_dossiers(
    request: Request,
    session: SessionDep,
    scope: ScopeDep,
    status_: Annotated[list[int] | None, Query(alias="status", description="National status "
                                                                           "codes 1–10")] = None,
    procedure: Annotated[list[str] | None, Query(max_length=20)] = None,
    channel: Annotated[list[Literal["direct", "online", "postal"]] | None, Query()] = None,
    agency: Annotated[list[str] | None, Query(max_length=20, description="Competent agency "
                                                                          "or reception point")
                      ] = None,
    submitted_from: Annotated[datetime | None, Query(description="Inclusive, ISO 8601")] = None,
    submitted_to: Annotated[datetime | None, Query(description="Exclusive, ISO 8601")] = None,
    due_soon: Annotated[bool, Query(description="Open and due within due_soon_hours")] = False,
    overdue: Annotated[bool, Query(description="Open and past the appointment")] = False,
    sort: Annotated[Literal[SORTS], Query(description="Leading '-' sorts descending")  # type: ignore[valid-type]
                    ] = "-submitted_at",
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> DossierPage:
    """Officer list: filter, sort and page through dossiers of the caller's agencies."""
    bad = [FieldError(field=f"query.{name}", code="field.timezone",
                      message="give an offset, e.g. +07:00")
           for name, value in (("submitted_from", submitted_from), ("submitted_to", submitted_to))
           if value is not None and value.tzinfo is None]
    bad += [FieldError(field="query.status", code="field.not_allowed",
                       message=f"{s} is not a national status code")
            for s in status_ or [] if not 1 <= s <= 10]
    if bad:
        raise ValidationFailed(errors=bad)
    now = utcnow()
    hours = request.app.state.settings.due_soon_hours
    rows, next_cursor = await DossierRepository(session).page(
        DossierFilter(agencies=scope, status=status_, procedure=procedure, channel=channel,
                      agency=agency, submitted_from=submitted_from, submitted_to=submitted_to,
                      due_before=now + timedelta(hours=hours) if due_soon else None,
                      overdue_at=now if overdue else None),
        sort=sort, limit=limit, cursor=cursor)
    return DossierPage(items=[DossierSummary.of(d) for d in rows], next_cursor=next_cursor)


@router.get("/{code}", operation_id="getDossier", responses=problems(DossierNotFound))
async def get_dossier(code: str, session: SessionDep) -> DossierDetail:
    """One dossier with its documents."""
    dossier = await service.get(session, code)
    documents = await DossierRepository(session).documents(code)
    return DossierDetail(**DossierRead.of(dossier).model_dump(),
                         documents=[DocumentRead.model_validate(d) for d in documents])


@router.get("/{code}/history", operation_id="getDossierHistory",
            responses=problems(DossierNotFound))
async def get_history(code: str, session: SessionDep) -> list[HistoryEntry]:
    """The dossier's timeline (intake's steps and workflow's statuses), oldest first."""
    await service.get(session, code)
    return [HistoryEntry.model_validate(h)
            for h in await DossierRepository(session).history(code)]


@router.post("/{code}/reception", operation_id="receiveDossier", response_model=DossierRead,
             responses=problems(DossierNotFound, DossierWrongStatus, ProcedureNotConfigured,
                                IdempotencyKeyReused))
async def receive_dossier(code: str, body: DossierReceive, session: SessionDep,
                          idem: IdempotencyDep, desk: DeskDep) -> DossierRead | JSONResponse:
    """Receive a submitted dossier (status 2): the appointment date is computed from the
    catalog's statutory time by the working calendar."""
    async def act() -> DossierRead:
        return DossierRead.of(await service.receive(session, code, desk, by=body.actor))

    return await _once(session, idem, status.HTTP_200_OK, act)


@router.post("/{code}/refusal", operation_id="refuseDossier", response_model=DossierRead,
             responses=problems(DossierNotFound, DossierWrongStatus, IdempotencyKeyReused))
async def refuse_dossier(code: str, body: DossierRefuse, session: SessionDep,
                         idem: IdempotencyDep, desk: DeskDep) -> DossierRead | JSONResponse:
    """Refuse to receive a dossier, with reasons (phiếu từ chối tiếp nhận, status 3)."""
    async def act() -> DossierRead:
        return DossierRead.of(await service.refuse(session, code, body, desk))

    return await _once(session, idem, status.HTTP_200_OK, act)


@router.post("/{code}/supplements", operation_id="supplementDossier",
             response_model=DossierRead,
             responses=problems(DossierNotFound, DossierWrongStatus, DocumentsInvalid,
                                IdempotencyKeyReused))
async def supplement_dossier(code: str, body: DossierSupplement, session: SessionDep,
                             idem: IdempotencyDep, desk: DeskDep) -> DossierRead | JSONResponse:
    """Answer a supplement request with documents (status 5 → 4; the clock resumes)."""
    async def act() -> DossierRead:
        return DossierRead.of(await service.supplement(session, code, body, desk))

    return await _once(session, idem, status.HTTP_200_OK, act)


@router.post("/{code}/withdrawal", operation_id="withdrawDossier", response_model=DossierRead,
             responses=problems(DossierNotFound, DossierWrongStatus, IdempotencyKeyReused))
async def withdraw_dossier(code: str, body: DossierWithdraw, session: SessionDep,
                           idem: IdempotencyDep, desk: DeskDep) -> DossierRead | JSONResponse:
    """The applicant withdraws the dossier (status 7)."""
    async def act() -> DossierRead:
        return DossierRead.of(await service.withdraw(session, code, body, desk))

    return await _once(session, idem, status.HTTP_200_OK, act)


@router.post("/{code}/rating", operation_id="rateDossier", response_model=DossierRead,
             responses=problems(DossierNotFound, DossierWrongStatus, DossierAlreadyRated,
                                IdempotencyKeyReused))
async def rate_dossier(code: str, body: DossierRate, session: SessionDep,
                       idem: IdempotencyDep, desk: DeskDep) -> DossierRead | JSONResponse:
    """The applicant rates the service once the result is ready (statuses 9, 10)."""
    async def act() -> DossierRead:
        return DossierRead.of(await service.rate(session, code, body, desk))

    return await _once(session, idem, status.HTTP_200_OK, act)


_PDF = {200: {"content": {"application/pdf": {}}}}


@router.get("/{code}/receipt.pdf", operation_id="getReceiptSlip", response_class=Response,
            responses={**_PDF, **problems(DossierNotFound, DossierNotPrintable)})
async def receipt_slip(code: str, request: Request, session: SessionDep) -> Response:
    """Mẫu 01, receipt and appointment slip, with a QR code to public tracking."""
    pdf = await printing.receipt(session, code, request.app.state.settings.public_base_url)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{code}-receipt.pdf"'})


@router.get("/{code}/refusal.pdf", operation_id="getRefusalSlip", response_class=Response,
            responses={**_PDF, **problems(DossierNotFound, DossierNotPrintable)})
async def refusal_slip(code: str, request: Request, session: SessionDep) -> Response:
    """The refusal slip with its reasons and a QR code to public tracking."""
    pdf = await printing.refusal(session, code, request.app.state.settings.public_base_url)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{code}-refusal.pdf"'})
