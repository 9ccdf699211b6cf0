"""HTTP entry points for cases: reads, officer actions, deadline, apology, process log."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select

from motcua.errors import problems
from motcua.idempotency import IdempotencyDep, IdempotencyInProgress, IdempotencyKeyReused
from motcua.service import SessionDep
from motcua_workflow.cases import actions, core, deadlines, errors
from motcua_workflow.cases.models import Case
from motcua_workflow.cases.schemas import (
    ApologyDraft,
    ApologyRead,
    CaseAction,
    CaseRead,
    DeadlineRead,
    DefinitionRef,
    ExtensionGrant,
    LedgerLine,
    LogEntryRead,
    LogVerification,
)
from motcua_workflow.context import Workflow, WorkflowDep
from motcua_workflow.processlog import service as processlog
from motcua_workflow.tasks.models import Task
from motcua_workflow.tasks.schemas import TaskRead
from motcua_workflow.web import remember

router = APIRouter(prefix="/v1/cases", tags=["cases"])

_ACTION_PROBLEMS = problems(
    errors.CaseNotFound, errors.CaseClosed, errors.CaseVersionConflict, errors.CaseNotReceived,
    errors.CasePaused, errors.ActionNotAllowed, errors.RoleNotAllowed,
    errors.HeldByOtherAgency, errors.TaskClaimedByOther, errors.AwaitingAcknowledgement,
    errors.NothingToAcknowledge, errors.StepUnknown, errors.NoNextStep,
    errors.NoPreviousStep, errors.TransferToSameAgency, errors.MembersUnfinished,
    errors.NotFinished, errors.BundleMemberAction, IdempotencyKeyReused,
    IdempotencyInProgress)
_EXTENSION_PROBLEMS = problems(
    errors.CaseNotFound, errors.CaseClosed, errors.CaseNotReceived, errors.CasePaused,
    errors.ApologyAlreadyDrafted, errors.ExtensionAlreadyUsed, errors.ExtensionNotLater,
    errors.ExtensionNeedsReason, errors.BundleMemberAction, IdempotencyKeyReused,
    IdempotencyInProgress)


async def read_case(session: SessionDep, case: Case) -> CaseRead:
    """The API view of a case."""
    view = CaseRead.model_validate(case)
    if case.definition_version is not None:
        view.definition = DefinitionRef(procedure_code=(await core.spec(session, case))
                                        .procedure_code, version=case.definition_version)
    if case.parent_case_id is not None:
        parent = await session.get(Case, case.parent_case_id)
        view.parent_dossier_code = parent.dossier_code if parent else None
    view.members = [m.dossier_code for m in await core.members(session, case)]
    view.process_log_hash = case.log_head
    return view


@router.get("/{dossier_code}", operation_id="getCase", responses=problems(errors.CaseNotFound))
async def get_case(dossier_code: str, session: SessionDep) -> CaseRead:
    """The case of a dossier (or of a bundle member: ``<dossier code>~<procedure>``)."""
    return await read_case(session, await core.get(session, dossier_code))


@router.post("/{dossier_code}/actions", operation_id="actOnCase", response_model=CaseRead,
             responses=_ACTION_PROBLEMS)
async def act_on_case(dossier_code: str, body: CaseAction, session: SessionDep,
                      wf: WorkflowDep, idem: IdempotencyDep) -> CaseRead | JSONResponse:
    """Do one action of the case's current step (forward, approve, sign, send back,
    request a supplement, transfer, acknowledge a transfer, refuse, complete with the
    result, return the result). ``expected_version`` guards against acting on a stale view.
    """
    # Lock the case before looking up the key: a concurrent request with the same key
    # (another replica) then finds the first one's committed answer instead of acting.
    await core.lock_for_change(session, dossier_code)
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    case = await actions.act(session, wf, dossier_code, body)
    result = await read_case(session, case)
    await remember(session, idem, 200, result)
    return result


@router.get("/{dossier_code}/tasks", operation_id="listCaseTasks",
            responses=problems(errors.CaseNotFound))
async def case_tasks(dossier_code: str, session: SessionDep) -> list[TaskRead]:
    """Every task the case has had, oldest first."""
    case = await core.get(session, dossier_code)
    rows = (await session.scalars(select(Task).where(Task.case_id == case.id)
                                  .order_by(Task.created_at, Task.id))).all()
    return [TaskRead.model_validate(t) for t in rows]


@router.get("/{dossier_code}/deadline", operation_id="getCaseDeadline",
            responses=problems(errors.CaseNotFound))
async def get_deadline(dossier_code: str, session: SessionDep, wf: WorkflowDep) -> DeadlineRead:
    """The deadline ledger: every start, pause, resume and extension with the due dates
    after it and why, and the classification once processing ended."""
    case = await core.get(session, dossier_code)
    owner = await _ledger_owner(session, case)
    rows = await core.ledger_rows(session, owner)
    state = await core.derived(session, wf, owner)
    remaining = None
    if state.paused_since is not None and state.due_when_paused is not None:
        left = core.calendar(wf, owner).working_time_between(state.paused_since,
                                                             state.due_when_paused)
        remaining = int(left.total_seconds() // 60)
    history = [LedgerLine(seq=row.seq, kind=row.kind, at=row.at, due_at=line.due_at,
                          statutory_due_at=line.statutory_due_at,
                          paused_minutes=int(line.paused.total_seconds() // 60)
                          if line.paused is not None else None, reason=row.reason,
                          actor_id=row.actor_id, text_vi=line.text_vi, text_en=line.text_en)
               for row, line in zip(rows, state.lines, strict=True)]
    return DeadlineRead(
        dossier_code=case.dossier_code, due_at=state.due_at,
        statutory_due_at=state.statutory_due_at, intake_due_at=owner.intake_due_at,
        paused_since=state.paused_since, remaining_minutes_when_paused=remaining,
        paused_minutes_total=int(state.paused_total.total_seconds() // 60),
        extended=state.extended, supplement_requests=owner.supplement_requests,
        classification=owner.classification, history=history)


async def _ledger_owner(session: SessionDep, case: Case) -> Case:
    """A bundle member runs on its bundle's ledger."""
    if case.parent_case_id is None:
        return case
    parent = await session.get(Case, case.parent_case_id)
    assert parent is not None
    return parent


