"""Compact facts per dossier, projected from every service's events."""

from __future__ import annotations

from datetime import datetime

from motcua.db import UtcDateTime
from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from motcua_metrics.db import Base


class DossierFact(Base):
    """What metrics knows of one dossier; rows may be created by whichever event comes first."""

    __tablename__ = "dossier_fact"
    dossier_code: Mapped[str] = mapped_column(String(60), primary_key=True)
    agency_code: Mapped[str] = mapped_column(String(35))
    procedure_code: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[int | None]
    #: Highest workflow case version applied to ``status`` (stale events are skipped).
    status_sequence: Mapped[int]
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    case_opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_dossier_fact_agency_submitted", "agency_code", "submitted_at"),)
