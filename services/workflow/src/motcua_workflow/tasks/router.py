"""HTTP entry points for tasks and inboxes.

Officers see the tasks of their agencies (asking for another agency's: 403); mesh
services with ``cases.read`` see all. Claiming needs the task's role in its agency,
assigning an approver or agency admin there.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from motcua.auth import Principal
from motcua.errors import problems
from motcua.idempotency import IdempotencyDep, IdempotencyInProgress, IdempotencyKeyReused
from motcua.pagination import CursorInvalid, CursorQuery, LimitQuery
from motcua.service import SessionDep
from motcua_workflow.access import ACTING_ROLES, DENIED, CaseReader, Officer
from motcua_workflow.context import WorkflowDep
from motcua_workflow.tasks import service
from motcua_workflow.tasks.errors import TaskAlreadyClaimed, TaskClosed, TaskNotFound
from motcua_workflow.tasks.schemas import TaskAssign, TaskCounts, TaskPage, TaskRead
from motcua_workflow.web import remember

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

AgencyQuery = Annotated[str | None, Query(pattern=r"^[0-9A-Z.]{1,35}$")]
#: Roles that hand a task to someone, in the task's agency.
ASSIGNING_ROLES = ("approver", "agency_admin")


def scope_of(who: Principal, agency: str | None) -> service.Scope:
    """The caller's scope; an officer asking for another agency gets 403."""
    if who.kind != "officer":
        return service.UNRESTRICTED
    if agency is not None:
        who.ensure_agency(agency)
    return service.Scope(who.agencies)


@router.get("", operation_id="listTasks", responses=problems(*DENIED, CursorInvalid))
async def list_tasks(
    session: SessionDep, wf: WorkflowDep, who: CaseReader, agency: AgencyQuery = None,
    role: Annotated[str | None, Query(max_length=60)] = None,
    assignee: Annotated[str | None, Query(max_length=100)] = None,
    state: Annotated[str | None, Query(pattern="^(open|done|cancelled)$")] = "open",
    due: Annotated[service.Due | None, Query()] = None,
    limit: LimitQuery = 50, cursor: CursorQuery = None,
) -> TaskPage:
    """An inbox: tasks by agency, role, assignee, state, and due soon / overdue."""
    rows, next_cursor = await service.inbox(
        session, scope_of(who, agency), agency=agency, role=role, assignee=assignee,
        state=state, due=due, now=wf.clock.now(), limit=limit, cursor=cursor)
    return TaskPage(items=[TaskRead.model_validate(t) for t in rows], next_cursor=next_cursor)


@router.get("/counts", operation_id="countTasks", responses=problems(*DENIED))
async def count_tasks(session: SessionDep, wf: WorkflowDep, who: CaseReader,
                      agency: AgencyQuery = None) -> TaskCounts:
    """Open, unassigned, due-soon and overdue tasks of an agency (or of the scope)."""
    figures = await service.counts(session, scope_of(who, agency), agency=agency,
                                   now=wf.clock.now())
    return TaskCounts(agency_code=agency, **figures)


@router.get("/{task_id}", operation_id="getTask", responses=problems(TaskNotFound, *DENIED))
async def get_task(task_id: str, session: SessionDep, who: CaseReader) -> TaskRead:
    """One task (officers of its agency)."""
    task = await service.get(session, task_id)
    who.ensure_agency(task.agency_code)
    return TaskRead.model_validate(task)


_CLAIM_PROBLEMS = problems(TaskNotFound, *DENIED, TaskClosed, TaskAlreadyClaimed,
                           IdempotencyKeyReused, IdempotencyInProgress)


@router.post("/{task_id}/claim", operation_id="claimTask", response_model=TaskRead,
             responses=_CLAIM_PROBLEMS)
async def claim_task(task_id: str, session: SessionDep, wf: WorkflowDep, who: Officer,
                     idem: IdempotencyDep) -> TaskRead | JSONResponse:
    """Take a task: the calling officer, holding its role in its agency, becomes its
    assignee (a transfer's acknowledgement: any officer there who acts)."""
    task = await service.lock(session, task_id)
    who.ensure_agency(task.agency_code, *((task.role,) if task.role else ACTING_ROLES))
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    task = await service.claim(session, task, who.subject, wf.clock.now())
    result = TaskRead.model_validate(task)
    await remember(session, idem, 200, result)
    return result


@router.post("/{task_id}/assignment", operation_id="assignTask", response_model=TaskRead,
             responses=_CLAIM_PROBLEMS)
async def assign_task(task_id: str, body: TaskAssign, session: SessionDep, wf: WorkflowDep,
                      who: Officer, idem: IdempotencyDep) -> TaskRead | JSONResponse:
    """Give a task to an officer of its agency (an approver or agency admin there)."""
    task = await service.lock(session, task_id)
    who.ensure_agency(task.agency_code, *ASSIGNING_ROLES)
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    task = await service.assign(session, task, body.assignee_id, wf.clock.now())
    result = TaskRead.model_validate(task)
    await remember(session, idem, 200, result)
    return result
