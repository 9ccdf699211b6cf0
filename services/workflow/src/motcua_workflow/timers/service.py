"""Durable timers: what happens when a case's next check comes due.

The timer state lives on the case row (``next_check_at`` and the alerts already sent),
so a check is claimed by locking the case row: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL
lets several replicas share the work without two of them checking the same case, and an
officer's action on the same case (which locks it too) simply waits or is skipped over.
SQLite serves one process per file and serialises writers (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.contracts.workflow import (
    CaseAcknowledgementOverdueV1,
    CaseDueSoonV1,
    CaseOverdueV1,
)
from motcua.logging import get_logger
from motcua_workflow.actors import SYSTEM
from motcua_workflow.cases import core, deadlines
from motcua_workflow.cases.models import Case
from motcua_workflow.context import Workflow

log = get_logger("motcua_workflow.timers")


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> list[Case]:
    """Lock up to ``limit`` cases whose next check is due (skipping ones locked elsewhere)."""
    query = (select(Case).where(Case.next_check_at <= now)
             .order_by(Case.next_check_at).limit(limit))
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list((await session.scalars(query)).all())


async def run_due(session: AsyncSession, wf: Workflow, *, now: datetime, limit: int) -> int:
    """Check every claimed case once; return how many were checked."""
    cases = await claim_due(session, now, limit)
    for case in cases:
        await check(session, wf, case, now)
    await session.flush()
    return len(cases)


async def check(session: AsyncSession, wf: Workflow, case: Case, now: datetime) -> None:
    """Fire whatever is due for one case, then compute its next check."""
    leg = await core.pending_leg(session, case)
    if leg is not None and leg.ack_alerted_at is None and now >= leg.acknowledge_by \
            and not case.is_closed:
        leg.ack_alerted_at = now
        core.record_change(session, case, at=now, actor=SYSTEM, action="acknowledgement_overdue",
                           detail={"leg": leg.leg, "to_agency_code": leg.to_agency_code,
                                   "acknowledge_by": leg.acknowledge_by})
        core.emit(session, wf, case, CaseAcknowledgementOverdueV1, at=now, leg=leg.leg,
                  to_agency_code=leg.to_agency_code, acknowledge_by=leg.acknowledge_by)
        log.warning("acknowledgement_overdue", dossier_code=case.dossier_code, leg=leg.leg)
    if case.parent_case_id is None and not case.has_ended and case.due_at is not None:
        due = case.due_at
        soon_at = core.calendar(wf, case).rewind(due, wf.due_soon_lead)
        if case.due_soon_sent_at is None and now >= soon_at and now < due:
            late = await deadlines.predict_late(session, wf, case, now)
            case.due_soon_sent_at = now
            core.record_change(session, case, at=now, actor=SYSTEM, action="due_soon",
                               detail={"due_at": due, "predicted_late": late})
            core.emit(session, wf, case, CaseDueSoonV1, at=now, due_at=due,
                      predicted_late=late)
            if late and not case.extended \
                    and await deadlines.apology_of(session, case) is None:
                await deadlines.draft_apology(
                    session, wf, case, actor=SYSTEM, now=now, proposed_due_at=None,
                    reason="Dự kiến không kịp trả kết quả đúng hẹn (predicted late)")
        if case.overdue_sent_at is None and now >= due:
            case.due_soon_sent_at = case.due_soon_sent_at or now
            case.overdue_sent_at = now
            core.record_change(session, case, at=now, actor=SYSTEM, action="overdue",
                               detail={"due_at": due})
            core.emit(session, wf, case, CaseOverdueV1, at=now, due_at=due)
            log.warning("case_overdue", dossier_code=case.dossier_code)
            if not case.extended and await deadlines.apology_of(session, case) is None:
                # Missed the prediction (or the service was down): the slip is still owed.
                await deadlines.draft_apology(
                    session, wf, case, actor=SYSTEM, now=now, proposed_due_at=None,
                    reason="Quá hạn trả kết quả (overdue)")
    await core.reschedule(session, wf, case)
