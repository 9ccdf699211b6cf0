"""HTTP entry points for receipts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from motcua.errors import problems
from motcua.service import SessionDep
from motcua_payments.context import ContextDep
from motcua_payments.errors import ReceiptAlreadyCancelled, ReceiptNotFound
from motcua_payments.receipts import service
from motcua_payments.schemas import ReceiptCancellation, ReceiptCancellationRead, ReceiptRead

router = APIRouter(prefix="/v1/receipts", tags=["receipts"])


@router.get("", operation_id="listReceipts")
async def list_receipts(dossier_code: Annotated[str, Query(min_length=1, max_length=60)],
                        session: SessionDep) -> list[ReceiptRead]:
    """The receipts of a dossier (payments and refunds, cancelled ones included)."""
    return [ReceiptRead.model_validate(r)
            for r in await service.list_for_dossier(session, dossier_code)]


@router.get("/verification/{code}", operation_id="verifyReceipt",
            responses=problems(ReceiptNotFound))
async def verify_receipt(code: str, session: SessionDep) -> ReceiptRead:
    """What the QR code on a receipt points to: the receipt as this service holds it. Public."""
    return ReceiptRead.model_validate(await service.by_verification(session, code))


@router.get("/{receipt_id}", operation_id="getReceipt", responses=problems(ReceiptNotFound))
async def get_receipt(receipt_id: str, session: SessionDep) -> ReceiptRead:
    """One receipt."""
    return ReceiptRead.model_validate(await service.get(session, receipt_id))


@router.get("/{receipt_id}/pdf", operation_id="getReceiptPdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}},
                       **problems(ReceiptNotFound)})
async def receipt_pdf(receipt_id: str, session: SessionDep, ctx: ContextDep) -> Response:
    """The receipt as PDF, with its QR code."""
    receipt = await service.get(session, receipt_id)
    return Response(service.render_pdf(ctx, receipt), media_type="application/pdf",
                    headers={"Content-Disposition":
                             f'inline; filename="{receipt.symbol}-{receipt.number_text}.pdf"'})


@router.post("/{receipt_id}/cancellation", operation_id="cancelReceipt",
             responses=problems(ReceiptNotFound, ReceiptAlreadyCancelled))
async def cancel_receipt(receipt_id: str, body: ReceiptCancellation, session: SessionDep,
                         ctx: ContextDep) -> ReceiptCancellationRead:
    """Cancel a receipt with the reason; optionally issue its replacement (new number)."""
    cancelled, replacement = await service.cancel(session, ctx, receipt_id, reason=body.reason,
                                                  actor=body.actor, replace=body.replace)
    return ReceiptCancellationRead(
        cancelled=ReceiptRead.model_validate(cancelled),
        replacement=ReceiptRead.model_validate(replacement) if replacement else None)
