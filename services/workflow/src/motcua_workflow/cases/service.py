"""Case use cases driven by intake's events, and reads.

Intake decides reception; workflow follows: ``dossier.submitted`` opens the case (status
1), ``dossier.received`` starts its deadline ledger (status 2), ``dossier.refused`` (3)
and ``dossier.withdrawn`` (7) close it, ``dossier.supplemented`` restarts the clock a
supplement request stopped. Events may arrive twice or out of order: any of them opens
the case if it does not exist yet, and each applies only when it still makes sense.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.consumer import causation
from motcua.contracts.intake import (
    DossierReceivedV1,
    DossierRefusedV1,
    DossierSubmittedV1,
    DossierSupplementedV1,
    DossierWithdrawnV1,
    _DossierEvent,
)
from motcua.contracts.workflow import CaseStartedV1, CaseStatusChangedV1
from motcua.db import insert_new
from motcua.events import Envelope
from motcua.ids import new_id
from motcua.logging import get_logger
from motcua.pagination import after, decode_cursor, encode_cursor, parse_instant
from motcua_workflow.access import involving
from motcua_workflow.actors import INTAKE, SYSTEM, Actor
from motcua_workflow.cases import core
from motcua_workflow.cases import payments as fees
from motcua_workflow.cases.deadlines import classify_case
from motcua_workflow.cases.models import (
    ENDED_STATUSES,
    PAYMENT,
    PROCESSING,
    RECEIVED,
    REFUSED,
    SUBMITTED,
    SUPPLEMENT,
    WITHDRAWN,
    Case,
    SupplementRequest,
)
from motcua_workflow.context import Workflow
from motcua_workflow.processlog import service as processlog

log = get_logger("motcua_workflow.cases")

#: Separates a bundle's dossier code from a member procedure in a member case's code.
MEMBER_SEPARATOR = "~"


async def _open(session: AsyncSession, wf: Workflow, data: _DossierEvent, *,
                channel: str | None, members: list[str], bundle_code: str | None) -> Case:
    """Open the case of a dossier (status 1) bound to its definition; record CaseStarted."""
    case, rows = await _new_case(session, wf, data, channel=channel, members=members,
                                 bundle_code=bundle_code)
    session.add(case)
    session.add_all(rows)
    await session.flush()
    return case


async def _new_case(session: AsyncSession, wf: Workflow, data: _DossierEvent, *,
                    channel: str | None, members: list[str], bundle_code: str | None
                    ) -> tuple[Case, list[Any]]:
    """The case :func:`_open` opens and the rows that go with it (its first log entry,
    its events), built but not added to the session."""
    now = wf.clock.now()
    # No members: the column is left unset, so both ways of writing the row store SQL
    # NULL (the unit of work would store an explicit None as JSON null).
    case = Case(id=new_id(), dossier_code=data.dossier_code, agency_code=data.agency_code,
                procedure_code=data.procedure_code, owner_ref=data.owner_ref,
                status=SUBMITTED, opened_at=now,
                version=1, channel=channel, current_agency_code=data.agency_code,
                bundle_code=bundle_code, supplement_requests=0, extended=False,
                log_length=0, **({"member_procedures": members} if members else {}))
    # Bound before it joins the session: the definition query would otherwise autoflush
    # the case, and the binding would cost an UPDATE of the row just inserted.
    spec = await core.bind_definition(session, case, now=now)
    if not members and spec.members:
        case.member_procedures = list(spec.members)
    rows: list[Any] = [processlog.entry(
        case, at=now, action="submitted", actor=INTAKE, status_after=SUBMITTED,
        detail={"channel": channel, "definition_version": case.definition_version})]
    for event, fields in ((CaseStartedV1, {"procedure_code": case.procedure_code,
                                           "definition_version": case.definition_version}),
                          (CaseStatusChangedV1, {"status": case.status})):
        row = core.event_row(session, wf, case, event, at=now, **fields)
        if row is not None:
            rows.append(row)
    return case, rows


async def _get_or_open(session: AsyncSession, wf: Workflow, data: _DossierEvent, *,
                       channel: str | None = None, members: list[str] | None = None,
                       bundle_code: str | None = None) -> tuple[Case, bool]:
    """The dossier's case, locked; opened first if no event opened it yet."""
    case = await core.find(session, data.dossier_code, lock=True)
    if case is not None:
        return case, False
    return await _open(session, wf, data, channel=channel, members=members or [],
                       bundle_code=bundle_code), True


