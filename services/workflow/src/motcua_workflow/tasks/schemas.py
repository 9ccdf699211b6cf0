"""Request and response bodies of the task endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class TaskRead(BaseModel):
    """A task in an inbox."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    dossier_code: str
    kind: str
    step_key: str | None
    agency_code: str
    role: str | None
    assignee_id: str | None
    state: str
    created_at: datetime
    claimed_at: datetime | None
    due_at: datetime | None
    due_soon_at: datetime | None
    done_at: datetime | None
    done_by: str | None
    outcome: str | None


class TaskPage(BaseModel):
    """A page of tasks."""

    items: list[TaskRead]
    next_cursor: str | None = None


class TaskCounts(BaseModel):
    """Open work of an agency (or of all agencies in scope)."""

    agency_code: str | None
    open: int
    unassigned: int
    due_soon: int
    overdue: int


class TaskAssign(BaseModel):
    """Give a task to an officer of its agency (an approver or agency admin does this)."""

    model_config = ConfigDict(extra="forbid")
    assignee_id: str = Field(min_length=1, max_length=100)
