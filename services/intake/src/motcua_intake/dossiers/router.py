"""HTTP entry points for dossiers: submission, officer lists and desk decisions, citizen
actions, printable slips. Every state-changing POST honours ``Idempotency-Key``.

Who may call each one is declared with ``motcua_intake.access`` and checked against the
dossier before anything else (before an ``Idempotency-Key`` replay, too).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.auth import AgencyForbidden, NotAllowed, Principal
from motcua.db import utcnow
from motcua.errors import FieldError, ValidationFailed, problems
from motcua.idempotency import Idempotency, IdempotencyDep, IdempotencyKeyReused
from motcua.pagination import (
    DEFAULT_LIMIT,
    ISO_8601,
    CursorInvalid,
    CursorQuery,
    LimitQuery,
)
from motcua.service import SessionDep
from motcua_intake import access
from motcua_intake.access import (
    Applicant,
    ApplicantOrReceptionist,
    DossierReader,
    Receptionist,
    Submitter,
)
from motcua_intake.dossiers import service
from motcua_intake.dossiers.errors import (
    AgencyReplaced,
    AgencyRequired,
    AgencyUnknown,
    ApplicantIdInvalid,
    ApplicantNotCaller,
    ChannelNotAllowed,
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
from motcua_intake.dossiers.models import Dossier
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

#: Problems every protected route may answer besides its own.
_DENIED = (NotAllowed, AgencyForbidden)


async def _desk(request: Request) -> Desk:
    return request.app.state.desk


DeskDep = Annotated[Desk, Depends(_desk)]


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
                                ApplicantNotCaller, ChannelNotAllowed,
                                *_DENIED, IdempotencyKeyReused))
async def submit_dossier(body: DossierSubmit, session: SessionDep, idem: IdempotencyDep,
                         desk: DeskDep, who: Submitter) -> DossierRead | JSONResponse:
    """Submit a dossier; answers its code (``<agency>-YYMMDD-XXXX``).

    A citizen submits online, for themselves (the applicant's personal ID is theirs) or
    for an organisation they represent; a receptionist submits what their desk received
    (direct, postal); a service with ``dossiers.submit`` any channel. Online and postal
    dossiers start at status 1 until a desk receives them; a direct one with
    ``receive_now`` is received at once by the calling receptionist (status 2).
    """
    access.ensure_may_submit(who, body)

    async def act() -> DossierRead:
        return DossierRead.of(await service.submit(session, body, desk, who))

    return await _once(session, idem, status.HTTP_201_CREATED, act)


@router.get("", operation_id="listDossiers", responses=problems(CursorInvalid, *_DENIED))
async def list_dossiers(
    request: Request,
    session: SessionDep,
    who: DossierReader,
    status_: Annotated[list[int] | None, Query(alias="status", description="National status "
                                                                           "codes 1–10")] = None,
    procedure: Annotated[list[str] | None, Query(max_length=20)] = None,
    channel: Annotated[list[Literal["direct", "online", "postal"]] | None, Query()] = None,
    agency: Annotated[list[str] | None, Query(max_length=20, description="Competent agency "
                                                                          "or reception point")
                      ] = None,
    submitted_from: Annotated[datetime | None, Query(description="Inclusive, ISO 8601"),
                              ISO_8601] = None,
    submitted_to: Annotated[datetime | None, Query(description="Exclusive, ISO 8601"),
                            ISO_8601] = None,
    due_soon: Annotated[bool, Query(description="Open and due within due_soon_hours")] = False,
    overdue: Annotated[bool, Query(description="Open and past the appointment")] = False,
    sort: Annotated[Literal[SORTS], Query(description="Leading '-' sorts descending")  # type: ignore[valid-type]
                    ] = "-submitted_at",
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> DossierPage:
    """Filter, sort and page through dossiers: an officer's are those of their agencies
    (asking for another agency answers 403), a citizen's their own, a service's all."""
    bad = [FieldError(field=f"query.{name}", code="field.timezone",
                      message="give an offset, e.g. +07:00")
           for name, value in (("submitted_from", submitted_from), ("submitted_to", submitted_to))
           if value is not None and value.tzinfo is None]
    bad += [FieldError(field="query.status", code="field.not_allowed",
                       message=f"{s} is not a national status code")
            for s in status_ or [] if not 1 <= s <= 10]
    if bad:
        raise ValidationFailed(errors=bad)
    scope: list[str] | None = None
    if who.kind == "officer":
        outside = sorted(set(agency or []) - who.agencies)
        if outside:
            raise AgencyForbidden(f"not a member of {', '.join(outside)}")
        scope = sorted(who.agencies)
    now = utcnow()
    hours = request.app.state.settings.due_soon_hours
    rows, next_cursor = await DossierRepository(session).page(
        DossierFilter(agencies=scope, owner=who.personal_id if who.kind == "citizen" else None,
                      status=status_, procedure=procedure, channel=channel,
                      agency=agency, submitted_from=submitted_from, submitted_to=submitted_to,
                      due_before=now + timedelta(hours=hours) if due_soon else None,
                      overdue_at=now if overdue else None),
        sort=sort, limit=limit, cursor=cursor)
    return DossierPage(items=[DossierSummary.of(d) for d in rows], next_cursor=next_cursor)


async def _readable(session: AsyncSession, code: str, who: Principal) -> Dossier:
    dossier = await service.get(session, code)
    access.ensure_can_read(who, dossier)
    return dossier


@router.get("/{code}", operation_id="getDossier", responses=problems(DossierNotFound, *_DENIED))
async def get_dossier(code: str, session: SessionDep, who: DossierReader) -> DossierDetail:
    """One dossier with its documents (its owner, officers of its agency, services)."""
    dossier = await _readable(session, code, who)
    documents = await DossierRepository(session).documents(code)
    return DossierDetail(**DossierRead.of(dossier).model_dump(),
                         documents=[DocumentRead.model_validate(d) for d in documents])


@router.get("/{code}/history", operation_id="getDossierHistory",
            responses=problems(DossierNotFound, *_DENIED))
async def get_history(code: str, session: SessionDep, who: DossierReader) -> list[HistoryEntry]:
    """The dossier's timeline (intake's steps and workflow's statuses), oldest first."""
    await _readable(session, code, who)
    return [HistoryEntry.model_validate(h)
            for h in await DossierRepository(session).history(code)]


@router.post("/{code}/reception", operation_id="receiveDossier", response_model=DossierRead,
             responses=problems(DossierNotFound, DossierWrongStatus, ProcedureNotConfigured,
                                *_DENIED, IdempotencyKeyReused))
async def receive_dossier(code: str, body: DossierReceive, session: SessionDep,
                          idem: IdempotencyDep, desk: DeskDep,
                          who: Receptionist) -> DossierRead | JSONResponse:
    """Receive a submitted dossier (status 2): the appointment date is computed from the
    catalog's statutory time by the working calendar. A receptionist of its agency."""
    access.ensure_receptionist(who, await service.get(session, code))

    async def act() -> DossierRead:
        return DossierRead.of(await service.receive(session, code, desk, by=who.subject))

    return await _once(session, idem, status.HTTP_200_OK, act)


@router.post("/{code}/refusal", operation_id="refuseDossier", response_model=DossierRead,
             responses=problems(DossierNotFound, DossierWrongStatus, *_DENIED,
                                IdempotencyKeyReused))
async def refuse_dossier(code: str, body: DossierRefuse, session: SessionDep,
                         idem: IdempotencyDep, desk: DeskDep,
                         who: Receptionist) -> DossierRead | JSONResponse:
    """Refuse to receive a dossier, with reasons (phiếu từ chối tiếp nhận, status 3).
    A receptionist of its agency."""
    access.ensure_receptionist(who, await service.get(session, code))

    async def act() -> DossierRead:
        return DossierRead.of(await service.refuse(session, code, body, desk,
                                                   by=who.subject))

    return await _once(session, idem, status.HTTP_200_OK, act)


@router.post("/{code}/supplements", operation_id="supplementDossier",
             response_model=DossierRead,
             responses=problems(DossierNotFound, DossierWrongStatus, DocumentsInvalid,
                                *_DENIED, IdempotencyKeyReused))
async def supplement_dossier(code: str, body: DossierSupplement, session: SessionDep,
                             idem: IdempotencyDep, desk: DeskDep,
                             who: ApplicantOrReceptionist) -> DossierRead | JSONResponse:
    """Answer a supplement request with documents (status 5 → 4; the clock resumes).
    The owner citizen, or a receptionist of its agency."""
    access.ensure_owner_or_receptionist(who, await service.get(session, code))

    async def act() -> DossierRead:
        return DossierRead.of(await service.supplement(session, code, body, desk, who))

    return await _once(session, idem, status.HTTP_200_OK, act)


@router.post("/{code}/withdrawal", operation_id="withdrawDossier", response_model=DossierRead,
             responses=problems(DossierNotFound, DossierWrongStatus, *_DENIED,
                                IdempotencyKeyReused))
async def withdraw_dossier(code: str, body: DossierWithdraw, session: SessionDep,
                           idem: IdempotencyDep, desk: DeskDep,
                           who: ApplicantOrReceptionist) -> DossierRead | JSONResponse:
    """The applicant withdraws the dossier (status 7): the owner citizen, or a
    receptionist of its agency on their behalf."""
    access.ensure_owner_or_receptionist(who, await service.get(session, code))

    async def act() -> DossierRead:
        return DossierRead.of(await service.withdraw(session, code, body, desk))

    return await _once(session, idem, status.HTTP_200_OK, act)


@router.post("/{code}/rating", operation_id="rateDossier", response_model=DossierRead,
             responses=problems(DossierNotFound, DossierWrongStatus, DossierAlreadyRated,
                                *_DENIED, IdempotencyKeyReused))
async def rate_dossier(code: str, body: DossierRate, session: SessionDep,
                       idem: IdempotencyDep, desk: DeskDep,
                       who: Applicant) -> DossierRead | JSONResponse:
    """The applicant rates the service once the result is ready (statuses 9, 10): the
    owner citizen."""
    access.ensure_owner(who, await service.get(session, code))

    async def act() -> DossierRead:
        return DossierRead.of(await service.rate(session, code, body, desk))

    return await _once(session, idem, status.HTTP_200_OK, act)


_PDF = {200: {"content": {"application/pdf": {}}}}


@router.get("/{code}/receipt.pdf", operation_id="getReceiptSlip", response_class=Response,
            responses={**_PDF, **problems(DossierNotFound, DossierNotPrintable, *_DENIED)})
async def receipt_slip(code: str, request: Request, session: SessionDep,
                       who: DossierReader) -> Response:
    """Mẫu 01, receipt and appointment slip, with a QR code to public tracking."""
    await _readable(session, code, who)
    pdf = await printing.receipt(session, code, request.app.state.settings.public_base_url)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{code}-receipt.pdf"'})


@router.get("/{code}/refusal.pdf", operation_id="getRefusalSlip", response_class=Response,
            responses={**_PDF, **problems(DossierNotFound, DossierNotPrintable, *_DENIED)})
async def refusal_slip(code: str, request: Request, session: SessionDep,
                       who: DossierReader) -> Response:
    """The refusal slip with its reasons and a QR code to public tracking."""
    await _readable(session, code, who)
    pdf = await printing.refusal(session, code, request.app.state.settings.public_base_url)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{code}-refusal.pdf"'})
