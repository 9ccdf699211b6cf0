"""HTTP entry points for refunds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.auth import AgencyForbidden, NotAllowed, Principal, require
from motcua.errors import problems
from motcua.idempotency import IdempotencyDep, IdempotencyKeyReused
from motcua.service import SessionDep
from motcua_payments import access
from motcua_payments.context import ContextDep, PaymentsContext
from motcua_payments.errors import RefundNotFound, RefundNotPending
from motcua_payments.refunds import service
from motcua_payments.refunds.models import Refund
from motcua_payments.schemas import ReceiptRead, RefundCompletion, RefundCompletionRead, RefundRead

router = APIRouter(prefix="/v1/refunds", tags=["refunds"])

#: Reading refunds: officers of the dossier's agency, reader services.
Reader = Annotated[Principal, require(kind=["officer", "service"], scopes=[access.READ])]


async def _refund(session: AsyncSession, ctx: PaymentsContext, who: Principal, refund_id: str,
                  *roles: str) -> None:
    """Let ``who`` at a refund (as :func:`access.ensure`); 404 as unknown otherwise."""
    access.ensure(who, ctx, await access.dossier_of(session, Refund, Refund.id == refund_id),
                  hidden=lambda: RefundNotFound(f"no refund {refund_id}"), roles=roles)


@router.get("", operation_id="listRefunds", responses=problems(NotAllowed, AgencyForbidden))
async def list_refunds(dossier_code: Annotated[str, Query(min_length=1, max_length=60)],
                       session: SessionDep, ctx: ContextDep, who: Reader) -> list[RefundRead]:
    """The refunds of a dossier: officers of its agency, reader services."""
    if not access.may_list(who, ctx, await access.dossier(session, dossier_code)):
        return []
    return [RefundRead.model_validate(r)
            for r in await service.list_for_dossier(session, dossier_code)]


@router.get("/{refund_id}", operation_id="getRefund",
            responses=problems(RefundNotFound, NotAllowed, AgencyForbidden))
async def get_refund(refund_id: str, session: SessionDep, ctx: ContextDep,
                     who: Reader) -> RefundRead:
    """One refund: officers of its agency, reader services."""
    await _refund(session, ctx, who, refund_id)
    return RefundRead.model_validate(await service.get(session, refund_id))


@router.post("/{refund_id}/completion", operation_id="completeRefund",
             response_model=RefundCompletionRead,
             responses=problems(RefundNotFound, RefundNotPending, IdempotencyKeyReused,
                                NotAllowed, AgencyForbidden))
async def complete_refund(
    refund_id: str, body: RefundCompletion, session: SessionDep, ctx: ContextDep,
    idem: IdempotencyDep, who: Annotated[Principal, require(kind="officer", roles=["approver"])],
) -> RefundCompletionRead | JSONResponse:
    """An officer paid the refund back (cash or transfer): issues the refund receipt.

    An approver of the dossier's agency (recorded as who completed it).
    """
    await _refund(session, ctx, who, refund_id, "approver")
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    refund, receipt = await service.complete(
        session, ctx, refund_id, actor=who.subject, method=body.method,
        transfer_reference=body.transfer_reference, payer_name=body.payee_name)
    result = RefundCompletionRead(refund=RefundRead.model_validate(refund),
                                  receipt=ReceiptRead.model_validate(receipt))
    idem.remember(session, status.HTTP_200_OK, result)
    return result
