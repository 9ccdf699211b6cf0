"""Building blocks of every case change: loading and locking, the definition a case is
bound to, status changes with their log entry and events, the ledger, tasks and timers.

Every change follows the same order inside the caller's transaction: mutate the case
(its version grows), append to the process log (its head moves), record the events with
that head and version (outbox), recompute when the timers must next look at the case.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua import outbox
from motcua.calendar import Calendar
from motcua.contracts.workflow import (
    CaseAcknowledgementOverdueV1,
    CaseStatusChangedV1,
    CaseTransferAcknowledgedV1,
    CaseTransferredV1,
)
from motcua.events import EventData
from motcua.ids import new_id
from motcua_workflow.actors import Actor
from motcua_workflow.cases import ledger
from motcua_workflow.cases.errors import CaseNotFound
from motcua_workflow.cases.models import Case, DeadlineEntry, TransferLeg
from motcua_workflow.context import Workflow
from motcua_workflow.definitions import service as definitions
from motcua_workflow.definitions.models import ProcessDefinition
from motcua_workflow.definitions.schemas import DefinitionSpec, StepSpec
from motcua_workflow.processlog import service as processlog
from motcua_workflow.tasks.models import Task

#: Events a bundle member publishes; its status and results travel on the bundle's case.
_MEMBER_EVENTS = (CaseTransferredV1, CaseTransferAcknowledgedV1, CaseAcknowledgementOverdueV1)
_specs: dict[str, DefinitionSpec] = {}
# Built once: every event and action looks a case up by its dossier code.
_BY_CODE = select(Case).where(Case.dossier_code == bindparam("dossier_code"))
_LOCKED_BY_CODE = _BY_CODE.with_for_update().execution_options(populate_existing=True)


# Loading


async def find(session: AsyncSession, dossier_code: str, *, lock: bool = False) -> Case | None:
    """The case of a dossier (row-locked on PostgreSQL when ``lock``).

    A locked read refreshes a case already loaded in the session: the lock may have
    waited for another transaction's change, and acting on the version read before
    it would log and publish on a stale head.
    """
    return await session.scalar(_LOCKED_BY_CODE if lock else _BY_CODE,
                                {"dossier_code": dossier_code})


async def find_many(session: AsyncSession, dossier_codes: list[str], *,
                    lock: bool = False) -> dict[str, Case]:
    """The cases of these dossiers that exist, by dossier code (row-locked on PostgreSQL
    when ``lock``, in code order so that overlapping sets do not deadlock, and refreshed
    like :func:`find`'s)."""
    stmt = select(Case).where(Case.dossier_code.in_(dossier_codes)).order_by(Case.dossier_code)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return {case.dossier_code: case for case in await session.scalars(stmt)}


async def get(session: AsyncSession, dossier_code: str, *, lock: bool = False) -> Case:
    """The case of a dossier, or CaseNotFound."""
    case = await find(session, dossier_code, lock=lock)
    if case is None:
        raise CaseNotFound(f"no case for dossier {dossier_code}")
    return case


async def lock_for_change(session: AsyncSession, dossier_code: str) -> Case:
    """Lock the case for a change, its bundle's case first when it is a member.

    Always bundle before member: a member finishing locks its bundle, and a bundle
    closing locks its members, so one order keeps them from deadlocking.
    """
    case = await find(session, dossier_code)
    if case is None:
        raise CaseNotFound(f"no case for dossier {dossier_code}")
    if case.parent_case_id is not None:
        await session.execute(select(Case.id).where(Case.id == case.parent_case_id)
                              .with_for_update())
    return await get(session, dossier_code, lock=True)


async def members(session: AsyncSession, case: Case, *, lock: bool = False) -> list[Case]:
    """The member cases of a bundle, by code."""
    query = select(Case).where(Case.parent_case_id == case.id).order_by(Case.dossier_code)
    if lock:
        query = query.with_for_update()
    return list((await session.scalars(query)).all())


async def spec(session: AsyncSession, case: Case) -> DefinitionSpec:
    """The process definition version the case is bound to."""
    if case.definition_id is None:
        raise AssertionError("every case is bound to a definition when it opens")
    cached = _specs.get(case.definition_id)
    if cached is None:
        row = await session.get(ProcessDefinition, case.definition_id)
        assert row is not None
        cached = _specs[case.definition_id] = definitions.spec_of(row)
    return cached


async def bind_definition(session: AsyncSession, case: Case, *, now: datetime) -> DefinitionSpec:
    """Bind a new case to its procedure's current definition, for the case's whole life."""
    row = await definitions.resolve(session, case.procedure_code, now=now)
    case.definition_id, case.definition_version = row.id, row.version
    return await spec(session, case)


def calendar(wf: Workflow, case: Case) -> Calendar:
    """The calendar the case's statutory time runs on: the receiving agency's."""
    return wf.calendars.for_agency(case.agency_code)


def statutory_hours(case: Case) -> float | None:
    """The statutory time in working hours (calendar days: at most 8 a day)."""
    if case.statutory_amount is None or case.statutory_unit is None:
        return None
    factor = 1 if case.statutory_unit == "working_hours" else 8
    return float(case.statutory_amount * factor)


# Log and events


def emit(session: AsyncSession, wf: Workflow, case: Case, event: type[EventData], *,
         at: datetime, **fields: Any) -> None:
    """Record an event about the case (bundle members publish only transfer events).

    Every event carries the applicant's owner reference, so identity-bridge can file a
    result in the citizen's data store without the ID number.
    """
    row = event_row(session, wf, case, event, at=at, **fields)
    if row is not None:
        session.add(row)


def event_row(session: AsyncSession, wf: Workflow, case: Case, event: type[EventData], *,
              at: datetime, **fields: Any) -> outbox.OutboxRow | None:
    """The outbox row :func:`emit` adds (None for what a member does not publish), for a
    caller that writes it itself with ``insert_new`` in this transaction."""
    if case.parent_case_id is not None and event not in _MEMBER_EVENTS:
        return None
    data = event(case_id=case.id, dossier_code=case.dossier_code, agency_code=case.agency_code,
                 occurred_at=at, process_log_hash=case.log_head, owner_ref=case.owner_ref,
                 **fields)
    return outbox.new_row(session, data, province=wf.province, key=case.dossier_code,
                          sequence=case.version)


def change_status(session: AsyncSession, wf: Workflow, case: Case, status: int, *,
                  at: datetime, actor: Actor, action: str, reason: str | None = None,
                  detail: dict[str, Any] | None = None) -> None:
    """Move to a national status: version, log entry, CaseStatusChangedV1."""
    previous = case.change_status(status)
    processlog.append(session, case, at=at, action=action, actor=actor,
                      status_before=previous, status_after=status,
                      detail={**(detail or {}), **({"reason": reason} if reason else {})})
    emit(session, wf, case, CaseStatusChangedV1, at=at, status=status,
         previous_status=previous, due_at=case.due_at, reason=reason)


def record_change(session: AsyncSession, case: Case, *, at: datetime, actor: Actor,
                  action: str, detail: dict[str, Any] | None = None) -> None:
    """A change that keeps the status (hand-over, transfer, alert): version and log entry."""
    case.touch()
    processlog.append(session, case, at=at, action=action, actor=actor,
                      status_before=case.status, status_after=case.status, detail=detail)


# Ledger


async def ledger_rows(session: AsyncSession, case: Case) -> list[DeadlineEntry]:
    """The case's ledger entries in order."""
    return list((await session.scalars(select(DeadlineEntry)
                                       .where(DeadlineEntry.case_id == case.id)
                                       .order_by(DeadlineEntry.seq))).all())


def as_entry(row: DeadlineEntry) -> ledger.Entry:
    """A stored ledger row as the pure ledger's entry."""
    return ledger.Entry(row.kind, row.at, row.amount, row.unit, row.cutoff,  # type: ignore[arg-type]
                        row.new_due_at, row.reason)


async def add_ledger_entry(session: AsyncSession, wf: Workflow, case: Case, *, kind: str,
                           at: datetime, actor: Actor | None = None, **values: Any,
                           ) -> ledger.Ledger:
    """Append to the ledger and re-derive the case's due dates from all of it."""
    rows = await ledger_rows(session, case)
    row = DeadlineEntry(id=new_id(), case_id=case.id, seq=len(rows) + 1, kind=kind, at=at,
                        actor_id=actor.id if actor else None, **values)
    session.add(row)
    state = ledger.derive([as_entry(r) for r in [*rows, row]], calendar(wf, case))
    case.due_at, case.statutory_due_at = state.due_at, state.statutory_due_at
    case.paused_since, case.extended = state.paused_since, state.extended
    for member in await members(session, case):
        member.due_at, member.statutory_due_at = state.due_at, state.statutory_due_at
    return state


async def derived(session: AsyncSession, wf: Workflow, case: Case) -> ledger.Ledger:
    """The ledger of the case as it stands."""
    return ledger.derive([as_entry(r) for r in await ledger_rows(session, case)],
                         calendar(wf, case))


# Tasks


async def open_tasks(session: AsyncSession, case: Case) -> list[Task]:
    """The case's open tasks."""
    return list((await session.scalars(select(Task).where(
        Task.case_id == case.id, Task.state == "open").order_by(Task.created_at))).all())


async def close_tasks(session: AsyncSession, case: Case, *, at: datetime, by: str | None,
                      outcome: str) -> None:
    """Finish (when someone acted) or cancel every open task of the case."""
    for task in await open_tasks(session, case):
        if by is None:
            task.cancel(outcome=outcome, at=at)
        else:
            task.finish(by=by, outcome=outcome, at=at)


def open_task(session: AsyncSession, wf: Workflow, case: Case, *, kind: str, at: datetime,
              agency_code: str, role: str | None, budget: timedelta | None,
              due_at: datetime | None = None) -> Task:
    """A new open task; its due date is its budget in the agency's working time."""
    cal = wf.calendars.for_agency(agency_code)
    if due_at is None and budget:
        due_at = cal.shift(at, budget)
    due_soon_at = None
    if due_at is not None:
        lead = max(timedelta(hours=1), (budget or timedelta()) / 4)
        due_soon_at = max(at, cal.rewind(due_at, lead))
    task = Task(id=new_id(), case_id=case.id, dossier_code=case.dossier_code, kind=kind,
                step_key=case.current_step, agency_code=agency_code, role=role,
                state="open", created_at=at, due_at=due_at, due_soon_at=due_soon_at)
    session.add(task)
    return task


def step_budget(case: Case, step: StepSpec) -> timedelta | None:
    """A step's budget for this case (percentages of the case's statutory time)."""
    minutes = step.budget_minutes(statutory_hours(case))
    return timedelta(minutes=minutes) if minutes else None


async def open_step_task(session: AsyncSession, wf: Workflow, case: Case, *,
                         at: datetime) -> Task:
    """The task of the case's current step, at the agency holding the case."""
    step = (await spec(session, case)).step(case.current_step)
    assert step is not None and case.current_agency_code is not None
    case.step_entered_at = at
    return open_task(session, wf, case, kind="step", at=at, agency_code=case.current_agency_code,
                     role=step.role, budget=step_budget(case, step))


# Transfers


async def pending_leg(session: AsyncSession, case: Case) -> TransferLeg | None:
    """The transfer leg waiting for the receiving agency's acknowledgement, if any."""
    return await session.scalar(select(TransferLeg).where(
        TransferLeg.case_id == case.id, TransferLeg.acknowledged_at.is_(None))
        .order_by(TransferLeg.leg.desc()).limit(1))


async def leg_count(session: AsyncSession, case: Case) -> int:
    """How many transfer legs the case has had."""
    return int(await session.scalar(select(func.count()).select_from(TransferLeg)
                                    .where(TransferLeg.case_id == case.id)) or 0)


# Timers


async def reschedule(session: AsyncSession, wf: Workflow, case: Case) -> None:
    """When the durable timers must next look at the case (None: nothing pending)."""
    points: list[datetime] = []
    leg = await pending_leg(session, case)
    if leg is not None and leg.ack_alerted_at is None and not case.is_closed:
        points.append(leg.acknowledge_by)
    if case.parent_case_id is None and not case.has_ended and case.due_at is not None:
        if case.due_soon_sent_at is None:
            points.append(calendar(wf, case).rewind(case.due_at, wf.due_soon_lead))
        if case.overdue_sent_at is None:
            points.append(case.due_at)
    case.next_check_at = min(points) if points else None
