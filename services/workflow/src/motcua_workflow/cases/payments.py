"""Status 6 (yêu cầu thực hiện nghĩa vụ tài chính): wait for the fee where the procedure says so.

Payments publishes ``assessment.assessed`` (:class:`FeeAssessedV1`) for every received
dossier and ``assessment.settled`` (:class:`AssessmentSettledV1`) once everything payable
is paid (docs/payments.md). When the assessment says ``pay_before_processing``, the case
goes to status 6 and its deadline clock stops (ledger ``pause``, reason
``awaiting_payment``); the settlement restarts the clock (``resume``) and puts the case
back at the status it had (2 or 4). Waived and pay-after assessments change nothing.

Both events may come before reception, twice, or in either order: what payments said is
kept in :class:`PaymentHold` and applied whenever the case can take it (at the event, at
reception, or when a supplement pause ends). A settlement already known means the case
never waits.

An assessment that arrives while the clock is already stopped for a supplement (status
5) waits for the supplement: the applicant's time is counted once, not twice
(domain.md §2, §5 — both are the applicant's time). When the supplement arrives and the
fee is still unpaid, the ledger resumes the supplement pause and pauses for payment at
the same instant (:func:`hold_after_supplement`), and the case goes 5 → 6. A settlement
that arrives during the supplement pause is remembered, and the supplement then takes
the case back to 4 as usual; one dated during the pause but delivered after the
supplement resumes at the pause's start, adding back no time.

**Concurrency.** ``workflow-payments`` and ``workflow-intake`` apply their events in
separate transactions (a whole fetched batch each), so an assessment may be applied while
another transaction has the case opened or received but not committed. On PostgreSQL
(read committed) neither would see the other's uncommitted rows, and a plain locking
read of a row that does not exist yet waits for nobody. So both sides meet on the hold
row, keyed by dossier code: reception (:func:`at_reception`) and payments' events
(:func:`assessed`, :func:`settled`) each insert it if missing (``ON CONFLICT DO
NOTHING``, which waits for a concurrent uncommitted insert of the same key) and then lock
it. Whichever takes the row second waits for the first to commit, then reads the row and
the case afresh: a reception sees the assessment, an assessment sees the received case
(it looks for the case again once it holds the row). Locks are taken case first, then
hold row, as everywhere else; only an assessment that found no case takes the case after
the row, and a deadlock there (a rare three-transaction interleaving) fails one message:
the consumer re-runs its batch with a savepoint per message and retries that one. SQLite
serialises writers (``BEGIN IMMEDIATE``): the second transaction runs after the first,
and sees all of it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.contracts.payments import AssessmentSettledV1, FeeAssessedV1
from motcua.db import dialect_insert
from motcua.events import Envelope
from motcua.logging import get_logger
from motcua_workflow.actors import SYSTEM
from motcua_workflow.cases import core
from motcua_workflow.cases.models import (
    PAYMENT,
    PROCESSING,
    RECEIVED,
    SUPPLEMENT,
    Case,
    PaymentHold,
)
from motcua_workflow.context import Workflow

log = get_logger("motcua_workflow.cases.payments")

#: Ledger reason of the pause (and of the resume's action in the process log).
AWAITING_PAYMENT = "awaiting_payment"
#: Statuses from which a case may be put on hold for payment.
_HOLDABLE = frozenset({RECEIVED, PROCESSING})


async def _hold(session: AsyncSession, dossier_code: str) -> PaymentHold:
    """The dossier's hold row, locked until the transaction ends; created empty first if
    payments said nothing yet.

    The row is where the two consumers meet (see "Concurrency" above): the insert waits
    for another transaction's uncommitted insert of the same row, and the locking read
    that follows (a fresh snapshot) returns the row as last committed.
    """
    insert = dialect_insert(session)
    await session.execute(insert(PaymentHold).values(dossier_code=dossier_code)
                          .on_conflict_do_nothing(index_elements=["dossier_code"]))
    hold = await session.scalar(select(PaymentHold)
                                .where(PaymentHold.dossier_code == dossier_code)
                                .with_for_update()
                                .execution_options(populate_existing=True))
    if hold is None:  # pragma: no cover - inserted above, or committed by another; never deleted
        raise RuntimeError(f"payment hold of {dossier_code} vanished")
    return hold


async def _case_and_hold(session: AsyncSession, dossier_code: str,
                         ) -> tuple[Case | None, PaymentHold]:
    """For payments' events: the dossier's case (if any) and hold row, both locked.

    The case first, as every other path locks them. If there is no case yet, look again
    once the hold row is ours: a reception that held the row before us has committed by
    then, and its case is visible to this new read.
    """
    case = await core.find(session, dossier_code, lock=True)
    hold = await _hold(session, dossier_code)
    if case is None:
        case = await core.find(session, dossier_code, lock=True)
    return case, hold


async def assessed(session: AsyncSession, wf: Workflow, event: Envelope,
                   data: FeeAssessedV1) -> PaymentHold:
    """Remember the assessment; put the case on hold (status 6) if it must be paid first."""
    case, hold = await _case_and_hold(session, data.dossier_code)
    seq = event.sequence
    if hold.assessed_seq is not None and seq is not None and seq <= hold.assessed_seq:
        log.info("assessment_ignored", dossier_code=data.dossier_code, sequence=seq,
                 applied=hold.assessed_seq)
        return hold
    hold.assessment_id, hold.assessed_seq = data.assessment_id, seq
    hold.pay_before = data.pay_before_processing
    if case is not None:
        await apply(session, wf, case, hold)
    return hold


async def settled(session: AsyncSession, wf: Workflow, event: Envelope,
                  data: AssessmentSettledV1) -> PaymentHold:
    """Remember the settlement; a case waiting in status 6 goes on."""
    case, hold = await _case_and_hold(session, data.dossier_code)
    if hold.settled_at is not None:
        log.info("settlement_ignored", dossier_code=data.dossier_code)
        return hold
    hold.settled_at = min(data.occurred_at, wf.clock.now())
    if hold.assessment_id is None:
        hold.assessment_id = data.assessment_id
    if case is not None:
        await apply(session, wf, case, hold)
    return hold


async def at_reception(session: AsyncSession, wf: Workflow, case: Case) -> None:
    """Apply what payments already said about the dossier (called once it is received,
    with the case locked or just inserted).

    Always takes the hold row, inserting it empty if payments said nothing yet, so that an
    assessment being applied concurrently either committed before (and is seen here) or
    waits for this transaction (and then sees the received case).
    """
    await apply(session, wf, case, await _hold(session, case.dossier_code))


async def apply(session: AsyncSession, wf: Workflow, case: Case, hold: PaymentHold) -> None:
    """Bring the case in line with the hold: pause at status 6, or resume after payment."""
    if case.parent_case_id is not None or case.received_at is None or case.is_closed:
        return
    now = wf.clock.now()
    if hold.paused_at is None:
        if not hold.pay_before or hold.settled_at is not None:
            return
        if case.status == SUPPLEMENT:
            # The clock is already stopped: the payment pause starts when the supplement
            # arrives, if the fee is still unpaid then (hold_after_supplement).
            log.info("payment_hold_deferred", dossier_code=case.dossier_code)
            return
        if case.status not in _HOLDABLE or case.is_paused:
            # Finished already: nothing to stop.
            log.warning("payment_hold_skipped", dossier_code=case.dossier_code,
                        status=case.status)
            return
        at = max(now, case.received_at)
        hold.paused_at, hold.status_before = at, case.status
        await core.add_ledger_entry(session, wf, case, kind="pause", at=at,
                                    reason=AWAITING_PAYMENT, ref=hold.assessment_id)
        core.change_status(session, wf, case, PAYMENT, at=now, actor=SYSTEM,
                           action=AWAITING_PAYMENT,
                           detail={"assessment_id": hold.assessment_id})
    elif hold.resumed_at is None and hold.settled_at is not None:
        if case.status != PAYMENT:
            return
        at = max(hold.settled_at, hold.paused_at)
        hold.resumed_at = at
        await core.add_ledger_entry(session, wf, case, kind="resume", at=at,
                                    reason="payment_settled", ref=hold.assessment_id)
        core.change_status(session, wf, case, hold.status_before or RECEIVED, at=now,
                           actor=SYSTEM, action="payment_settled",
                           detail={"assessment_id": hold.assessment_id, "settled_at": at})
    else:
        return
    await core.reschedule(session, wf, case)
    await session.flush()


async def hold_after_supplement(session: AsyncSession, wf: Workflow, case: Case, *,
                                at: datetime) -> PaymentHold | None:
    """When a supplement pause ends at ``at``: pause for payment from that instant if a
    pay-first fee is assessed and unsettled. Return the hold when paused.

    The caller has just resumed the supplement pause at ``at`` and changes the status to
    6 instead of 4.
    """
    if case.parent_case_id is not None:
        return None
    hold = await session.scalar(select(PaymentHold)
                                .where(PaymentHold.dossier_code == case.dossier_code)
                                .with_for_update()
                                .execution_options(populate_existing=True))
    if hold is None or not hold.pay_before or hold.settled_at is not None \
            or hold.paused_at is not None:
        return None
    hold.paused_at, hold.status_before = at, PROCESSING
    await core.add_ledger_entry(session, wf, case, kind="pause", at=at,
                                reason=AWAITING_PAYMENT, ref=hold.assessment_id)
    return hold
