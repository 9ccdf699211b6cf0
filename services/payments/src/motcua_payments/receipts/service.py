"""Receipt use cases: numbering in the agency's yearly series, issue, cancel, render."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua import outbox
from motcua.contracts.payments import ReceiptCancelledV1, ReceiptIssuedV1
from motcua.db import dialect_insert, utcnow
from motcua.ids import new_id
from motcua_payments.context import PaymentsContext
from motcua_payments.errors import ReceiptAlreadyCancelled, ReceiptNotFound
from motcua_payments.fees.models import Assessment
from motcua_payments.gateway.wire import BUSINESS_TZ
from motcua_payments.receipts import pdf
from motcua_payments.receipts.models import CANCELLED, ISSUED, Receipt, ReceiptCounter


async def next_number(session: AsyncSession, agency_code: str, kind: str, year: int) -> int:
    """Take the next number of a series atomically (one upsert; the row or write lock
    serialises concurrent takers, so two receipts never share a number)."""
    insert = dialect_insert(session)
    stmt = insert(ReceiptCounter).values(agency_code=agency_code, kind=kind, year=year,
                                         last_value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["agency_code", "kind", "year"],
        set_={"last_value": ReceiptCounter.last_value + 1},
    ).returning(ReceiptCounter.last_value)
    return int((await session.execute(stmt)).scalar_one())


async def issue(session: AsyncSession, ctx: PaymentsContext, *, kind: str,
                assessment: Assessment, amount_vnd: int, method: str,
                lines: list[dict[str, Any]], payment_id: str | None = None,
                refund_id: str | None = None, payer_name: str | None = None,
                reference: str | None = None, transaction_id: str | None = None,
                replaces_id: str | None = None, at: datetime | None = None) -> Receipt:
    """Number and store a receipt, and record ReceiptIssuedV1 (caller's transaction)."""
    at = at or utcnow()
    year = at.astimezone(BUSINESS_TZ).year
    number = await next_number(session, assessment.agency_code, kind, year)
    symbol_format = ctx.settings.refund_receipt_symbol if kind == "refund" \
        else ctx.settings.receipt_symbol
    receipt = Receipt(
        id=new_id(), kind=kind, agency_code=assessment.agency_code, year=year,
        template=ctx.settings.receipt_template,
        symbol=symbol_format.format(yy=f"{year % 100:02d}"), number=number,
        payment_id=payment_id, refund_id=refund_id, dossier_code=assessment.dossier_code,
        procedure_code=assessment.procedure_code, amount_vnd=amount_vnd, method=method,
        payer_name=payer_name, reference=reference, gateway_transaction_id=transaction_id,
        lines=lines, issued_at=at, verification_code=secrets.token_hex(16), status=ISSUED,
        replaces_id=replaces_id)
    session.add(receipt)
    outbox.record(session, ReceiptIssuedV1(
        receipt_id=receipt.id, kind=kind, agency_code=receipt.agency_code,
        dossier_code=receipt.dossier_code, symbol=receipt.symbol, number=receipt.number_text,
        amount_vnd=amount_vnd, occurred_at=at, replaces_id=replaces_id),
        province=ctx.province, key=receipt.dossier_code)
    await session.flush()
    return receipt


async def get(session: AsyncSession, receipt_id: str) -> Receipt:
    """A receipt, or ReceiptNotFound."""
    receipt = await session.get(Receipt, receipt_id)
    if receipt is None:
        raise ReceiptNotFound(f"no receipt {receipt_id}")
    return receipt


async def by_verification(session: AsyncSession, code: str) -> Receipt:
    """The receipt a QR code points to, or ReceiptNotFound."""
    receipt = await session.scalar(select(Receipt).where(Receipt.verification_code == code))
    if receipt is None:
        raise ReceiptNotFound("no receipt has this verification code")
    return receipt


async def list_for_dossier(session: AsyncSession, dossier_code: str) -> list[Receipt]:
    """Every receipt of a dossier, in issue order."""
    return list((await session.scalars(select(Receipt).where(
        Receipt.dossier_code == dossier_code).order_by(Receipt.issued_at, Receipt.number))).all())


async def cancel(session: AsyncSession, ctx: PaymentsContext, receipt_id: str, *, reason: str,
                 actor: str, replace: bool) -> tuple[Receipt, Receipt | None]:
    """Cancel a receipt with a reason; with ``replace``, issue its replacement (new number)."""
    receipt = await session.scalar(select(Receipt).where(Receipt.id == receipt_id)
                                   .with_for_update())
    if receipt is None:
        raise ReceiptNotFound(f"no receipt {receipt_id}")
    if receipt.status == CANCELLED:
        raise ReceiptAlreadyCancelled(f"receipt {receipt.symbol} {receipt.number_text} was "
                                      f"cancelled: {receipt.cancel_reason}")
    now = utcnow()
    receipt.cancel(reason, actor, now)
    await session.flush()  # frees the "one issued receipt per payment" slot
    replacement = None
    if replace:
        assessment = await session.scalar(select(Assessment).where(
            Assessment.dossier_code == receipt.dossier_code))
        assert assessment is not None
        replacement = await issue(
            session, ctx, kind=receipt.kind, assessment=assessment,
            amount_vnd=receipt.amount_vnd, method=receipt.method, lines=receipt.lines,
            payment_id=receipt.payment_id, refund_id=receipt.refund_id,
            payer_name=receipt.payer_name, reference=receipt.reference,
            transaction_id=receipt.gateway_transaction_id, replaces_id=receipt.id, at=now)
        receipt.replaced_by_id = replacement.id
    outbox.record(session, ReceiptCancelledV1(
        receipt_id=receipt.id, kind=receipt.kind, agency_code=receipt.agency_code,
        dossier_code=receipt.dossier_code, symbol=receipt.symbol, number=receipt.number_text,
        amount_vnd=receipt.amount_vnd, occurred_at=now, reason=reason, actor=actor,
        replaced_by_id=replacement.id if replacement else None),
        province=ctx.province, key=receipt.dossier_code)
    await session.flush()
    return receipt, replacement


def verify_url(ctx: PaymentsContext, receipt: Receipt) -> str:
    """What the QR code points to."""
    return (f"{ctx.settings.public_base_url.rstrip('/')}/v1/receipts/verification/"
            f"{receipt.verification_code}")


def render_pdf(ctx: PaymentsContext, receipt: Receipt) -> bytes:
    """The receipt's PDF."""
    return pdf.render(receipt, verify_url=verify_url(ctx, receipt))
