"""Refund use cases: owe a refund (withdrawal, refusal, overpayment), pay it back."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua import outbox
from motcua.contracts.payments import PaymentRefundedV1, RefundRequestedV1
from motcua.db import utcnow
from motcua.ids import new_id
from motcua_payments.context import PaymentsContext
from motcua_payments.errors import RefundNotFound, RefundNotPending
from motcua_payments.fees.models import Assessment
from motcua_payments.payments.models import SETTLED, Payment
from motcua_payments.receipts import service as receipts
from motcua_payments.receipts.models import Receipt
from motcua_payments.refunds.models import COMPLETED, PENDING, Refund


async def refunded_or_owed(session: AsyncSession, payment_id: str) -> int:
    """What is already refunded or owed for a payment."""
    return int(await session.scalar(select(func.coalesce(func.sum(Refund.amount_vnd), 0))
                                    .where(Refund.payment_id == payment_id)) or 0)


async def owe(session: AsyncSession, ctx: PaymentsContext, assessment: Assessment,
              amount_vnd: int, reason: str, note: str | None = None) -> list[Refund]:
    """Owe ``amount_vnd`` back, split over the settled payments (latest first)."""
    payments = (await session.scalars(select(Payment).where(
        Payment.assessment_id == assessment.id, Payment.status == SETTLED)
        .order_by(Payment.settled_at.desc()))).all()
    created: list[Refund] = []
    remaining = amount_vnd
    now = utcnow()
    for payment in payments:
        if remaining <= 0:
            break
        room = payment.amount_vnd - await refunded_or_owed(session, payment.id)
        part = min(room, remaining)
        if part <= 0:
            continue
        refund = Refund(id=new_id(), assessment_id=assessment.id, payment_id=payment.id,
                        dossier_code=assessment.dossier_code,
                        agency_code=assessment.agency_code, amount_vnd=part, reason=reason,
                        note=note, status=PENDING, requested_at=now)
        session.add(refund)
        await session.flush()
        outbox.record(session, RefundRequestedV1(
            refund_id=refund.id, dossier_code=refund.dossier_code,
            agency_code=refund.agency_code, amount_vnd=part, reason=reason,  # type: ignore[arg-type]
            occurred_at=now), province=ctx.province, key=assessment.dossier_code)
        created.append(refund)
        remaining -= part
    return created


async def pending_total(session: AsyncSession, assessment_id: str) -> int:
    """Refunds owed and not yet paid back."""
    return int(await session.scalar(select(func.coalesce(func.sum(Refund.amount_vnd), 0)).where(
        Refund.assessment_id == assessment_id, Refund.status == PENDING)) or 0)


async def complete(session: AsyncSession, ctx: PaymentsContext, refund_id: str, *, actor: str,
                   method: str, transfer_reference: str | None,
                   payer_name: str | None) -> tuple[Refund, Receipt]:
    """An officer paid the refund back: record it, issue its receipt, record the event."""
    refund = await session.scalar(select(Refund).where(Refund.id == refund_id).with_for_update())
    if refund is None:
        raise RefundNotFound(f"no refund {refund_id}")
    if refund.status != PENDING:
        raise RefundNotPending(f"refund {refund_id} is {refund.status}")
    assessment = await session.scalar(select(Assessment).where(
        Assessment.id == refund.assessment_id).with_for_update())
    payment = await session.get(Payment, refund.payment_id)
    assert assessment is not None and payment is not None
    now = utcnow()
    refund.status = COMPLETED
    refund.method = method
    refund.completed_at = now
    refund.completed_by = actor
    refund.transfer_reference = transfer_reference
    assessment.record_refund(refund.amount_vnd)
    receipt = await receipts.issue(
        session, ctx, kind="refund", assessment=assessment, amount_vnd=refund.amount_vnd,
        method=method, refund_id=refund.id, payer_name=payer_name or payment.payer_name,
        reference=payment.reference, at=now,
        lines=[{"code": "refund", "label_vi": f"Hoàn trả phí, lệ phí ({_REASONS[refund.reason]})",
                "payable_vnd": refund.amount_vnd}])
    outbox.record(session, PaymentRefundedV1(
        payment_id=payment.id, reference=payment.reference, dossier_code=refund.dossier_code,
        agency_code=refund.agency_code, amount_vnd=refund.amount_vnd, occurred_at=now,
        refund_id=refund.id, reason=refund.reason, method=method,  # type: ignore[arg-type]
        receipt_id=receipt.id, receipt_number=f"{receipt.symbol}-{receipt.number_text}"),
        province=ctx.province, key=refund.dossier_code, sequence=assessment.version)
    await session.flush()
    return refund, receipt


_REASONS = {"withdrawn": "hồ sơ rút", "refused": "từ chối tiếp nhận",
            "overpayment": "nộp thừa", "manual": "điều chỉnh"}


async def get(session: AsyncSession, refund_id: str) -> Refund:
    """A refund, or RefundNotFound."""
    refund = await session.get(Refund, refund_id)
    if refund is None:
        raise RefundNotFound(f"no refund {refund_id}")
    return refund


async def list_for_dossier(session: AsyncSession, dossier_code: str) -> list[Refund]:
    """Refunds of a dossier."""
    return list((await session.scalars(select(Refund).where(
        Refund.dossier_code == dossier_code).order_by(Refund.requested_at))).all())
