"""HTTP entry points for tasks and inboxes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from motcua.errors import problems
from motcua.idempotency import IdempotencyDep, IdempotencyInProgress, IdempotencyKeyReused
from motcua.pagination import CursorQuery, LimitQuery
from motcua.service import SessionDep
from motcua_workflow.context import WorkflowDep
from motcua_workflow.tasks import service
from motcua_workflow.tasks.errors import (
    TaskAlreadyClaimed,
    TaskClosed,
    TaskNotFound,
    TaskOtherAgency,
    TaskRoleNotAllowed,
)
from motcua_workflow.tasks.schemas import TaskAssign, TaskClaim, TaskCounts, TaskPage, TaskRead
from motcua_workflow.web import remember

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])


def task_scope() -> service.Scope:
    """The caller's scope; unrestricted until authentication (issue 5) provides agencies."""
    return service.UNRESTRICTED


ScopeDep = Annotated[service.Scope, Depends(task_scope)]
AgencyQuery = Annotated[str | None, Query(pattern=r"^[0-9A-Z.]{1,35}$")]


@router.get("", operation_id="listTasks")
async def list_tasks(
    session: SessionDep, wf: WorkflowDep, scope: ScopeDep, agency: AgencyQuery = None,
    role: Annotated[str | None, Query(max_length=60)] = None,
    assignee: Annotated[str | None, Query(max_length=100)] = None,
    state: Annotated[str | None, Query(pattern="^(open|done|cancelled)$")] = "open",
    due: Annotated[service.Due | None, Query()] = None,
    limit: LimitQuery = 50, cursor: CursorQuery = None,
) -> TaskPage:
    """An inbox: tasks by agency, role, assignee, state, and due soon / overdue."""
    rows, next_cursor = await service.inbox(
        session, scope, agency=agency, role=role, assignee=assignee, state=state, due=due,
        now=wf.clock.now(), limit=limit, cursor=cursor)
    return TaskPage(items=[TaskRead.model_validate(t) for t in rows], next_cursor=next_cursor)


@router.get("/counts", operation_id="countTasks")
async def count_tasks(session: SessionDep, wf: WorkflowDep, scope: ScopeDep,
                      agency: AgencyQuery = None) -> TaskCounts:
    """Open, unassigned, due-soon and overdue tasks of an agency (or of the scope)."""
    figures = await service.counts(session, scope, agency=agency, now=wf.clock.now())
    return TaskCounts(agency_code=agency, **figures)


@router.get("/{task_id}", operation_id="getTask", responses=problems(TaskNotFound))
async def get_task(task_id: str, session: SessionDep, scope: ScopeDep) -> TaskRead:
    """One task."""
    return TaskRead.model_validate(await service.get(session, scope, task_id))


_CLAIM_PROBLEMS = problems(TaskNotFound, TaskClosed, TaskAlreadyClaimed, TaskOtherAgency,
                           TaskRoleNotAllowed, IdempotencyKeyReused, IdempotencyInProgress)


@router.post("/{task_id}/claim", operation_id="claimTask", response_model=TaskRead,
             responses=_CLAIM_PROBLEMS)
async def claim_task(task_id: str, body: TaskClaim, session: SessionDep, wf: WorkflowDep,
                     scope: ScopeDep, idem: IdempotencyDep) -> TaskRead | JSONResponse:
    """Take a task: the acting officer becomes its assignee."""
    await service.lock(session, task_id)
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    task = await service.claim(session, scope, task_id, body.actor, wf.clock.now())
    result = TaskRead.model_validate(task)
    await remember(session, idem, 200, result)
    return result


@router.post("/{task_id}/assignment", operation_id="assignTask", response_model=TaskRead,
             responses=_CLAIM_PROBLEMS)
async def assign_task(task_id: str, body: TaskAssign, session: SessionDep, wf: WorkflowDep,
                      scope: ScopeDep, idem: IdempotencyDep) -> TaskRead | JSONResponse:
    """Give a task to an officer of its agency."""
    await service.lock(session, task_id)
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    task = await service.assign(session, scope, task_id, body.actor, body.assignee_id,
                                wf.clock.now())
    result = TaskRead.model_validate(task)
    await remember(session, idem, 200, result)
    return result
