"""Agencies and procedures (TTHC) as intake needs them to accept a dossier."""

from __future__ import annotations

from datetime import datetime

from motcua.db import UtcDateTime
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from motcua_intake.db import Base


class Agency(Base):
    """An agency or reception point, by its Decision 20/2020 identifier (mã định danh)."""

    __tablename__ = "agency"
    code: Mapped[str] = mapped_column(String(35), primary_key=True)
    name_vi: Mapped[str] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Procedure(Base):
    """An administrative procedure (thủ tục hành chính) by national code ``d.dddddd``."""

    __tablename__ = "procedure"
    national_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_vi: Mapped[str] = mapped_column(String(500))
    level: Mapped[str] = mapped_column(String(20))
    statutory_amount: Mapped[int | None]
    statutory_unit: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