async def open_for_submission(session: AsyncSession, wf: Workflow, event: Envelope,
                              data: DossierSubmittedV1) -> Case:
    """Open the case of a submitted dossier (a second event for it opens nothing)."""
    case, _ = await _get_or_open(session, wf, data, channel=data.channel,
                                 members=list(data.member_procedures),
                                 bundle_code=data.bundle_code)
    await _owner_from_submission(session, case, data)
    return case


async def _owner_from_submission(session: AsyncSession, case: Case,
                                 data: DossierSubmittedV1) -> None:
    """A case opened by a later event that named no owner takes the submission's."""
    if case.owner_ref is None and data.owner_ref is not None:
        await _set_owner(session, case, data.owner_ref)


async def _set_owner(session: AsyncSession, case: Case, owner_ref: str) -> None:
    """Record the applicant's owner reference on the case and its members."""
    case.owner_ref = owner_ref
    for member in await core.members(session, case):
        member.owner_ref = owner_ref


async def open_submitted(session: AsyncSession, wf: Workflow,
                         items: list[tuple[Envelope, DossierSubmittedV1]]) -> None:
    """:func:`open_for_submission` of many submissions of distinct dossiers at once.

    One locked read finds the cases that exist already (handled one by one, as
    ``open_for_submission`` does); the new cases, their first log entries and their
    events are written with one ``insert_new``, instead of a read and a flush of three
    tables per submission.
    """
    codes = sorted({data.dossier_code for _, data in items})
    if len(codes) != len(items):
        raise ValueError("open_submitted: one submission per dossier")
    existing = await core.find_many(session, codes, lock=True)
    rows: list[Any] = []
    for envelope, data in items:
        with causation(envelope):
            case = existing.get(data.dossier_code)
            if case is None:
                case, new = await _new_case(session, wf, data, channel=data.channel,
                                            members=list(data.member_procedures),
                                            bundle_code=data.bundle_code)
                rows += [case, *new]
            else:
                await _owner_from_submission(session, case, data)
    await insert_new(session, *rows)


async def receive(session: AsyncSession, wf: Workflow, event: Envelope,
                  data: DossierReceivedV1) -> Case:
    """Start the deadline ledger at reception (status 2) and the first step's task."""
    case, _ = await _get_or_open(session, wf, data, channel=data.channel)
    if data.owner_ref is not None and data.owner_ref != case.owner_ref:
        # Reception checked the applicant: its reference wins over the submission's.
        await _set_owner(session, case, data.owner_ref)
    if case.received_at is not None or case.is_closed:
        log.info("received_ignored", dossier_code=case.dossier_code, status=case.status)
        return case
    now = wf.clock.now()
    case.channel = case.channel or data.channel
    case.received_at = data.received_at
    case.statutory_amount = data.statutory_time.amount
    case.statutory_unit = data.statutory_time.unit
    case.statutory_cutoff = data.statutory_time.cutoff
    case.intake_due_at = data.due_at
    spec = await core.spec(session, case)
    case.current_step = spec.steps[0].key
    await core.add_ledger_entry(session, wf, case, kind="start", at=data.received_at,
                                amount=data.statutory_time.amount,
                                unit=data.statutory_time.unit,
                                cutoff=data.statutory_time.cutoff, reason="received")
    if case.due_at != data.due_at:
        # The ledger is the source of truth; a disagreement means intake's calendar
        # settings (office hours, overrides) differ from workflow's.
        log.warning("intake_due_mismatch", dossier_code=case.dossier_code,
                    intake_due_at=data.due_at.isoformat(),
                    ledger_due_at=case.due_at.isoformat() if case.due_at else None)
    core.change_status(session, wf, case, RECEIVED, at=now, actor=INTAKE, action="received",
                       detail={"received_at": data.received_at,
                               "received_by": data.received_by,
                               "due_at": case.due_at, "intake_due_at": data.due_at})
    await core.open_step_task(session, wf, case, at=now)
    for procedure in case.member_procedures or []:
        await _open_member(session, wf, case, procedure, at=now)
    await core.reschedule(session, wf, case)
    await session.flush()
    # Payments may have assessed (or even settled) the fee before this event arrived.
    await fees.at_reception(session, wf, case)
    return case


