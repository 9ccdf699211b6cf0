"""Agencies and procedures (TTHC) with their revisions and the agencies that handle them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_intake.db import Base

#: Roles an agency plays for a procedure.
COMPETENT = "competent"  # cơ quan thực hiện: decides the dossier
RECEPTION = "reception"  # điểm tiếp nhận: may receive it (phi địa giới)


class Agency(Base):
    """An agency or reception point, by its Decision 20/2020 identifier (mã định danh).

    Codes are re-issued after mergers: ``valid_to`` ends a code and ``replaced_by`` names
    its successor, so old codes still resolve.
    """

    __tablename__ = "agency"
    code: Mapped[str] = mapped_column(String(35), primary_key=True)
    name_vi: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str | None] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    replaced_by: Mapped[str | None] = mapped_column(String(35))
    #: The agency it belongs to (its agency_admin registers it); None for a top-level one.
    parent_code: Mapped[str | None] = mapped_column(String(35))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def is_valid_on(self, day: date) -> bool:
        """Whether the code is in force on ``day``."""
        return (self.valid_from is None or self.valid_from <= day) and \
            (self.valid_to is None or day <= self.valid_to)


class Procedure(Base):
    """An administrative procedure (thủ tục hành chính) by national code ``d.dddddd``.

    ``definition`` is the whole catalog entry (validated by ``ProcedureDefinition``); the
    columns beside it are copies of what lists filter on. Every save bumps ``version`` and
    writes a :class:`ProcedureRevision`, which dossiers point at.
    """

    __tablename__ = "procedure"
    national_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    local_code: Mapped[str | None] = mapped_column(String(60))
    name_vi: Mapped[str] = mapped_column(String(1000))
    name_en: Mapped[str | None] = mapped_column(String(1000))
    field_vi: Mapped[str | None] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(20))
    statutory_amount: Mapped[int | None]
    statutory_unit: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    version: Mapped[int]
    is_bundle: Mapped[bool]
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    #: When it was (last) published: the index scores timely publication.
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: When the announcing decision (quyết định công bố) was issued, where known.
    decision_date: Mapped[date | None] = mapped_column(Date)
    definition: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("uq_procedure_local_code", "local_code", unique=True),)

    def is_available_on(self, day: date) -> bool:
        """Published and in force on ``day`` (dossiers may be submitted)."""
        return self.status == "published" and \
            (self.valid_from is None or self.valid_from <= day) and \
            (self.valid_to is None or day <= self.valid_to)


class ProcedureRevision(Base):
    """One saved version of a procedure's definition (kept for dossiers and audit)."""

    __tablename__ = "procedure_revision"
    national_code: Mapped[str] = mapped_column(
        ForeignKey("procedure.national_code"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(12))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_date: Mapped[date | None] = mapped_column(Date)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ProcedureAgency(Base):
    """An agency competent for a procedure, or a reception point that accepts it."""

    __tablename__ = "procedure_agency"
    national_code: Mapped[str] = mapped_column(
        ForeignKey("procedure.national_code"), primary_key=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("agency.code"), primary_key=True)
    role: Mapped[str] = mapped_column(String(12), primary_key=True)

    __table_args__ = (Index("ix_procedure_agency_agency", "agency_code", "role"),)
