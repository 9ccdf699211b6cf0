"""The fee assessment and the reception applied by two consumers at the same time.

``workflow-payments`` (``assessment.assessed``) and ``workflow-intake`` (the case opened
and received, in one batch transaction as the consumer runner applies it) run in two
real transactions here, one held open at the critical point while the other runs into
it. Whatever the order, the case must end up waiting for the fee in status 6 with the
clock paused from reception. On PostgreSQL (read committed) the second transaction must
wait for the first and see what it committed; SQLite serialises writers (``BEGIN
IMMEDIATE``), so the second simply runs after the first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua.contracts.intake import DossierReceivedV1, DossierSubmittedV1, StatutoryTime
from motcua.contracts.payments import FeeAssessedV1
from motcua.db import create_engine, outbox_table, session_factory
from motcua.events import Envelope, EventData
from motcua.testing import Mesh, wait_for
from motcua_workflow.cases.models import Case, DeadlineEntry, PaymentHold
from motcua_workflow.consumers import handlers
from motcua_workflow.context import Workflow
from tests.motcua_workflow.helpers import ManualClock, agency, at

RECEIVED_AT = at(2026, 3, 2, 8)

Step = Callable[[AsyncSession], Awaitable[None]]


class _Events:
    """Intake's and payments' events about one dossier, applied by workflow's handlers."""

    def __init__(self, mesh: Mesh, wf: Workflow) -> None:
        self.province = mesh.province
        self.agency = agency(mesh)
        self.code = f"{self.agency}-260302-9001"
        self.handlers = handlers(wf)

    async def _apply(self, session: AsyncSession, consumer: str, data: EventData) -> None:
        # As the consumer runner does: one savepoint per message in the batch transaction.
        envelope = Envelope.wrap(data, province=self.province, key=self.code, sequence=1)
        async with session.begin_nested():
            await self.handlers[consumer][envelope.type](envelope, data, session)

    async def submitted(self, session: AsyncSession) -> None:
        await self._apply(session, "workflow-intake", DossierSubmittedV1(
            dossier_code=self.code, agency_code=self.agency, procedure_code="1.004884",
            status=1, occurred_at=RECEIVED_AT, channel="direct",
            applicant_kind="individual"))

    async def received(self, session: AsyncSession) -> None:
        await self._apply(session, "workflow-intake", DossierReceivedV1(
            dossier_code=self.code, agency_code=self.agency, procedure_code="1.004884",
            status=2, occurred_at=RECEIVED_AT, channel="direct", received_at=RECEIVED_AT,
            due_at=RECEIVED_AT + timedelta(days=7),
            statutory_time=StatutoryTime(amount=5, unit="working_days"),
            received_by="desk-1"))

    async def opened_and_received(self, session: AsyncSession) -> None:
        await self.submitted(session)
        await self.received(session)

    async def assessed(self, session: AsyncSession) -> None:
        await self._apply(session, "workflow-payments", FeeAssessedV1(
            assessment_id=f"as-{self.code}", dossier_code=self.code, agency_code=self.agency,
            occurred_at=RECEIVED_AT, procedure_code="1.004884", total_vnd=50_000,
            exempted_vnd=0, payable_vnd=50_000, collect="before",
            pay_before_processing=True))


async def _waiting_on_a_lock(sessions: async_sessionmaker[AsyncSession], pid: int) -> bool:
    async with sessions() as probe:
        kind = await probe.scalar(text(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
    return kind == "Lock"


async def _interleave(sessions: async_sessionmaker[AsyncSession], postgres: bool,
                      first: Step, second: Step) -> None:
    """Run ``first`` in a transaction left open, then ``second`` in another one; commit the
    first only once the second has finished (uncommitted) or waits on a lock."""
    async with sessions() as one:
        await one.begin()
        await first(one)
        pid: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        finished = asyncio.Event()

        async def other() -> None:
            async with sessions() as two, two.begin():
                if postgres:
                    pid.set_result(int(await two.scalar(text("SELECT pg_backend_pid()"))))
                await second(two)
                finished.set()
                if postgres:
                    # Stay open until the first commits: the worst case for a reader.
                    await committed.wait()

        committed = asyncio.Event()
        task = asyncio.create_task(other())
        try:
            if postgres:
                await asyncio.wait({pid, task}, return_when=asyncio.FIRST_COMPLETED)
                if not pid.done():
                    await task  # failed before it began: raise its error
                backend = pid.result()
                await wait_for(lambda: finished.is_set() or task.done()
                               or _waiting_on_a_lock(sessions, backend),
                               what="the second transaction to finish or wait on a lock")
            # On SQLite the second transaction cannot even begin before this commit.
            await one.commit()
            committed.set()
            await task
        finally:
            committed.set()
            if not task.done():
                task.cancel()


@pytest.mark.parametrize("opened", ["in_the_batch", "before"])
@pytest.mark.parametrize("order", ["assessed_during_reception", "reception_during_assessment"])
async def test_concurrent_assessment_and_reception_wait_for_payment(
        mesh: Mesh, backend: str, order: str, opened: str) -> None:
    url = await mesh.prepare("workflow")
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        clock = ManualClock(RECEIVED_AT)
        wf = Workflow.build(mesh.settings("workflow"), clock=clock)
        events = _Events(mesh, wf)
        reception: Step = events.opened_and_received
        if opened == "before":
            # dossier.submitted applied in an earlier batch: the case row is committed.
            async with sessions() as session, session.begin():
                await events.submitted(session)
            reception = events.received
        if order == "assessed_during_reception":
            await _interleave(sessions, backend == "postgresql", reception, events.assessed)
        else:
            await _interleave(sessions, backend == "postgresql", events.assessed, reception)

        async with sessions() as session:
            case = await session.scalar(select(Case).where(Case.dossier_code == events.code))
            assert case is not None
            ledger = (await session.scalars(select(DeadlineEntry)
                                            .where(DeadlineEntry.case_id == case.id)
                                            .order_by(DeadlineEntry.seq))).all()
            hold = await session.get(PaymentHold, events.code)
            statuses = [r.payload for r in (await session.execute(
                select(outbox_table.c.payload)
                .where(outbox_table.c.aggregate_key == events.code)
                .order_by(outbox_table.c.seq))).all()]
        assert case.status == 6
        assert case.due_at is None and case.paused_since == RECEIVED_AT
        assert [(e.kind, e.at, e.reason, e.ref) for e in ledger] == [
            ("start", RECEIVED_AT, "received", None),
            ("pause", RECEIVED_AT, "awaiting_payment", f"as-{events.code}")]
        assert hold is not None and hold.paused_at == RECEIVED_AT and hold.status_before == 2
        changes = [Envelope.from_bytes(p) for p in statuses]
        assert [e.data["status"] for e in changes
                if e.type.endswith("status_changed.v1")] == [1, 2, 6]
    finally:
        await engine.dispose()