async def _open_member(session: AsyncSession, wf: Workflow, bundle: Case, procedure: str, *,
                       at: datetime) -> Case:
    """A bundle member's case: its own definition, steps and tasks; the bundle's deadline."""
    member = Case(id=new_id(), dossier_code=f"{bundle.dossier_code}{MEMBER_SEPARATOR}{procedure}",
                  agency_code=bundle.agency_code, procedure_code=procedure,
                  owner_ref=bundle.owner_ref, status=RECEIVED,
                  opened_at=at, version=1, channel=bundle.channel, parent_case_id=bundle.id,
                  current_agency_code=bundle.agency_code, received_at=bundle.received_at,
                  statutory_amount=bundle.statutory_amount,
                  statutory_unit=bundle.statutory_unit,
                  statutory_cutoff=bundle.statutory_cutoff, due_at=bundle.due_at,
                  statutory_due_at=bundle.statutory_due_at, supplement_requests=0,
                  extended=False, log_length=0)
    spec = await core.bind_definition(session, member, now=at)  # before add: see _open
    session.add(member)
    member.current_step = spec.steps[0].key
    processlog.append(session, member, at=at, action="received", actor=INTAKE,
                      status_after=RECEIVED,
                      detail={"bundle": bundle.dossier_code,
                              "definition_version": member.definition_version})
    await core.open_step_task(session, wf, member, at=at)
    return member


async def refuse_reception(session: AsyncSession, wf: Workflow, event: Envelope,
                           data: DossierRefusedV1) -> Case:
    """The desk refused reception: status 3, closed."""
    case, _ = await _get_or_open(session, wf, data)
    if case.has_ended:
        return case
    await close(session, wf, case, REFUSED, action="reception_refused",
                 reason="; ".join(data.reasons), detail={"refused_by": data.refused_by})
    return case


async def withdraw(session: AsyncSession, wf: Workflow, event: Envelope,
                   data: DossierWithdrawnV1) -> Case:
    """The applicant withdrew the dossier: status 7, closed (classified like a finish)."""
    case, _ = await _get_or_open(session, wf, data)
    if case.has_ended:
        log.info("withdrawal_ignored", dossier_code=case.dossier_code, status=case.status)
        return case
    await close(session, wf, case, WITHDRAWN, action="withdrawn", reason=data.reason)
    return case


async def close(session: AsyncSession, wf: Workflow, case: Case, status: int, *, action: str,
                 reason: str | None, detail: dict[str, object] | None = None,
                 actor: Actor = INTAKE) -> None:
    """Close a case (and its members): stop the clock, drop tasks, classify."""
    now = wf.clock.now()
    if case.is_paused:
        await core.add_ledger_entry(session, wf, case, kind="resume", at=now, reason=action)
    await core.close_tasks(session, case, at=now, by=None, outcome=action)
    for member in await core.members(session, case, lock=True):
        if not member.has_ended:
            await core.close_tasks(session, member, at=now, by=None, outcome=action)
            member.change_status(status)
            member.closed_at = now
            processlog.append(session, member, at=now, action=action, actor=SYSTEM,
                              status_after=status, detail={"bundle": case.dossier_code})
    case.closed_at = now
    classify_case(wf, case, now)
    core.change_status(session, wf, case, status, at=now, actor=actor, action=action,
                       reason=reason, detail=detail)
    await core.reschedule(session, wf, case)
    await session.flush()


