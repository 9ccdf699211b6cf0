"""Reconciliation with the gateway: early (QUERY what is still pending) and daily (statement).

Both are safe with several replicas. The early pass claims each payment with a lease (a
conditional UPDATE that only one replica wins) before it QUERYs it, and settling goes
through :func:`payments.settle`, which settles at most once anyway. The daily pass claims
the (partner, day) run row: the replica that inserts it, or that takes over a failed run or
one whose lease ran out, reconciles; the others leave it alone.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua import outbox
from motcua.contracts.payments import ReconciliationCompletedV1
from motcua.db import utcnow
from motcua.ids import new_id
from motcua.logging import get_logger
from motcua_payments.context import PaymentsContext
from motcua_payments.errors import ReconciliationInProgress, ReconciliationNotFound
from motcua_payments.gateway.adapter import GatewayError, StatementEntry
from motcua_payments.gateway.guarded import GatewayShed
from motcua_payments.gateway.wire import BUSINESS_TZ
from motcua_payments.payments import service as payments
from motcua_payments.payments.models import PENDING, SETTLED, Payment
from motcua_payments.reconciliation.models import (
    COMPLETED,
    FAILED,
    MATCHED,
    MISMATCHED,
    MISSING_OURS,
    MISSING_THEIRS,
    RUNNING,
    ReconciliationItem,
    ReconciliationRun,
)


def log() -> Any:
    """This module's logger, looked up at use: the kit's loggers cache the output stream
    configured when first used, which may be gone after a reconfiguration (tests)."""
    return get_logger("motcua_payments.reconciliation")
_LEASE = timedelta(minutes=2)
_RUN_LEASE = timedelta(minutes=15)


async def early_pass(sessions: async_sessionmaker[AsyncSession], ctx: PaymentsContext, *,
                     older_than_s: float | None = None, limit: int = 50) -> dict[str, int]:
    """QUERY online payments pending for longer than ``older_than_s``; settle, fail or expire.

    First, unsent payments older than ``payment_init_grace_s`` are discarded
    (``discarded``): payments stopped between writing one and confirming its INIT, so
    nobody was given its URL and no event named it.
    """
    now = utcnow()
    age = ctx.settings.early_reconcile_after_s if older_than_s is None else older_than_s
    recheck = timedelta(seconds=ctx.settings.reconcile_poll_s)
    async with sessions() as session, session.begin():
        discarded = await payments.discard_abandoned(session, ctx)
    if discarded:
        log().warning("unsent_payments_discarded", payments=discarded)
    stmt = select(Payment.id).where(
        Payment.status == PENDING, Payment.method == "gateway",
        Payment.payment_url.is_not(None),
        Payment.requested_at <= now - timedelta(seconds=age),
        or_(Payment.check_lease_until.is_(None), Payment.check_lease_until < now))
    if older_than_s is None:  # the loop re-checks a payment once per poll; a manual pass now
        stmt = stmt.where(or_(Payment.last_checked_at.is_(None),
                              Payment.last_checked_at <= now - recheck))
    async with sessions() as session, session.begin():
        candidates = (await session.scalars(stmt.order_by(Payment.requested_at)
                                            .limit(limit))).all()
    counts = {"checked": 0, "settled": 0, "failed": 0, "expired": 0, "pending": 0,
              "anomalies": 0, "errors": 0, "deferred": 0, "discarded": discarded}
    for i, payment_id in enumerate(candidates):
        lease = await _claim(sessions, payment_id)
        if lease is None:
            continue  # another replica took it
        try:
            outcome = await check_payment(sessions, ctx, payment_id)
        except GatewayShed as exc:  # nothing sent: the rest waits for the next pass
            await _release(sessions, payment_id, lease)
            counts["deferred"] = len(candidates) - i
            log().info("early_reconcile_deferred", reason=exc.reason,
                       payments=counts["deferred"])
            break
        except GatewayError as exc:
            log().warning("early_reconcile_query_failed", payment_id=payment_id, error=str(exc))
            outcome = "errors"
        counts["checked"] += 1
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


async def _claim(sessions: async_sessionmaker[AsyncSession], payment_id: str
                 ) -> datetime | None:
    """Lease the payment for a check from now (not from the pass's start: late in a long
    pass that lease would be over already); the lease's end, None if another has it."""
    now = utcnow()
    lease = now + _LEASE
    async with sessions() as session, session.begin():
        result = await session.execute(update(Payment).where(
            Payment.id == payment_id, Payment.status == PENDING,
            or_(Payment.check_lease_until.is_(None), Payment.check_lease_until < now),
        ).values(check_lease_until=lease))
        return lease if result.rowcount == 1 else None


async def _release(sessions: async_sessionmaker[AsyncSession], payment_id: str,
                   lease: datetime) -> None:
    """Give back the check lease :func:`_claim` took (if it is still that one)."""
    async with sessions() as session, session.begin():
        await session.execute(update(Payment).where(
            Payment.id == payment_id, Payment.check_lease_until == lease,
        ).values(check_lease_until=None))


