"""Inboxes: tasks per officer, role and agency; claim and assign; due-soon/overdue counts.

Every list takes a :class:`Scope`: an officer's agencies (from their token), or
unrestricted for a mesh service. Who may claim or assign one task is checked by the
router against the task's agency and role before anything here runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.pagination import after, decode_cursor, encode_cursor, parse_instant
from motcua_workflow.tasks.errors import TaskAlreadyClaimed, TaskClosed, TaskNotFound
from motcua_workflow.tasks.models import Task

Due = Literal["soon", "overdue"]


@dataclass(frozen=True)
class Scope:
    """Which agencies' tasks a caller may see (None: all)."""

    agencies: frozenset[str] | None = None

    def condition(self) -> ColumnElement[bool] | None:
        """The SQL condition restricting tasks to the scope."""
        return None if self.agencies is None else Task.agency_code.in_(self.agencies)


UNRESTRICTED = Scope()


def _filters(scope: Scope, *, agency: str | None, role: str | None, assignee: str | None,
             state: str | None, due: Due | None, now: datetime) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if (c := scope.condition()) is not None:
        conditions.append(c)
    if agency:
        conditions.append(Task.agency_code == agency)
    if role:
        conditions.append(Task.role == role)
    if assignee:
        conditions.append(Task.assignee_id == assignee)
    if state:
        conditions.append(Task.state == state)
    if due == "overdue":
        conditions.append(and_(Task.due_at.is_not(None), Task.due_at < now))
    elif due == "soon":
        conditions.append(and_(Task.due_soon_at <= now, Task.due_at >= now))
    return conditions


async def inbox(session: AsyncSession, scope: Scope, *, agency: str | None, role: str | None,
                assignee: str | None, state: str | None, due: Due | None, now: datetime,
                limit: int, cursor: str | None) -> tuple[list[Task], str | None]:
    """Tasks matching the filters, oldest first, one page."""
    query = select(Task).where(*_filters(scope, agency=agency, role=role, assignee=assignee,
                                         state=state, due=due, now=now))
    if cursor:
        created, task_id = decode_cursor(cursor, 2)
        query = query.where(after(Task.created_at, Task.id, parse_instant(created), task_id))
    rows = list((await session.scalars(
        query.order_by(Task.created_at, Task.id).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].created_at, rows[-1].id) if more else None


async def counts(session: AsyncSession, scope: Scope, *, agency: str | None,
                 now: datetime) -> dict[str, int]:
    """Open, unassigned, due-soon and overdue tasks."""
    base = _filters(scope, agency=agency, role=None, assignee=None, state="open", due=None,
                    now=now)
    overdue = and_(Task.due_at.is_not(None), Task.due_at < now)
    soon = and_(Task.due_soon_at <= now, Task.due_at >= now)
    row = (await session.execute(select(
        func.count(),
        func.count().filter(Task.assignee_id.is_(None)),
        func.count().filter(soon),
        func.count().filter(overdue),
    ).select_from(Task).where(*base))).one()
    return {"open": row[0], "unassigned": row[1], "due_soon": row[2], "overdue": row[3]}


async def lock(session: AsyncSession, task_id: str) -> Task:
    """The task, row-locked (before an Idempotency-Key lookup), or TaskNotFound."""
    task = await session.scalar(select(Task).where(Task.id == task_id).with_for_update())
    if task is None:
        raise TaskNotFound(f"no task {task_id}")
    return task


async def get(session: AsyncSession, task_id: str) -> Task:
    """One task, or TaskNotFound."""
    task = await session.get(Task, task_id)
    if task is None:
        raise TaskNotFound(f"no task {task_id}")
    return task


def _ensure_open(task: Task) -> None:
    if task.state != "open":
        raise TaskClosed(f"task {task.id} is {task.state}")


async def claim(session: AsyncSession, task: Task, officer_id: str, now: datetime) -> Task:
    """The officer takes the task (again: harmless; someone else's: 409)."""
    _ensure_open(task)
    if task.assignee_id not in (None, officer_id):
        raise TaskAlreadyClaimed(f"task {task.id} is claimed by {task.assignee_id}")
    if task.assignee_id is None:
        task.assignee_id, task.claimed_at = officer_id, now
    await session.flush()
    return task


async def assign(session: AsyncSession, task: Task, assignee_id: str, now: datetime) -> Task:
    """Give the task to an officer of its agency (reassigning is allowed)."""
    _ensure_open(task)
    task.assignee_id, task.claimed_at = assignee_id, now
    await session.flush()
    return task
