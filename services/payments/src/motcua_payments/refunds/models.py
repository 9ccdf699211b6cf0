"""Refunds (hoàn trả phí, lệ phí) owed after withdrawal, refusal or an overpayment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_payments.db import Base

PENDING, COMPLETED = "pending", "completed"


class Refund(Base):
    """Money to pay back for one payment of a dossier."""

    __tablename__ = "refund"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessment.id"), index=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payment.id"), index=True)
    dossier_code: Mapped[str] = mapped_column(String(60), index=True)
    agency_code: Mapped[str] = mapped_column(String(35))
    amount_vnd: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(20))  # withdrawn | refused | overpayment | manual
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    method: Mapped[str | None] = mapped_column(String(10))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_by: Mapped[str | None] = mapped_column(String(100))
    transfer_reference: Mapped[str | None] = mapped_column(String(100))
