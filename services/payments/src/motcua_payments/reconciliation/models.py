"""Daily statement reconciliation runs and their findings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_payments.db import Base

RUNNING, COMPLETED, FAILED = "running", "completed", "failed"
MATCHED, MISSING_OURS, MISSING_THEIRS, MISMATCHED = ("matched", "missing_ours",
                                                     "missing_theirs", "mismatched")


class ReconciliationRun(Base):
    """The reconciliation of one partner's statement for one business day.

    The unique (partner, day) row is the claim: a replica that inserts it (or finds it
    failed or its lease expired) runs it; the others leave it alone.
    """

    __tablename__ = "reconciliation_run"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    partner_code: Mapped[str] = mapped_column(String(50))
    statement_date: Mapped[str] = mapped_column(String(8))  # yyyyMMdd
    status: Mapped[str] = mapped_column(String(10))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    matched: Mapped[int]
    missing_ours: Mapped[int]
    missing_theirs: Mapped[int]
    mismatched: Mapped[int]
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("partner_code", "statement_date",
                                       name="uq_reconciliation_run_day"),)


class ReconciliationItem(Base):
    """One finding: a statement line and/or one of our payments, and how they compare."""

    __tablename__ = "reconciliation_item"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("reconciliation_run.id"), index=True)
    category: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(50))
    payment_id: Mapped[str | None] = mapped_column(String(36))
    our_transaction_id: Mapped[str | None] = mapped_column(String(100))
    their_transaction_id: Mapped[str | None] = mapped_column(String(100))
    our_amount_vnd: Mapped[int | None] = mapped_column(BigInteger)
    their_amount_vnd: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str | None] = mapped_column(Text)
