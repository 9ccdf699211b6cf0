"""Tasks: work waiting for an officer of an agency in a role (việc cần xử lý)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_workflow.db import Base


class Task(Base):
    """One piece of work on a case: a process step, or acknowledging a transfer."""

    __tablename__ = "task"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"))
    dossier_code: Mapped[str] = mapped_column(String(80))
    #: ``step`` (a process step) or ``acknowledge`` (receive a transferred case).
    kind: Mapped[str] = mapped_column(String(20))
    step_key: Mapped[str | None] = mapped_column(String(60))
    agency_code: Mapped[str] = mapped_column(String(35))
    #: Role expected to do it; None: any officer of the agency.
    role: Mapped[str | None] = mapped_column(String(60))
    assignee_id: Mapped[str | None] = mapped_column(String(100))
    #: ``open`` → ``done`` or ``cancelled``.
    state: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: The step's (or acknowledgement's) own deadline from its budget, in working time.
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: When "due soon" starts for this task (its last quarter of budget, at least 1 hour).
    due_soon_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    done_by: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        Index("ix_task_agency_state", "agency_code", "state", "due_at"),
        Index("ix_task_assignee_state", "assignee_id", "state"),
        Index("ix_task_case", "case_id"),
    )

    def finish(self, *, by: str, outcome: str, at: datetime) -> None:
        """Close the task with what was done."""
        self.state, self.done_by, self.outcome, self.done_at = "done", by, outcome, at

    def cancel(self, *, outcome: str, at: datetime) -> None:
        """Drop the task (the case moved on without it)."""
        self.state, self.outcome, self.done_at = "cancelled", outcome, at