async def supplemented(session: AsyncSession, wf: Workflow, event: Envelope,
                       data: DossierSupplementedV1) -> Case:
    """The applicant supplemented the dossier: restart the clock, back to processing.

    If a fee that must be paid first was assessed during the supplement pause and is not
    settled yet, the clock stays stopped and the case goes straight to status 6: the
    ledger resumes the supplement pause and opens the payment pause at the same instant,
    so no paused minute is counted twice (``payments.hold_after_supplement``).
    """
    case, _ = await _get_or_open(session, wf, data)
    if case.status != SUPPLEMENT:
        log.info("supplement_ignored", dossier_code=case.dossier_code, status=case.status)
        return case
    now = wf.clock.now()
    arrived = min(data.occurred_at, now)
    await core.add_ledger_entry(session, wf, case, kind="resume", at=arrived,
                                reason="supplemented", ref=data.supplement_request_id)
    request = await session.scalar(select(SupplementRequest).where(
        SupplementRequest.case_id == case.id, SupplementRequest.supplemented_at.is_(None))
        .order_by(SupplementRequest.seq.desc()).limit(1))
    if request is not None:
        request.supplemented_at = arrived
    detail = {"supplement_request_id": data.supplement_request_id,
              "document_count": data.document_count, "supplemented_at": arrived}
    hold = await fees.hold_after_supplement(session, wf, case, at=arrived)
    if hold is None:
        core.change_status(session, wf, case, PROCESSING, at=now, actor=INTAKE,
                           action="supplemented", detail=detail)
    else:
        core.change_status(session, wf, case, PAYMENT, at=now, actor=INTAKE,
                           action="supplemented", reason=fees.AWAITING_PAYMENT,
                           detail={**detail, "assessment_id": hold.assessment_id})
    await core.open_step_task(session, wf, case, at=now)
    await core.reschedule(session, wf, case)
    await session.flush()
    return case


async def get_by_dossier(session: AsyncSession, dossier_code: str) -> Case:
    """The case of a dossier, or CaseNotFound."""
    return await core.get(session, dossier_code)


def _overdue(now: datetime) -> ColumnElement[bool]:
    """Still being processed, and its appointment has passed."""
    return and_(Case.status.not_in(ENDED_STATUSES), Case.due_at.is_not(None),
                Case.due_at < now)


async def list_cases(session: AsyncSession, *, agencies: frozenset[str] | None,
                     agency: str | None, status: int | None, procedure: str | None,
                     overdue: bool | None, due_after: datetime | None,
                     due_before: datetime | None, now: datetime, limit: int,
                     cursor: str | None) -> tuple[list[Case], str | None]:
    """Cases matching the filters, oldest first, one page.

    ``agencies`` (None: all) limits the list to cases involving one of them, ``agency``
    to cases involving that one (receiving, holding, or a transfer leg's end).
    """
    conditions: list[ColumnElement[bool]] = []
    if agencies is not None:
        conditions.append(involving(agencies))
    if agency is not None:
        conditions.append(involving({agency}))
    if status is not None:
        conditions.append(Case.status == status)
    if procedure is not None:
        conditions.append(Case.procedure_code == procedure)
    if overdue is not None:
        conditions.append(_overdue(now) if overdue else not_(_overdue(now)))
    if due_after is not None:
        conditions.append(Case.due_at >= due_after)
    if due_before is not None:
        conditions.append(Case.due_at < due_before)
    query = select(Case).where(*conditions)
    if cursor:
        opened, case_id = decode_cursor(cursor, 2)
        query = query.where(after(Case.opened_at, Case.id, parse_instant(opened), case_id))
    rows = list((await session.scalars(
        query.order_by(Case.opened_at, Case.id).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].opened_at, rows[-1].id) if more else None
