"""The process log (phiếu kiểm soát quá trình) as stored: a hash chain per case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_workflow.db import Base


class ProcessLogEntry(Base):
    """One hand-over or action on a case; ``hash`` chains it to the entry before."""

    __tablename__ = "process_log_entry"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"))
    dossier_code: Mapped[str] = mapped_column(String(80))
    seq: Mapped[int]
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    action: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str | None] = mapped_column(String(60))
    agency_code: Mapped[str | None] = mapped_column(String(35))
    status_before: Mapped[int | None]
    status_after: Mapped[int | None]
    step_key: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_process_log_entry_case_seq"),)
