"""Gateway notifications (IPN and browser return): never trusted alone.

The order is DIGIT's: verify the checksum, find our payment, check the amount, confirm
with a server-to-server QUERY, check the amount the gateway reports, then settle once.
Every notification leaves a :class:`GatewayCallback` row, including the ones refused —
those rows are written in their own transaction so the refusal (a 4xx problem) does not
roll back the record of it.

A notification can be out of date or out of order (a failure after a success, a retry
after reconciliation settled it): QUERY is the truth, and a settled payment stays settled.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua.db import utcnow
from motcua.ids import new_id
from motcua.logging import get_logger
from motcua_payments.context import PaymentsContext
from motcua_payments.errors import (
    CallbackAmountMismatch,
    CallbackChecksumInvalid,
    CallbackMalformed,
    CallbackUnconfirmed,
    CallbackUnknownReference,
    GatewayUnavailable,
    gateway_problem,
)
from motcua_payments.gateway.adapter import GatewayError, GatewayNotice, NoticeRejected
from motcua_payments.gateway.guarded import GatewayShed
from motcua_payments.payments import service as payments
from motcua_payments.payments.models import SETTLED, GatewayCallback, Payment


def log() -> Any:
    """This module's logger, looked up at use: the kit's loggers cache the output stream
    configured when first used, which may be gone after a reconfiguration (tests)."""
    return get_logger("motcua_payments.callbacks")
Channel = Literal["ipn", "return"]


def _row(channel: Channel, payload: Any, outcome: str, *, notice: GatewayNotice | None = None,
         reference: str | None = None, payment_id: str | None = None,
         detail: str | None = None, client_ip: str | None = None) -> GatewayCallback:
    return GatewayCallback(
        id=new_id(), received_at=utcnow(), channel=channel,
        reference=(notice.reference if notice else reference),
        transaction_id=notice.transaction_id if notice else None,
        amount_vnd=notice.amount_vnd if notice else None,
        result_code=notice.result_code if notice else None, outcome=outcome,
        detail=detail, payment_id=payment_id, client_ip=client_ip,
        payload=payload if isinstance(payload, dict) else {"raw": str(payload)[:2000]})


async def _record(sessions: async_sessionmaker[AsyncSession], row: GatewayCallback,
                  anomaly: str | None = None) -> None:
    async with sessions() as session, session.begin():
        session.add(row)
        if anomaly and row.payment_id:
            await session.execute(update(Payment).where(Payment.id == row.payment_id)
                                  .values(anomaly=anomaly))
    log().warning("gateway_callback_refused", outcome=row.outcome, reference=row.reference,
                detail=(row.detail or "")[:200])


async def process(sessions: async_sessionmaker[AsyncSession], ctx: PaymentsContext,
                  payload: Mapping[str, Any] | Any, channel: Channel,
                  client_ip: str | None = None) -> dict[str, Any]:
    """Handle one notification; answer what came of it or raise a Problem (4xx/502)."""
    try:
        if not isinstance(payload, Mapping):
            raise NoticeRejected("malformed", "a notification is a JSON object")
        notice = ctx.gateway.verify_notice(payload, channel)
    except NoticeRejected as exc:
        await _record(sessions, _row(channel, payload, exc.reason, reference=exc.reference,
                                     detail=exc.detail, client_ip=client_ip))
        if exc.reason == "forged":
            raise CallbackChecksumInvalid(exc.detail) from exc
        raise CallbackMalformed(exc.detail) from exc

    async with sessions() as session:
        payment = await session.scalar(select(Payment).where(
            Payment.reference == notice.reference))
    if payment is None:
        await _record(sessions, _row(channel, payload, "unknown_reference", notice=notice,
                                     client_ip=client_ip))
        raise CallbackUnknownReference(f"no payment {notice.reference}")
    row = dict(notice=notice, payment_id=payment.id, client_ip=client_ip)

    if notice.amount_vnd != payment.amount_vnd and notice.success:
        detail = f"callback says {notice.amount_vnd} VND, payment is {payment.amount_vnd} VND"
        await _record(sessions, _row(channel, payload, "amount_mismatch", detail=detail, **row),
                      anomaly=None if payment.status == SETTLED else detail)
        raise CallbackAmountMismatch(detail, reference=payment.reference)
    if payment.status == SETTLED:
        outcome = "duplicate" if notice.success else "stale"
        async with sessions() as session, session.begin():
            session.add(_row(channel, payload, outcome, **row))
        return {"reference": payment.reference, "outcome": outcome, "status": SETTLED}

    try:
        truth = await ctx.gateway.query(payment.reference)
    except GatewayError as exc:
        await _record(sessions, _row(channel, payload, "gateway_unavailable",
                                     detail=str(exc), **row))
        if isinstance(exc, GatewayShed):
            raise gateway_problem(exc) from exc
        raise GatewayUnavailable(f"QUERY failed, retry later: {exc}") from exc

    if truth.state == "paid":
        if truth.amount_vnd != payment.amount_vnd:
            detail = (f"gateway reports {truth.amount_vnd} VND paid for a payment of "
                      f"{payment.amount_vnd} VND")
            await _record(sessions, _row(channel, payload, "amount_mismatch", detail=detail,
                                         **row), anomaly=detail)
            raise CallbackAmountMismatch(detail, reference=payment.reference)
        if notice.success and notice.transaction_id and \
                notice.transaction_id != truth.transaction_id:
            detail = (f"callback transaction {notice.transaction_id} is not the gateway's "
                      f"{truth.transaction_id}")
            await _record(sessions, _row(channel, payload, "unconfirmed", detail=detail, **row))
            raise CallbackUnconfirmed(detail, reference=payment.reference)
        await ctx.fault("callback.confirmed")
        async with sessions() as session, session.begin():
            _, receipt = await payments.settle(
                session, ctx, payment.id, transaction_id=truth.transaction_id,
                paid_at=truth.at or notice.at, via="callback" if channel == "ipn" else "return")
            outcome = "settled" if receipt is not None else "duplicate"
            session.add(_row(channel, payload, outcome, **row))
        return {"reference": payment.reference, "outcome": outcome, "status": SETTLED,
                "receipt_id": receipt.id if receipt else None}

    if notice.success:
        detail = f"callback says paid, QUERY says {truth.state} ({truth.result_code})"
        await _record(sessions, _row(channel, payload, "unconfirmed", detail=detail, **row))
        raise CallbackUnconfirmed(detail, reference=payment.reference)
    async with sessions() as session, session.begin():
        changed = truth.state == "failed" and await payments.fail(
            session, ctx, payment.id, code=truth.result_code,
            reason=f"gateway reported failure {truth.result_code}")
        outcome = "failed" if changed else "ignored"
        session.add(_row(channel, payload, outcome, **row))
        current = await session.scalar(select(Payment.status).where(Payment.id == payment.id))
    return {"reference": payment.reference, "outcome": outcome, "status": current}


async def list_callbacks(session: AsyncSession, *, reference: str | None, outcome: str | None,
                         agencies: Collection[str] | None = None, limit: int,
                         offset: int) -> list[GatewayCallback]:
    """Recorded notifications, newest first; with ``agencies``, only those naming a
    payment of one of them (one naming no known reference belongs to no agency)."""
    stmt = select(GatewayCallback)
    if agencies is not None:
        stmt = stmt.join(Payment, Payment.reference == GatewayCallback.reference).where(
            Payment.agency_code.in_(sorted(agencies)))
    if reference:
        stmt = stmt.where(GatewayCallback.reference == reference)
    if outcome:
        stmt = stmt.where(GatewayCallback.outcome == outcome)
    stmt = stmt.order_by(GatewayCallback.received_at.desc(), GatewayCallback.id.desc())
    return list((await session.scalars(stmt.limit(limit).offset(offset))).all())