async def check_payment(sessions: async_sessionmaker[AsyncSession], ctx: PaymentsContext,
                        payment_id: str) -> str:
    """QUERY one pending payment and act on the answer; return what happened."""
    async with sessions() as session:
        payment = await session.get(Payment, payment_id)
    assert payment is not None
    truth = await ctx.gateway.query(payment.reference)
    now = utcnow()
    expired = now - payment.requested_at > timedelta(seconds=ctx.settings.payment_expiry_s)
    async with sessions() as session, session.begin():
        if truth.state == "paid" and truth.amount_vnd == payment.amount_vnd:
            await payments.settle(session, ctx, payment_id, transaction_id=truth.transaction_id,
                                  paid_at=truth.at or now, via="reconciliation")
            return "settled"
        values: dict[str, Any] = {"last_checked_at": now, "check_lease_until": None}
        outcome = "pending"
        if truth.state == "paid":
            values["anomaly"] = (f"gateway reports {truth.amount_vnd} VND paid for a payment "
                                 f"of {payment.amount_vnd} VND")
            outcome = "anomalies"
        elif truth.state == "failed":
            await payments.fail(session, ctx, payment_id, code=truth.result_code,
                                reason=f"gateway reports failure {truth.result_code}")
            outcome = "failed"
        elif expired:
            await payments.fail(session, ctx, payment_id, code=truth.result_code,
                                reason="expired unpaid", expired=True)
            outcome = "expired"
        await session.execute(update(Payment).where(Payment.id == payment_id).values(**values))
        return outcome


