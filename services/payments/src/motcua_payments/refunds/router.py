"""HTTP entry points for refunds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse

from motcua.errors import problems
from motcua.idempotency import IdempotencyDep, IdempotencyKeyReused
from motcua.service import SessionDep
from motcua_payments.context import ContextDep
from motcua_payments.errors import RefundNotFound, RefundNotPending
from motcua_payments.refunds import service
from motcua_payments.schemas import ReceiptRead, RefundCompletion, RefundCompletionRead, RefundRead

router = APIRouter(prefix="/v1/refunds", tags=["refunds"])


@router.get("", operation_id="listRefunds")
async def list_refunds(dossier_code: Annotated[str, Query(min_length=1, max_length=60)],
                       session: SessionDep) -> list[RefundRead]:
    """The refunds of a dossier."""
    return [RefundRead.model_validate(r)
            for r in await service.list_for_dossier(session, dossier_code)]


@router.get("/{refund_id}", operation_id="getRefund", responses=problems(RefundNotFound))
async def get_refund(refund_id: str, session: SessionDep) -> RefundRead:
    """One refund."""
    return RefundRead.model_validate(await service.get(session, refund_id))


@router.post("/{refund_id}/completion", operation_id="completeRefund",
             response_model=RefundCompletionRead,
             responses=problems(RefundNotFound, RefundNotPending, IdempotencyKeyReused))
async def complete_refund(refund_id: str, body: RefundCompletion, session: SessionDep,
                          ctx: ContextDep,
                          idem: IdempotencyDep) -> RefundCompletionRead | JSONResponse:
    """An officer paid the refund back (cash or transfer): issues the refund receipt."""
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    refund, receipt = await service.complete(
        session, ctx, refund_id, actor=body.actor, method=body.method,
        transfer_reference=body.transfer_reference, payer_name=body.payee_name)
    result = RefundCompletionRead(refund=RefundRead.model_validate(refund),
                                  receipt=ReceiptRead.model_validate(receipt))
    idem.remember(session, status.HTTP_200_OK, result)
    return result
