"""Dossiers (hồ sơ) and the per-agency, per-day sequence behind their codes."""

from __future__ import annotations

from datetime import datetime

from motcua.db import UtcDateTime
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from motcua_intake.db import Base

#: National status codes (domain.md §4) used by intake.
SUBMITTED = 1


class Dossier(Base):
    """A dossier submitted on one of the three channels (KenhThucHien 1/2/3)."""

    __tablename__ = "dossier"
    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("agency.code"))
    procedure_code: Mapped[str] = mapped_column(ForeignKey("procedure.national_code"))
    channel: Mapped[str] = mapped_column(String(10))
    reception_point: Mapped[str | None] = mapped_column(String(35))
    status: Mapped[int]
    applicant_kind: Mapped[str] = mapped_column(String(20))
    applicant_id_number: Mapped[str] = mapped_column(String(20))
    applicant_name: Mapped[str] = mapped_column(String(255))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: Bumped on every change; carried as the event ``sequence`` so consumers can order.
    version: Mapped[int]

    __table_args__ = (Index("ix_dossier_agency_submitted", "agency_code", "submitted_at"),)


class DossierSequence(Base):
    """Last sequence number used for an agency on a business day (YYMMDD, Asia/Ho_Chi_Minh)."""

    __tablename__ = "dossier_sequence"
    agency_code: Mapped[str] = mapped_column(String(35), primary_key=True)
    day: Mapped[str] = mapped_column(String(6), primary_key=True)
    last_value: Mapped[int]
