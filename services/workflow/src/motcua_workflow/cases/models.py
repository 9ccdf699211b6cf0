"""Cases: a received dossier's processing (xử lý hồ sơ)."""

from __future__ import annotations

from datetime import datetime

from motcua.db import UtcDateTime
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from motcua_workflow.db import Base


class Case(Base):
    """The processing of one dossier, with its national status code (domain.md §4)."""

    __tablename__ = "case"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dossier_code: Mapped[str] = mapped_column(String(60), unique=True)
    agency_code: Mapped[str] = mapped_column(String(35))
    procedure_code: Mapped[str] = mapped_column(String(40))
    status: Mapped[int]
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int]

    def change_status(self, status: int) -> int:
        """Move to ``status``; return the previous one."""
        previous, self.status = self.status, status
        self.version += 1
        return previous