def _apology_view(wf: Workflow, apology: object) -> ApologyRead:
    vi, en = deadlines.slip_text(apology)  # type: ignore[arg-type]
    return ApologyRead.model_validate({**{k: getattr(apology, k) for k in (
        "dossier_code", "drafted_at", "drafted_by", "reason", "original_due_at",
        "proposed_due_at", "notice_deadline", "issued_at", "new_due_at", "notice_in_time")},
        "text_vi": vi, "text_en": en})


@router.get("/{dossier_code}/apology", operation_id="getCaseApology",
            responses=problems(errors.CaseNotFound, errors.ApologyNotFound))
async def get_apology(dossier_code: str, session: SessionDep, wf: WorkflowDep) -> ApologyRead:
    """The apology and extension slip (code, original date, reason, new date)."""
    case = await core.get(session, dossier_code)
    return _apology_view(wf, await deadlines.get_apology(session, case))


@router.post("/{dossier_code}/apology", status_code=201, operation_id="draftCaseApology",
             response_model=ApologyRead,
             responses=_EXTENSION_PROBLEMS)
async def draft_apology(dossier_code: str, body: ApologyDraft, session: SessionDep,
                        wf: WorkflowDep, idem: IdempotencyDep) -> ApologyRead | JSONResponse:
    """Draft the apology slip by hand (the timers draft it when lateness is predicted)."""
    case = await core.lock_for_change(session, dossier_code)
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    apology = await deadlines.draft_apology(session, wf, case, actor=body.actor,
                                            reason=body.reason,
                                            proposed_due_at=body.proposed_due_at,
                                            now=wf.clock.now())
    await core.reschedule(session, wf, case)
    result = _apology_view(wf, apology)
    await remember(session, idem, 201, result)
    return result


@router.post("/{dossier_code}/extension", operation_id="extendCase", response_model=ApologyRead,
             responses=_EXTENSION_PROBLEMS)
async def extend_case(dossier_code: str, body: ExtensionGrant, session: SessionDep,
                      wf: WorkflowDep, idem: IdempotencyDep) -> ApologyRead | JSONResponse:
    """Send the apology and set the new appointment. Only once: a second extension
    answers 409 ``case.extension_already_used``."""
    case = await core.lock_for_change(session, dossier_code)
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    apology = await deadlines.extend(session, wf, case, actor=body.actor,
                                     new_due_at=body.new_due_at, reason=body.reason,
                                     now=wf.clock.now())
    result = _apology_view(wf, apology)
    await remember(session, idem, 200, result)
    return result


@router.get("/{dossier_code}/process-log", operation_id="getCaseProcessLog",
            responses=problems(errors.CaseNotFound))
async def get_process_log(dossier_code: str, session: SessionDep) -> list[LogEntryRead]:
    """The process log (electronic control slip): every hand-over with actor, agency,
    time and action, each entry chained to the one before by SHA-256."""
    case = await core.get(session, dossier_code)
    return [LogEntryRead.model_validate(e, from_attributes=True)
            for e in await processlog.entries(session, case)]


@router.get("/{dossier_code}/process-log/verification", operation_id="verifyCaseProcessLog",
            responses=problems(errors.CaseNotFound))
async def verify_process_log(dossier_code: str, session: SessionDep) -> LogVerification:
    """Recompute the hash chain: ``valid`` is false if any entry was modified or deleted."""
    case = await core.get(session, dossier_code)
    result = await processlog.verify(session, case)
    return LogVerification(dossier_code=case.dossier_code, valid=result.valid,
                           length=result.length, head=result.head,
                           recorded_length=case.log_length, recorded_head=case.log_head,
                           problems=result.problems)
