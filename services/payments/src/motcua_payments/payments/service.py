"""Payment use cases: request online, settle exactly once, pay at the counter, cancel, fail.

Each function works in the caller's transaction and records its events there, except
:func:`send_init`, which sends INIT with no transaction open, and :func:`discard_unsent`,
which has its own.

:func:`settle` is the only way money becomes settled (callback, browser return,
reconciliation and counter all go through it): it takes the row locks of the assessment
and then of the payment (the order every path takes them), refuses a second settlement,
and writes the settlement, the assessment's totals, the receipt and the events in one
transaction — so a crash leaves either all of it or none of it.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua import outbox
from motcua.contracts.payments import (
    AssessmentReleasedV1,
    AssessmentSettledV1,
    PaymentCancelledV1,
    PaymentFailedV1,
    PaymentRequestedV1,
    PaymentSettledV1,
)
from motcua.db import utcnow
from motcua.errors import FieldError
from motcua.ids import new_id
from motcua.logging import get_logger
from motcua_payments.context import PaymentsContext
from motcua_payments.errors import (
    GatewayUnavailable,
    NothingToPay,
    PaymentAlreadyPending,
    PaymentAmountMismatch,
    PaymentNotCancellable,
    PaymentNotFound,
    gateway_problem,
)
from motcua_payments.fees import service as fees
from motcua_payments.fees.models import DUE, RELEASED, Assessment
from motcua_payments.gateway.adapter import GatewayError, InitOrder
from motcua_payments.payments.models import EXPIRED, PENDING, RECORDED, SETTLED, Payment
from motcua_payments.receipts import service as receipts
from motcua_payments.receipts.models import Receipt
from motcua_payments.refunds import service as refunds


def new_reference() -> str:
    """A unique MaThamChieu: ``MC`` and a time-ordered UUIDv7 in hex (34 characters)."""
    return "MC" + new_id().replace("-", "").upper()


def _payable(assessment: Assessment, amount_vnd: int | None) -> int:
    outstanding = assessment.outstanding_vnd
    if assessment.status != DUE or outstanding <= 0:
        raise NothingToPay(f"dossier {assessment.dossier_code} has nothing outstanding "
                           f"(assessment {assessment.status})")
    if amount_vnd is not None and amount_vnd != outstanding:
        raise PaymentAmountMismatch(
            f"{outstanding} VND is outstanding", outstanding_vnd=outstanding,
            errors=[FieldError(field="amount_vnd", code="payment.amount_mismatch",
                               message=f"must equal the outstanding {outstanding} VND")])
    return outstanding


async def start_online(session: AsyncSession, ctx: PaymentsContext, *, dossier_code: str,
                       amount_vnd: int | None, payer_name: str | None,
                       actor: str | None = None) -> Payment:
    """First step of an online payment: write it, unsent (no URL, no event), taking the
    dossier's one pending slot. Commit before sending its INIT (:func:`send_init`), so
    that no transaction waits for the platform; :func:`confirm_online` records the answer.

    ``actor`` is who asked (the citizen, or an officer on the citizen's behalf). Another
    request for the dossier meanwhile gets 409 ``payment.already_pending`` (with
    ``Retry-After`` while the other is unsent). An unsent payment older than
    ``payment_init_grace_s`` was never confirmed and is discarded here.
    """
    assessment = await fees.get_by_dossier(session, dossier_code, for_update=True)
    amount = _payable(assessment, amount_vnd)
    now = utcnow()
    pending = await session.scalar(_pending_of(assessment.id))
    if pending is not None and pending.unsent:
        left = ctx.settings.payment_init_grace_s - (now - pending.requested_at).total_seconds()
        if left > 0:
            raise PaymentAlreadyPending(
                f"payment {pending.reference} is being sent to the gateway; retry shortly",
                reference=pending.reference, payment_url=None,
                retry_after=math.ceil(min(left, ctx.settings.gateway_timeout_s)))
        await _discard(session, Payment.id == pending.id)
        pending = None
    if pending is not None:
        raise PaymentAlreadyPending(
            f"payment {pending.reference} is pending; cancel it or pay at {pending.payment_url}",
            reference=pending.reference, payment_url=pending.payment_url)
    payment = Payment(
        id=new_id(), reference=new_reference(), assessment_id=assessment.id,
        dossier_code=assessment.dossier_code, agency_code=assessment.agency_code,
        method="gateway", amount_vnd=amount, status=PENDING, payer_name=payer_name,
        actor=actor, requested_at=now, version=1)
    session.add(payment)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent request took the pending slot
        raise PaymentAlreadyPending("another payment request for this dossier is pending") \
            from exc
    return payment


def init_order(ctx: PaymentsContext, payment: Payment, *, client_ip: str,
               return_url: str | None) -> InitOrder:
    """The INIT command for an unsent payment."""
    base = ctx.settings.public_base_url.rstrip("/")
    return InitOrder(
        reference=payment.reference, amount_vnd=payment.amount_vnd,
        description=f"Thanh toan phi, le phi ho so {payment.dossier_code}",
        client_ip=client_ip, at=payment.requested_at, notify_url=f"{base}/v1/gateway/ipn",
        return_url=return_url or f"{base}/v1/gateway/return")


async def send_init(ctx: PaymentsContext, order: InitOrder) -> str:
    """Send INIT (with no transaction open: the caller holds none); the payment URL, or
    the gateway's problem (also when it gave no answer within twice
    ``gateway_timeout_s``). The caller discards the unsent payment if this raises."""
    try:
        async with asyncio.timeout(2 * ctx.settings.gateway_timeout_s):
            result = await ctx.gateway.init(order)
    except TimeoutError as exc:
        raise GatewayUnavailable("the payment gateway gave no answer to INIT in time") \
            from exc
    except GatewayError as exc:
        raise gateway_problem(exc) from exc
    return result.payment_url


async def discard_unsent(sessions: async_sessionmaker[AsyncSession], payment_id: str) -> None:
    """Best effort, in its own transaction, shielded from the caller's cancellation:
    discard a payment whose request failed before it was confirmed, so that its dossier's
    slot is free at once rather than after ``payment_init_grace_s``. Changes nothing if
    it was confirmed meanwhile; a failure is logged and left to the grace."""
    async def discard() -> None:
        async with sessions() as session, session.begin():
            await _discard(session, Payment.id == payment_id)

    try:
        await asyncio.shield(discard())
    except Exception as exc:  # the database is what failed: the grace frees the slot
        get_logger("motcua_payments.payments").warning(
            "unsent_payment_not_discarded", payment_id=payment_id, error=str(exc))


async def confirm_online(session: AsyncSession, ctx: PaymentsContext, *, payment_id: str,
                         dossier_code: str, payment_url: str) -> Payment:
    """Last step: record the gateway's URL and the ``payment.requested`` event.

    If the payment is no longer unsent (the dossier was released meanwhile, or payments
    discarded it after ``payment_init_grace_s``): 409 ``assessment.nothing_to_pay`` when
    nothing is outstanding any more, else 502 ``gateway.unavailable`` (ask again).
    """
    payment = await session.scalar(select(Payment).where(Payment.id == payment_id)
                                   .with_for_update())
    if payment is None or not payment.unsent:
        assessment = await fees.get_by_dossier(session, dossier_code, missing_ok=True)
        if assessment is not None and (assessment.status != DUE
                                       or assessment.outstanding_vnd <= 0):
            raise NothingToPay(f"dossier {assessment.dossier_code} has nothing outstanding "
                               f"any more (assessment {assessment.status})")
        raise GatewayUnavailable("the gateway answered after payments had given up on this "
                                 "request; ask for the payment again")
    payment.payment_url = payment_url
    outbox.record(session, PaymentRequestedV1(
        payment_id=payment.id, reference=payment.reference, dossier_code=payment.dossier_code,
        agency_code=payment.agency_code, amount_vnd=payment.amount_vnd,
        occurred_at=payment.requested_at), province=ctx.province, key=payment.dossier_code)
    await session.flush()
    return payment


def _pending_of(assessment_id: str) -> Select[tuple[Payment]]:
    """The pending payments of an assessment, locked and read afresh (a confirmation or a
    discard may have committed since this session last read one). Locked after the
    assessment, as every path does."""
    return select(Payment).where(
        Payment.assessment_id == assessment_id, Payment.status == PENDING,
    ).with_for_update().execution_options(populate_existing=True)


async def _discard(session: AsyncSession, *where: Any) -> int:
    """Delete the unsent payments that match ``where`` (nothing else refers to one and no
    event named it); how many."""
    result = await session.execute(delete(Payment).where(Payment.unsent, *where))
    return result.rowcount


async def discard_abandoned(session: AsyncSession, ctx: PaymentsContext) -> int:
    """Discard unsent payments older than ``payment_init_grace_s`` (payments stopped
    between writing one and confirming it); how many."""
    cutoff = utcnow() - timedelta(seconds=ctx.settings.payment_init_grace_s)
    return await _discard(session, Payment.requested_at < cutoff)


async def settle(session: AsyncSession, ctx: PaymentsContext, payment_id: str, *,
                 transaction_id: str | None, paid_at: datetime, via: str,
                 ) -> tuple[Payment, Receipt | None]:
    """Settle a payment once, with its receipt and events; a second call changes nothing.

    Returns the payment and the new receipt (None when it was already settled).
    """
    assessment_id = await session.scalar(select(Payment.assessment_id).where(
        Payment.id == payment_id))
    if assessment_id is None:
        raise PaymentNotFound(f"no payment {payment_id}")
    # Row locks in the order every path takes them, the assessment before its payments
    # (a withdrawal cancelling this payment, a new request), so two never wait for each
    # other. populate_existing: rows read earlier in this session are refreshed.
    assessment = await session.scalar(select(Assessment).where(
        Assessment.id == assessment_id).with_for_update()
        .execution_options(populate_existing=True))
    await ctx.fault("settlement.first_lock")
    payment = await session.scalar(select(Payment).where(Payment.id == payment_id)
                                   .with_for_update().execution_options(populate_existing=True))
    assert assessment is not None and payment is not None
    if payment.status == SETTLED:
        return payment, None
    now = utcnow()
    payment.settle(transaction_id=transaction_id, paid_at=paid_at, via=via, at=now)
    newly_settled = assessment.record_settlement(payment.amount_vnd, online=payment.online)
    lines = [x.as_dict() for x in await fees.lines_of(session, assessment.id)
             if x.payable_vnd > 0] or [{"code": "fee", "label_vi": "Phí, lệ phí",
                                        "payable_vnd": payment.amount_vnd}]
    if sum(int(x["payable_vnd"]) for x in lines) != payment.amount_vnd:
        lines = [{"code": "fee", "label_vi": "Phí, lệ phí (nộp theo hồ sơ)",
                  "payable_vnd": payment.amount_vnd}]
    receipt = await receipts.issue(
        session, ctx, kind="payment", assessment=assessment, amount_vnd=payment.amount_vnd,
        method=payment.method, lines=lines, payment_id=payment.id,
        payer_name=payment.payer_name, reference=payment.reference,
        transaction_id=transaction_id, at=now)
    online_code = ctx.gateway.online_payment_code if payment.online else 0
    outbox.record(session, PaymentSettledV1(
        payment_id=payment.id, reference=payment.reference, dossier_code=payment.dossier_code,
        agency_code=payment.agency_code, amount_vnd=payment.amount_vnd, occurred_at=now,
        method=payment.method, paid_online=payment.online,  # type: ignore[arg-type]
        online_payment_code=online_code, gateway_transaction_id=transaction_id,
        receipt_id=receipt.id, receipt_number=f"{receipt.symbol}-{receipt.number_text}",
        settled_via=via),  # type: ignore[arg-type]
        province=ctx.province, key=payment.dossier_code, sequence=assessment.version)
    if newly_settled:
        outbox.record(session, AssessmentSettledV1(
            assessment_id=assessment.id, dossier_code=assessment.dossier_code,
            agency_code=assessment.agency_code, occurred_at=now,
            payable_vnd=assessment.payable_vnd, settled_vnd=assessment.settled_vnd,
            paid_online=assessment.paid_online),
            province=ctx.province, key=assessment.dossier_code, sequence=assessment.version)
    # Money beyond what is due (a second payment, or one after withdrawal) is owed back.
    excess = assessment.net_settled_vnd - assessment.due_vnd \
        - await refunds.pending_total(session, assessment.id)
    if excess > 0:
        reason = assessment.released_reason if assessment.status == RELEASED else "overpayment"
        await refunds.owe(session, ctx, assessment, excess, reason or "overpayment")
    await session.flush()
    await ctx.fault("settlement.flushed")
    return payment, receipt


async def pay_at_counter(session: AsyncSession, ctx: PaymentsContext, *, dossier_code: str,
                         method: str, amount_vnd: int, actor: str, payer_name: str | None,
                         transfer_reference: str | None) -> tuple[Payment, Receipt]:
    """An officer took cash or a bank transfer: settle it at once (never "paid online")."""
    assessment = await fees.get_by_dossier(session, dossier_code, for_update=True)
    _payable(assessment, amount_vnd)
    now = utcnow()
    payment = Payment(
        id=new_id(), reference=new_reference(), assessment_id=assessment.id,
        dossier_code=assessment.dossier_code, agency_code=assessment.agency_code,
        method=method, amount_vnd=amount_vnd, status=RECORDED, payer_name=payer_name,
        actor=actor, transfer_reference=transfer_reference, requested_at=now, version=1)
    session.add(payment)
    await session.flush()
    settled, receipt = await settle(session, ctx, payment.id, transaction_id=None, paid_at=now,
                                    via="counter")
    assert receipt is not None
    return settled, receipt


async def cancel(session: AsyncSession, ctx: PaymentsContext, reference: str, *, reason: str,
                 actor: str) -> Payment:
    """Cancel a pending online payment request (the citizen may then start another)."""
    payment = await get_by_reference(session, reference, for_update=True)
    if payment.unsent:  # its INIT is on its way: it gets a URL, or is discarded
        raise PaymentNotCancellable(f"payment {reference} is being sent to the gateway; "
                                    "retry shortly", retry_after=5)
    if not payment.cancel(reason, actor):
        raise PaymentNotCancellable(f"payment {reference} is {payment.status}")
    outbox.record(session, PaymentCancelledV1(
        payment_id=payment.id, reference=payment.reference, dossier_code=payment.dossier_code,
        agency_code=payment.agency_code, amount_vnd=payment.amount_vnd, occurred_at=utcnow(),
        reason=reason, actor=actor), province=ctx.province, key=payment.dossier_code)
    await session.flush()
    return payment


async def fail(session: AsyncSession, ctx: PaymentsContext, payment_id: str, *,
               code: str | None, reason: str, expired: bool = False) -> bool:
    """The gateway says a pending payment failed (or it expired); True if it changed."""
    payment = await session.scalar(select(Payment).where(Payment.id == payment_id)
                                   .with_for_update())
    if payment is None or payment.unsent \
            or not payment.fail(code=code, status=EXPIRED if expired else "failed"):
        return False  # (an unsent payment is confirmed or discarded, not failed)
    outbox.record(session, PaymentFailedV1(
        payment_id=payment.id, reference=payment.reference, dossier_code=payment.dossier_code,
        agency_code=payment.agency_code, amount_vnd=payment.amount_vnd, occurred_at=utcnow(),
        result_code=code, reason=reason), province=ctx.province, key=payment.dossier_code)
    await session.flush()
    return True


async def release_for_dossier(session: AsyncSession, ctx: PaymentsContext, dossier_code: str,
                              reason: str) -> Assessment | None:
    """A withdrawn or refused dossier owes nothing: cancel pending requests, owe refunds."""
    assessment = await fees.get_by_dossier(session, dossier_code, for_update=True,
                                           missing_ok=True)
    if assessment is None or assessment.status == RELEASED:
        return assessment
    pending = (await session.scalars(_pending_of(assessment.id))).all()
    await ctx.fault("release.pending_read")
    for payment in pending:
        if payment.unsent:  # no event named it: it goes (its confirmation finds it gone)
            await _discard(session, Payment.id == payment.id)
            continue
        await cancel(session, ctx, payment.reference, reason=f"dossier {reason}",
                     actor="system")
    refund_due = assessment.release(reason)
    now = utcnow()
    outbox.record(session, AssessmentReleasedV1(
        assessment_id=assessment.id, dossier_code=assessment.dossier_code,
        agency_code=assessment.agency_code, occurred_at=now, reason=reason,  # type: ignore[arg-type]
        released_vnd=assessment.released_vnd, refund_due_vnd=refund_due),
        province=ctx.province, key=assessment.dossier_code, sequence=assessment.version)
    owed = refund_due - await refunds.pending_total(session, assessment.id)
    if owed > 0:
        await refunds.owe(session, ctx, assessment, owed, reason)
    await session.flush()
    return assessment


async def get_by_reference(session: AsyncSession, reference: str, *,
                           for_update: bool = False) -> Payment:
    """A payment by its MaThamChieu, or PaymentNotFound."""
    stmt = select(Payment).where(Payment.reference == reference)
    if for_update:  # populate_existing: one read earlier in this session is refreshed
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    payment = await session.scalar(stmt)
    if payment is None:
        raise PaymentNotFound(f"no payment {reference}")
    return payment


async def list_for_dossier(session: AsyncSession, dossier_code: str) -> list[Payment]:
    """Payments of a dossier, oldest first."""
    return list((await session.scalars(select(Payment).where(
        Payment.dossier_code == dossier_code).order_by(Payment.requested_at))).all())
