"""HTTP entry points for receipts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.auth import PUBLIC, AgencyForbidden, NotAllowed, Principal, require
from motcua.errors import problems
from motcua.service import SessionDep
from motcua_payments import access
from motcua_payments.context import ContextDep, PaymentsContext
from motcua_payments.errors import ReceiptAlreadyCancelled, ReceiptNotFound
from motcua_payments.receipts import service
from motcua_payments.receipts.models import Receipt
from motcua_payments.schemas import (
    ReceiptCancellation,
    ReceiptCancellationRead,
    ReceiptRead,
    ReceiptVerification,
)

router = APIRouter(prefix="/v1/receipts", tags=["receipts"])

#: Reading receipts: the dossier's owner, officers of the issuing agency, reader services.
Reader = Annotated[Principal, require(scopes=[access.READ])]
#: Roles of the issuing agency that may cancel a receipt.
CANCELLERS = ("approver", "agency_admin")


async def _receipt(session: AsyncSession, ctx: PaymentsContext, who: Principal,
                   receipt_id: str, *roles: str) -> None:
    """Let ``who`` at a receipt (as :func:`access.ensure`); 404 as unknown otherwise."""
    access.ensure(who, ctx, await access.dossier_of(session, Receipt, Receipt.id == receipt_id),
                  hidden=lambda: ReceiptNotFound(f"no receipt {receipt_id}"), roles=roles)


@router.get("", operation_id="listReceipts", responses=problems(AgencyForbidden))
async def list_receipts(dossier_code: Annotated[str, Query(min_length=1, max_length=60)],
                        session: SessionDep, ctx: ContextDep, who: Reader) -> list[ReceiptRead]:
    """The receipts of a dossier (payments and refunds, cancelled ones included): to its
    owner (anyone else's dossier, like an unknown one, has none), officers of the issuing
    agency, reader services."""
    if not access.may_list(who, ctx, await access.dossier(session, dossier_code)):
        return []
    return [ReceiptRead.model_validate(r)
            for r in await service.list_for_dossier(session, dossier_code)]


@router.get("/verification/{code}", operation_id="verifyReceipt",
            responses=problems(ReceiptNotFound), dependencies=[PUBLIC])
async def verify_receipt(code: str, session: SessionDep) -> ReceiptVerification:
    """What the QR code on a printed receipt points to. Public, and minimal: what is printed
    on it (agency, template, symbol, number, amount, date) and whether it still stands."""
    return ReceiptVerification.model_validate(await service.by_verification(session, code))


@router.get("/{receipt_id}", operation_id="getReceipt",
            responses=problems(ReceiptNotFound, AgencyForbidden))
async def get_receipt(receipt_id: str, session: SessionDep, ctx: ContextDep,
                      who: Reader) -> ReceiptRead:
    """One receipt: the dossier's owner, officers of the issuing agency, reader services."""
    await _receipt(session, ctx, who, receipt_id)
    return ReceiptRead.model_validate(await service.get(session, receipt_id))


@router.get("/{receipt_id}/pdf", operation_id="getReceiptPdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}},
                       **problems(ReceiptNotFound, AgencyForbidden)})
async def receipt_pdf(receipt_id: str, session: SessionDep, ctx: ContextDep,
                      who: Reader) -> Response:
    """The receipt as PDF, with its QR code (callers as for the receipt)."""
    await _receipt(session, ctx, who, receipt_id)
    receipt = await service.get(session, receipt_id)
    return Response(service.render_pdf(ctx, receipt), media_type="application/pdf",
                    headers={"Content-Disposition":
                             f'inline; filename="{receipt.symbol}-{receipt.number_text}.pdf"'})


@router.post("/{receipt_id}/cancellation", operation_id="cancelReceipt",
             responses=problems(ReceiptNotFound, ReceiptAlreadyCancelled, NotAllowed,
                                AgencyForbidden))
async def cancel_receipt(
    receipt_id: str, body: ReceiptCancellation, session: SessionDep, ctx: ContextDep,
    who: Annotated[Principal, require(kind="officer", roles=CANCELLERS)],
) -> ReceiptCancellationRead:
    """Cancel a receipt with the reason; optionally issue its replacement (new number).

    An approver or agency admin of the issuing agency (recorded as who cancelled it).
    """
    await _receipt(session, ctx, who, receipt_id, *CANCELLERS)
    cancelled, replacement = await service.cancel(session, ctx, receipt_id, reason=body.reason,
                                                  actor=who.subject, replace=body.replace)
    return ReceiptCancellationRead(
        cancelled=ReceiptRead.model_validate(cancelled),
        replacement=ReceiptRead.model_validate(replacement) if replacement else None)
