"""HTTP entry points for cases: reads, the case list, officer actions, deadline, apology,
process log. Who may call each is in ``access`` (table in docs/workflow.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from sqlalchemy import select

from motcua.auth import Principal
from motcua.errors import problems
from motcua.idempotency import IdempotencyDep, IdempotencyInProgress, IdempotencyKeyReused
from motcua.pagination import CursorInvalid, CursorQuery, LimitQuery
from motcua.service import SessionDep
from motcua_workflow import access
from motcua_workflow.access import DENIED, CaseReader, DeadlineReader, Officer
from motcua_workflow.actors import Actor
from motcua_workflow.cases import actions, core, deadlines, errors
from motcua_workflow.cases import service as cases
from motcua_workflow.cases.models import Case
from motcua_workflow.cases.schemas import (
    ApologyDraft,
    ApologyRead,
    CaseAction,
    CaseListItem,
    CasePage,
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
    errors.CaseNotFound, *DENIED, errors.CaseClosed, errors.CaseVersionConflict,
    errors.CaseNotReceived, errors.CasePaused, errors.ActionNotAllowed,
    errors.TaskClaimedByOther, errors.AwaitingAcknowledgement,
    errors.NothingToAcknowledge, errors.StepUnknown, errors.NoNextStep,
    errors.NoPreviousStep, errors.TransferToSameAgency, errors.MembersUnfinished,
    errors.NotFinished, errors.BundleMemberAction, IdempotencyKeyReused,
    IdempotencyInProgress)
_EXTENSION_PROBLEMS = problems(
    errors.CaseNotFound, *DENIED, errors.CaseClosed, errors.CaseNotReceived, errors.CasePaused,
    errors.ApologyAlreadyDrafted, errors.ExtensionAlreadyUsed, errors.ExtensionNotLater,
    errors.ExtensionNeedsReason, errors.BundleMemberAction, IdempotencyKeyReused,
    IdempotencyInProgress)
_READ_PROBLEMS = problems(errors.CaseNotFound, *DENIED)
#: Roles that draft the apology and grant the extension (in the agency holding the case).
_DEADLINE_ROLES = ("processor", "approver")


async def visible_case(session: SessionDep, who: Principal, dossier_code: str) -> Case:
    """The case, if the officer or service may see it (404 / 403 otherwise)."""
    case = await core.get(session, dossier_code)
    await access.ensure_case_visible(session, who, case)
    return case


def _item(case: Case) -> CaseListItem:
    item = CaseListItem.model_validate(case)
    if case.parent_case_id is not None:
        item.bundle_dossier_code = case.dossier_code.split(cases.MEMBER_SEPARATOR)[0]
    return item


@router.get("", operation_id="listCases", responses=problems(*DENIED, CursorInvalid))
async def list_cases(
    session: SessionDep, wf: WorkflowDep, who: CaseReader,
    agency: Annotated[str | None, Query(pattern=r"^[0-9A-Z.]{1,35}$",
                                        description="Cases involving this agency")] = None,
    status: Annotated[int | None, Query(ge=1, le=10, description="National status code")
                      ] = None,
    procedure: Annotated[str | None, Query(max_length=40)] = None,
    overdue: Annotated[bool | None, Query(description="Being processed past the "
                                                      "appointment (or not)")] = None,
    due_after: Annotated[AwareDatetime | None, Query(description="due_at ≥ this")] = None,
    due_before: Annotated[AwareDatetime | None, Query(description="due_at < this")] = None,
    limit: LimitQuery = 50, cursor: CursorQuery = None,
) -> CasePage:
    """The register of cases, oldest first: by agency (receiving, holding or on a
    transfer leg), national status, procedure, overdue, and appointment range.

    Officers see the cases involving their agencies (another agency: 403); services with
    ``cases.read`` see every case.
    """
    scope = None
    if who.kind == "officer":
        scope = who.agencies
        if agency is not None:
            who.ensure_agency(agency)
    rows, next_cursor = await cases.list_cases(
        session, agencies=scope, agency=agency, status=status, procedure=procedure,
        overdue=overdue, due_after=due_after, due_before=due_before, now=wf.clock.now(),
        limit=limit, cursor=cursor)
    return CasePage(items=[_item(c) for c in rows], next_cursor=next_cursor)


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


@router.get("/{dossier_code}", operation_id="getCase", responses=_READ_PROBLEMS)
async def get_case(dossier_code: str, session: SessionDep, who: CaseReader) -> CaseRead:
    """The case of a dossier (or of a bundle member: ``<dossier code>~<procedure>``)."""
    return await read_case(session, await visible_case(session, who, dossier_code))


@router.post("/{dossier_code}/actions", operation_id="actOnCase", response_model=CaseRead,
             responses=_ACTION_PROBLEMS)
async def act_on_case(dossier_code: str, body: CaseAction, session: SessionDep,
                      wf: WorkflowDep, idem: IdempotencyDep, who: Officer,
                      ) -> CaseRead | JSONResponse:
    """Do one action of the case's current step (forward, approve, sign, send back,
    request a supplement, transfer, acknowledge a transfer, refuse, complete with the
    result, return the result). ``expected_version`` guards against acting on a stale view.

    Officers only, holding the step's role in the agency holding the case (the receiving
    agency's officers acknowledge a transfer); the acting officer is the token's subject.
    """
    # Lock the case before looking up the key: a concurrent request with the same key
    # (another replica) then finds the first one's committed answer instead of acting.
    locked = await core.lock_for_change(session, dossier_code)
    await access.ensure_case_visible(session, who, locked)
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    case = await actions.act(session, wf, who, dossier_code, body)
    result = await read_case(session, case)
    await remember(session, idem, 200, result)
    return result


@router.get("/{dossier_code}/tasks", operation_id="listCaseTasks", responses=_READ_PROBLEMS)
async def case_tasks(dossier_code: str, session: SessionDep, who: CaseReader) -> list[TaskRead]:
    """Every task the case has had, oldest first."""
    case = await visible_case(session, who, dossier_code)
    rows = (await session.scalars(select(Task).where(Task.case_id == case.id)
                                  .order_by(Task.created_at, Task.id))).all()
    return [TaskRead.model_validate(t) for t in rows]


@router.get("/{dossier_code}/deadline", operation_id="getCaseDeadline",
            responses=_READ_PROBLEMS)
async def get_deadline(dossier_code: str, session: SessionDep, wf: WorkflowDep,
                       who: DeadlineReader) -> DeadlineRead:
    """The deadline ledger: every start, pause, resume and extension with the due dates
    after it and why, and the classification once processing ended.

    Also for the applicant (citizen) of the dossier: their appointment and why it moved.
    Another citizen's case answers 404, as an unknown code does.
    """
    case = await core.get(session, dossier_code)
    if who.kind == "citizen":
        if not who.owns(case.owner_ref, wf.settings.resolved_owner_ref_key()):
            raise errors.CaseNotFound(f"no case for dossier {dossier_code}")
    else:
        await access.ensure_case_visible(session, who, case)
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


def _deadline_officer(who: Principal, case: Case) -> Actor:
    """A processor or approver of the agency holding the case, as the acting officer."""
    holder = case.current_agency_code or case.agency_code
    who.ensure_agency(holder, *_DEADLINE_ROLES)
    return access.acting(who, holder, *_DEADLINE_ROLES)


def _apology_view(wf: Workflow, apology: object) -> ApologyRead:
    vi, en = deadlines.slip_text(apology)  # type: ignore[arg-type]
    return ApologyRead.model_validate({**{k: getattr(apology, k) for k in (
        "dossier_code", "drafted_at", "drafted_by", "reason", "original_due_at",
        "proposed_due_at", "notice_deadline", "issued_at", "new_due_at", "notice_in_time")},
        "text_vi": vi, "text_en": en})


@router.get("/{dossier_code}/apology", operation_id="getCaseApology",
            responses=problems(errors.CaseNotFound, *DENIED, errors.ApologyNotFound))
async def get_apology(dossier_code: str, session: SessionDep, wf: WorkflowDep,
                      who: CaseReader) -> ApologyRead:
    """The apology and extension slip (code, original date, reason, new date)."""
    case = await visible_case(session, who, dossier_code)
    return _apology_view(wf, await deadlines.get_apology(session, case))


@router.post("/{dossier_code}/apology", status_code=201, operation_id="draftCaseApology",
             response_model=ApologyRead,
             responses=_EXTENSION_PROBLEMS)
async def draft_apology(dossier_code: str, body: ApologyDraft, session: SessionDep,
                        wf: WorkflowDep, idem: IdempotencyDep,
                        who: Officer) -> ApologyRead | JSONResponse:
    """Draft the apology slip by hand (the timers draft it when lateness is predicted).

    A processor or approver of the agency holding the case.
    """
    case = await core.lock_for_change(session, dossier_code)
    actor = _deadline_officer(who, case)
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    apology = await deadlines.draft_apology(session, wf, case, actor=actor,
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
                      wf: WorkflowDep, idem: IdempotencyDep,
                      who: Officer) -> ApologyRead | JSONResponse:
    """Send the apology and set the new appointment. Only once: a second extension
    answers 409 ``case.extension_already_used``.

    A processor or approver of the agency holding the case.
    """
    case = await core.lock_for_change(session, dossier_code)
    actor = _deadline_officer(who, case)
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    apology = await deadlines.extend(session, wf, case, actor=actor,
                                     new_due_at=body.new_due_at, reason=body.reason,
                                     now=wf.clock.now())
    result = _apology_view(wf, apology)
    await remember(session, idem, 200, result)
    return result


@router.get("/{dossier_code}/process-log", operation_id="getCaseProcessLog",
            responses=_READ_PROBLEMS)
async def get_process_log(dossier_code: str, session: SessionDep,
                          who: CaseReader) -> list[LogEntryRead]:
    """The process log (electronic control slip): every hand-over with actor, agency,
    time and action, each entry chained to the one before by SHA-256."""
    case = await visible_case(session, who, dossier_code)
    return [LogEntryRead.model_validate(e, from_attributes=True)
            for e in await processlog.entries(session, case)]


@router.get("/{dossier_code}/process-log/verification", operation_id="verifyCaseProcessLog",
            responses=_READ_PROBLEMS)
async def verify_process_log(dossier_code: str, session: SessionDep,
                             who: CaseReader) -> LogVerification:
    """Recompute the hash chain: ``valid`` is false if any entry was modified or deleted."""
    case = await visible_case(session, who, dossier_code)
    result = await processlog.verify(session, case)
    return LogVerification(dossier_code=case.dossier_code, valid=result.valid,
                           length=result.length, head=result.head,
                           recorded_length=case.log_length, recorded_head=case.log_head,
                           problems=result.problems)