def business_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants a business day (Asia/Ho_Chi_Minh) starts and ends."""
    start = datetime.combine(day, time(0), tzinfo=BUSINESS_TZ)
    return start, start + timedelta(days=1)


async def run_statement(sessions: async_sessionmaker[AsyncSession], ctx: PaymentsContext,
                        day: date, *, rerun: bool = False) -> ReconciliationRun:
    """Reconcile the gateway's statement of ``day`` (claimed so one replica runs it).

    A STATEMENT the gateway's guard refused (nothing sent) gives the claim back as it was:
    the day's run is removed if this call created it, else restored.
    """
    run, before = await _claim_run(sessions, ctx, day, rerun=rerun)
    if run.status == COMPLETED and not rerun:
        return run
    try:
        entries = await ctx.gateway.statement(day)
        return await _write_report(sessions, ctx, run, day, entries)
    except GatewayShed:
        async with sessions() as session, session.begin():
            mine = and_(ReconciliationRun.id == run.id,
                        ReconciliationRun.attempts == run.attempts)
            if before is None:
                await session.execute(delete(ReconciliationRun).where(mine))
            else:
                await session.execute(update(ReconciliationRun).where(mine).values(**before))
        raise
    except Exception as exc:
        async with sessions() as session, session.begin():
            await session.execute(update(ReconciliationRun).where(
                ReconciliationRun.id == run.id, ReconciliationRun.attempts == run.attempts,
            ).values(status=FAILED, error=f"{type(exc).__name__}: {exc}"[:1000],
                     lease_until=None))
        log().warning("statement_reconciliation_failed", day=day.isoformat(), error=str(exc))
        raise


async def _claim_run(sessions: async_sessionmaker[AsyncSession], ctx: PaymentsContext,
                     day: date, *, rerun: bool,
                     ) -> tuple[ReconciliationRun, dict[str, Any] | None]:
    """The day's run, claimed for this call (or completed), and what the claim changed
    (None: it created the row)."""
    partner, key, now = ctx.gateway.partner_code, day.strftime("%Y%m%d"), utcnow()
    async with sessions() as session:
        done = await session.scalar(select(ReconciliationRun).where(
            ReconciliationRun.partner_code == partner, ReconciliationRun.statement_date == key,
            ReconciliationRun.status == COMPLETED))
    if done is not None and not rerun:
        return done, None  # the usual case for the loop: checked without a failing INSERT
    try:
        async with sessions() as session, session.begin():
            run = ReconciliationRun(
                id=new_id(), partner_code=partner, statement_date=key, status=RUNNING,
                lease_until=now + _RUN_LEASE, attempts=1, started_at=now, matched=0,
                missing_ours=0, missing_theirs=0, mismatched=0)
            session.add(run)
        return run, None
    except IntegrityError:
        pass  # the day's run exists: completed, running elsewhere, or to take over
    async with sessions() as session, session.begin():
        run = await session.scalar(select(ReconciliationRun).where(
            ReconciliationRun.partner_code == partner,
            ReconciliationRun.statement_date == key))
        assert run is not None
        if run.status == COMPLETED and not rerun:
            return run, None
        before = {"status": run.status, "lease_until": run.lease_until,
                  "attempts": run.attempts, "started_at": run.started_at, "error": run.error}
        taken = await session.execute(update(ReconciliationRun).where(
            ReconciliationRun.id == run.id, ReconciliationRun.attempts == run.attempts,
            or_(ReconciliationRun.status != RUNNING,
                and_(ReconciliationRun.status == RUNNING, ReconciliationRun.lease_until < now)),
        ).values(status=RUNNING, lease_until=now + _RUN_LEASE, attempts=run.attempts + 1,
                 started_at=now, error=None))
        if taken.rowcount != 1:
            raise ReconciliationInProgress(f"{key} is being reconciled")
        run.attempts += 1
        run.status = RUNNING
        return run, before


async def _write_report(sessions: async_sessionmaker[AsyncSession], ctx: PaymentsContext,
                        run: ReconciliationRun, day: date,
                        entries: list[StatementEntry]) -> ReconciliationRun:
    start, end = business_day_bounds(day)
    async with sessions() as session, session.begin():
        ours = {p.reference: p for p in (await session.scalars(select(Payment).where(
            Payment.method == "gateway", Payment.status == SETTLED,
            Payment.paid_at >= start, Payment.paid_at < end))).all()}
        theirs: dict[str, StatementEntry] = {}
        items: list[ReconciliationItem] = []

        def item(category: str, reference: str, payment: Payment | None,
                 entry: StatementEntry | None, detail: str | None = None) -> None:
            items.append(ReconciliationItem(
                id=new_id(), run_id=run.id, category=category, reference=reference,
                payment_id=payment.id if payment else None,
                our_transaction_id=payment.gateway_transaction_id if payment else None,
                their_transaction_id=entry.transaction_id if entry else None,
                our_amount_vnd=payment.amount_vnd if payment else None,
                their_amount_vnd=entry.amount_vnd if entry else None, detail=detail))

        for entry in entries:
            if entry.reference in theirs:
                item(MISMATCHED, entry.reference, ours.get(entry.reference), entry,
                     "reference appears twice in the statement")
                continue
            theirs[entry.reference] = entry
        for reference, entry in theirs.items():
            payment = ours.get(reference)
            if payment is None:
                # Settled by us with a time on another day? Look it up by reference alone.
                payment = await session.scalar(select(Payment).where(
                    Payment.reference == reference))
                if payment is None or payment.status != SETTLED:
                    state = "unknown reference" if payment is None else f"ours is {payment.status}"
                    item(MISSING_OURS, reference, payment, entry, state)
                    continue
            problems = []
            if payment.gateway_transaction_id != entry.transaction_id:
                problems.append("transaction id differs")
            if payment.amount_vnd != entry.amount_vnd:
                problems.append("amount differs")
            item(MISMATCHED if problems else MATCHED, reference, payment, entry,
                 "; ".join(problems) or None)
        for reference, payment in ours.items():
            if reference not in theirs:
                item(MISSING_THEIRS, reference, payment, None, "settled by us, not in statement")
        counts = {c: sum(1 for i in items if i.category == c)
                  for c in (MATCHED, MISSING_OURS, MISSING_THEIRS, MISMATCHED)}
        mine = await session.execute(update(ReconciliationRun).where(
            ReconciliationRun.id == run.id, ReconciliationRun.attempts == run.attempts,
            ReconciliationRun.status == RUNNING,
        ).values(status=COMPLETED, finished_at=utcnow(), lease_until=None, error=None,
                 **counts))
        if mine.rowcount != 1:
            raise ReconciliationInProgress("another worker took this run over")
        await session.execute(delete(ReconciliationItem).where(
            ReconciliationItem.run_id == run.id))
        session.add_all(items)
        outbox.record(session, ReconciliationCompletedV1(
            run_id=run.id, partner_code=run.partner_code, statement_date=run.statement_date,
            occurred_at=utcnow(), **counts), province=ctx.province,
            key=f"{run.partner_code}-{run.statement_date}")
    async with sessions() as session:
        done = await session.get(ReconciliationRun, run.id)
    assert done is not None
    return done


async def get_run(session: AsyncSession, ctx: PaymentsContext,
                  day: date) -> tuple[ReconciliationRun, list[ReconciliationItem]]:
    """A day's run and its findings, or ReconciliationNotFound."""
    run = await session.scalar(select(ReconciliationRun).where(
        ReconciliationRun.partner_code == ctx.gateway.partner_code,
        ReconciliationRun.statement_date == day.strftime("%Y%m%d")))
    if run is None:
        raise ReconciliationNotFound(f"{day.isoformat()} has not been reconciled")
    items = (await session.scalars(select(ReconciliationItem).where(
        ReconciliationItem.run_id == run.id).order_by(ReconciliationItem.category,
                                                      ReconciliationItem.reference))).all()
    return run, list(items)


def due_statement_day(ctx: PaymentsContext, now: datetime) -> date | None:
    """Yesterday (business time) once today's reconciliation hour has passed."""
    local = now.astimezone(BUSINESS_TZ)
    hour, minute = (int(x) for x in ctx.settings.daily_reconcile_at.split(":"))
    if local.time() < time(hour, minute):
        return None
    return local.date() - timedelta(days=1)
