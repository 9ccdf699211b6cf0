"""Officer actions on a case: hand-overs, supplement requests, transfers, results.

Each action is checked against the case (open, received, not waiting for a transfer's
acknowledgement, at the expected version), against the caller (the role the current step
of its bound definition demands, in the agency holding the case), against the step
(action allowed, not paused) and its task (not claimed by someone else), then applied in
the caller's transaction with its log entry and events. The acting officer is the
token's subject.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from motcua.auth import Principal
from motcua.contracts.workflow import (
    CaseCompletedV1,
    CaseHandedOverV1,
    CaseResultReturnedV1,
    CaseSupplementRequestedV1,
    CaseTransferAcknowledgedV1,
    CaseTransferredV1,
    ResultDocument,
)
from motcua.ids import new_id
from motcua_workflow.access import ACTING_ROLES, acting
from motcua_workflow.actors import SYSTEM, Actor
from motcua_workflow.cases import core
from motcua_workflow.cases import service as cases
from motcua_workflow.cases.deadlines import classify_case
from motcua_workflow.cases.errors import (
    ActionNotAllowed,
    AwaitingAcknowledgement,
    BundleMemberAction,
    CaseClosed,
    CaseNotReceived,
    CasePaused,
    CaseVersionConflict,
    MembersUnfinished,
    NoNextStep,
    NoPreviousStep,
    NotFinished,
    NothingToAcknowledge,
    StepUnknown,
    TaskClaimedByOther,
    TransferToSameAgency,
)
from motcua_workflow.cases.models import (
    FINISHED,
    PROCESSING,
    RECEIVED,
    RETURNED,
    STOPPED,
    SUPPLEMENT,
    Case,
    SupplementRequest,
    TransferLeg,
)
from motcua_workflow.cases.schemas import (
    Acknowledge,
    Advance,
    CaseAction,
    Complete,
    Refuse,
    RequestSupplement,
    ResultDocumentIn,
    ReturnResult,
    SendBack,
    Transfer,
)
from motcua_workflow.context import Workflow
from motcua_workflow.definitions.schemas import DefinitionSpec
from motcua_workflow.processlog import service as processlog


async def act(session: AsyncSession, wf: Workflow, who: Principal, dossier_code: str,
              body: CaseAction) -> Case:
    """Apply one officer action to the case of ``dossier_code``.

    ``who`` must hold the current step's role in the agency holding the case (403
    ``auth.agency_forbidden`` otherwise); the acting officer recorded is ``who.subject``.
    """
    case = await core.lock_for_change(session, dossier_code)
    now = wf.clock.now()
    if body.expected_version is not None and body.expected_version != case.version:
        raise CaseVersionConflict(f"case is at version {case.version}, "
                                  f"not {body.expected_version}")
    if case.is_closed:
        raise CaseClosed(f"{dossier_code} is closed (status {case.status})")
    if case.received_at is None:
        raise CaseNotReceived(f"{dossier_code} has not been received")
    if isinstance(body, Acknowledge):
        return await _acknowledge(session, wf, case, who, now)
    if await core.pending_leg(session, case) is not None:
        raise AwaitingAcknowledgement(f"{dossier_code} waits for "
                                      f"{case.current_agency_code} to acknowledge it")
    spec = await core.spec(session, case)
    step = spec.step(case.current_step)
    assert step is not None and case.current_agency_code is not None
    who.ensure_agency(case.current_agency_code, step.role)
    actor = Actor(id=who.subject, role=step.role, agency_code=case.current_agency_code)
    if body.action not in step.actions:
        raise ActionNotAllowed(f"step {step.key!r} allows {', '.join(step.actions)}",
                               allowed=list(step.actions))
    if case.is_paused and not isinstance(body, Refuse):
        raise CasePaused(f"{dossier_code} waits for the applicant (status {case.status})")
    if case.status == FINISHED and not isinstance(body, ReturnResult):
        raise ActionNotAllowed("the case is finished; only return_result is left",
                               allowed=["return_result"])
    for task in await core.open_tasks(session, case):
        if task.assignee_id not in (None, actor.id):
            raise TaskClaimedByOther(f"the task is claimed by {task.assignee_id}")
    match body:
        case Advance() | SendBack():
            await _move(session, wf, case, spec, body, actor, now)
        case RequestSupplement():
            await _request_supplement(session, wf, case, body, actor, now)
        case Transfer():
            await _transfer(session, wf, case, body, actor, now)
        case Refuse():
            await cases.close(session, wf, case, STOPPED, action="refused",
                              reason="; ".join(body.reasons), actor=actor,
                              detail={"reasons": body.reasons, "note": body.note})
        case Complete():
            await complete(session, wf, case, actor, body.result, now, note=body.note)
        case ReturnResult():
            await _return(session, wf, case, body, actor, now)
    await core.reschedule(session, wf, case)
    await session.flush()
    return case


def _begin_processing(session: AsyncSession, wf: Workflow, case: Case, actor: Actor,
                      at: datetime, action: str, detail: dict[str, object]) -> None:
    """The first hand-over moves a received case to "being processed" (status 4)."""
    if case.status == RECEIVED:
        core.change_status(session, wf, case, PROCESSING, at=at, actor=actor, action=action,
                           detail=detail)
    else:
        core.record_change(session, case, at=at, actor=actor, action=action, detail=detail)


async def _move(session: AsyncSession, wf: Workflow, case: Case, spec: DefinitionSpec,
                body: Advance | SendBack, actor: Actor, now: datetime) -> None:
    index = spec.index(case.current_step)
    if body.to_step is not None:
        target = spec.index(body.to_step)
        if target < 0:
            raise StepUnknown(f"no step {body.to_step!r}", steps=[s.key for s in spec.steps])
        forward = isinstance(body, Advance)
        if (forward and target <= index) or (not forward and target >= index):
            raise StepUnknown(f"{body.action} cannot go to step {body.to_step!r}")
    elif isinstance(body, Advance):
        if index + 1 >= len(spec.steps):
            raise NoNextStep(f"{case.current_step!r} is the last step")
        target = index + 1
    else:
        if index == 0:
            raise NoPreviousStep(f"{case.current_step!r} is the first step")
        target = index - 1
    await core.close_tasks(session, case, at=now, by=actor.id, outcome=body.action)
    detail = {"from_step": case.current_step, "to_step": spec.steps[target].key,
              "note": body.note}
    from_step, case.current_step = case.current_step, spec.steps[target].key
    _begin_processing(session, wf, case, actor, now, body.action, detail)
    task = await core.open_step_task(session, wf, case, at=now)
    core.emit(session, wf, case, CaseHandedOverV1, at=now, action=body.action,
              from_step=from_step, to_step=case.current_step, actor_id=actor.id,
              actor_role=actor.role, actor_agency_code=actor.agency_code,
              note=body.note, step_due_at=task.due_at)


async def _request_supplement(session: AsyncSession, wf: Workflow, case: Case,
                              body: RequestSupplement, actor: Actor, now: datetime) -> None:
    if case.parent_case_id is not None:
        raise BundleMemberAction("ask for a supplement through the bundle's case")
    count = case.supplement_requests + 1
    request = SupplementRequest(id=new_id(), case_id=case.id, seq=count, items=body.items,
                                reason=body.reason, requested_at=now,
                                requested_by=actor.id)
    session.add(request)
    case.supplement_requests = count
    await core.add_ledger_entry(session, wf, case, kind="pause", at=now, actor=actor,
                                reason="supplement requested", ref=request.id)
    await core.close_tasks(session, case, at=now, by=actor.id, outcome=body.action)
    core.change_status(session, wf, case, SUPPLEMENT, at=now, actor=actor,
                       action="supplement_requested", reason=body.reason,
                       detail={"items": body.items, "request_id": request.id,
                               "request_count": count})
    core.emit(session, wf, case, CaseSupplementRequestedV1, at=now, request_id=request.id,
              items=body.items, reason=body.reason, request_count=count)


async def _transfer(session: AsyncSession, wf: Workflow, case: Case, body: Transfer,
                    actor: Actor, now: datetime) -> None:
    if body.to_agency_code == case.current_agency_code:
        raise TransferToSameAgency(f"{case.dossier_code} is already at {body.to_agency_code}")
    cal = wf.calendars.for_agency(body.to_agency_code)
    acknowledge_by = cal.shift(now, wf.acknowledge_within)
    leg_due = None
    budget_minutes = None
    if body.budget is not None:
        due = cal.add(now, body.budget.amount, body.budget.unit)
        leg_due = due.due_at
        budget_minutes = int(cal.working_time_between(now, leg_due).total_seconds() // 60)
    number = await core.leg_count(session, case) + 1
    leg = TransferLeg(id=new_id(), case_id=case.id, leg=number,
                      from_agency_code=case.current_agency_code or case.agency_code,
                      to_agency_code=body.to_agency_code, to_level=body.to_level,
                      reason=body.reason, sent_at=now, sent_by=actor.id,
                      acknowledge_by=acknowledge_by, budget_minutes=budget_minutes,
                      leg_due_at=leg_due)
    session.add(leg)
    await core.close_tasks(session, case, at=now, by=actor.id, outcome="transfer")
    case.current_agency_code = body.to_agency_code
    _begin_processing(session, wf, case, actor, now, "transferred", {
        "leg": number, "from_agency_code": leg.from_agency_code,
        "to_agency_code": leg.to_agency_code, "to_level": body.to_level,
        "reason": body.reason, "acknowledge_by": acknowledge_by, "leg_due_at": leg_due})
    core.emit(session, wf, case, CaseTransferredV1, at=now,
              from_agency_code=leg.from_agency_code, to_agency_code=leg.to_agency_code,
              to_level=body.to_level, leg=number, reason=body.reason,
              acknowledge_by=acknowledge_by, leg_due_at=leg_due)
    core.open_task(session, wf, case, kind="acknowledge", at=now,
                   agency_code=body.to_agency_code, role=None, budget=wf.acknowledge_within,
                   due_at=acknowledge_by)


async def _acknowledge(session: AsyncSession, wf: Workflow, case: Case, who: Principal,
                       now: datetime) -> Case:
    """The receiving agency takes the transferred case (any of its officers who act)."""
    leg = await core.pending_leg(session, case)
    if leg is None:
        raise NothingToAcknowledge(f"no transfer of {case.dossier_code} waits to be "
                                   "acknowledged")
    who.ensure_agency(leg.to_agency_code, *ACTING_ROLES)
    actor = acting(who, leg.to_agency_code, *ACTING_ROLES)
    leg.acknowledged_at, leg.acknowledged_by = now, actor.id
    await core.close_tasks(session, case, at=now, by=actor.id, outcome="acknowledged")
    core.record_change(session, case, at=now, actor=actor, action="acknowledged",
                       detail={"leg": leg.leg, "late": now > leg.acknowledge_by})
    core.emit(session, wf, case, CaseTransferAcknowledgedV1, at=now, leg=leg.leg,
              acknowledged_by=actor.id)
    task = await core.open_step_task(session, wf, case, at=now)
    if leg.leg_due_at is not None and (task.due_at is None or leg.leg_due_at < task.due_at):
        task.due_at = leg.leg_due_at
    await core.reschedule(session, wf, case)
    await session.flush()
    return case


async def complete(session: AsyncSession, wf: Workflow, case: Case, actor: Actor,
                   result: ResultDocumentIn | None, now: datetime, *,
                   note: str | None = None) -> None:
    """Processing finished (status 9); a bundle finishes when all its members have."""
    members = await core.members(session, case, lock=True)
    unfinished = [m.procedure_code for m in members if m.status not in (FINISHED, RETURNED)]
    if unfinished:
        raise MembersUnfinished(f"members not finished: {', '.join(unfinished)}",
                                unfinished=unfinished)
    document = ResultDocument.model_validate(result.model_dump()) if result else None
    case.result = document.model_dump(mode="json") if document else None
    case.finished_at = now
    classify_case(wf, case, now)
    await core.close_tasks(session, case, at=now, by=actor.id, outcome="complete")
    member_results = {m.procedure_code: ResultDocument.model_validate(m.result)
                      for m in members if m.result}
    core.change_status(session, wf, case, FINISHED, at=now, actor=actor, action="completed",
                       detail={"result": case.result, "note": note,
                               "classification": case.classification})
    core.emit(session, wf, case, CaseCompletedV1, at=now, procedure_code=case.procedure_code,
              finished_at=now, due_at=case.due_at, classification=case.classification or
              "on_time", supplement_requests=case.supplement_requests, extended=case.extended,
              result=document, member_results=member_results)
    if case.parent_case_id is not None:
        await _member_finished(session, wf, case, now)
    else:
        core.open_task(session, wf, case, kind="return", at=now,
                       agency_code=case.current_agency_code or case.agency_code,
                       role=await _step_role(session, case), budget=None)


async def _step_role(session: AsyncSession, case: Case) -> str | None:
    step = (await core.spec(session, case)).step(case.current_step)
    return step.role if step else None


async def _member_finished(session: AsyncSession, wf: Workflow, member: Case,
                           now: datetime) -> None:
    """When the last member of a bundle finishes, the bundle finishes with all results."""
    bundle = await session.get(Case, member.parent_case_id, with_for_update=True)
    assert bundle is not None
    siblings = await core.members(session, bundle)
    if bundle.has_ended or any(m.status not in (FINISHED, RETURNED) for m in siblings):
        return
    if bundle.is_paused:
        return
    await core.close_tasks(session, bundle, at=now, by=None, outcome="members_finished")
    await complete(session, wf, bundle, SYSTEM, None, now,
                   note="every member procedure finished")
    await core.reschedule(session, wf, bundle)


async def _return(session: AsyncSession, wf: Workflow, case: Case, body: ReturnResult,
                  actor: Actor, now: datetime) -> None:
    if case.parent_case_id is not None:
        raise BundleMemberAction("return the result through the bundle's case")
    if case.status != FINISHED:
        raise NotFinished(f"{case.dossier_code} is at status {case.status}")
    case.returned_at = case.closed_at = now
    await core.close_tasks(session, case, at=now, by=actor.id, outcome="returned")
    for member in await core.members(session, case, lock=True):
        if member.status == FINISHED:
            member.change_status(RETURNED)
            member.returned_at = member.closed_at = now
            processlog.append(session, member, at=now, action="result_returned",
                              actor=actor, status_before=FINISHED,
                              status_after=RETURNED, detail={"bundle": case.dossier_code})
    core.change_status(session, wf, case, RETURNED, at=now, actor=actor,
                       action="result_returned", detail={"channel": body.channel,
                                                         "note": body.note})
    core.emit(session, wf, case, CaseResultReturnedV1, at=now, returned_at=now,
              channel=body.channel)


