"""Electronic receipts (biên lai điện tử, Decree 123/2020 as amended by Decree 70/2025)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_payments.db import Base

ISSUED, CANCELLED = "issued", "cancelled"


class ReceiptCounter(Base):
    """Last number used in a series: per issuing agency, per kind, per year (yearly reset)."""

    __tablename__ = "receipt_counter"
    agency_code: Mapped[str] = mapped_column(String(35), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # payment | refund
    year: Mapped[int] = mapped_column(primary_key=True)
    last_value: Mapped[int]


class Receipt(Base):
    """One receipt: a payment's (or a refund's), numbered in its agency's series.

    A payment or refund has at most one *issued* receipt (partial unique indexes); a
    cancelled receipt stays, with its reason, and may point to its replacement.
    """

    __tablename__ = "receipt"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    agency_code: Mapped[str] = mapped_column(String(35))
    year: Mapped[int]
    template: Mapped[str] = mapped_column(String(20))  # mẫu số
    symbol: Mapped[str] = mapped_column(String(20))  # ký hiệu
    number: Mapped[int]
    payment_id: Mapped[str | None] = mapped_column(String(36))
    refund_id: Mapped[str | None] = mapped_column(String(36))
    dossier_code: Mapped[str] = mapped_column(String(60), index=True)
    procedure_code: Mapped[str] = mapped_column(String(40))
    amount_vnd: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(10))
    payer_name: Mapped[str | None] = mapped_column(String(255))
    reference: Mapped[str | None] = mapped_column(String(50))
    gateway_transaction_id: Mapped[str | None] = mapped_column(String(100))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: Printed in the QR code; lets anyone check the receipt against this service.
    verification_code: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_by: Mapped[str | None] = mapped_column(String(100))
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    replaces_id: Mapped[str | None] = mapped_column(String(36))
    replaced_by_id: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (
        UniqueConstraint("agency_code", "kind", "year", "number",
                         name="uq_receipt_series_number"),
        Index("uq_receipt_issued_payment", "payment_id", unique=True,
              sqlite_where=text("status = 'issued' AND payment_id IS NOT NULL"),
              postgresql_where=text("status = 'issued' AND payment_id IS NOT NULL")),
        Index("uq_receipt_issued_refund", "refund_id", unique=True,
              sqlite_where=text("status = 'issued' AND refund_id IS NOT NULL"),
              postgresql_where=text("status = 'issued' AND refund_id IS NOT NULL")),
    )

    @property
    def number_text(self) -> str:
        """The printed number: seven digits."""
        return f"{self.number:07d}"

    def cancel(self, reason: str, actor: str, at: datetime) -> None:
        """Cancel with a reason (the caller checks it is issued)."""
        self.status = CANCELLED
        self.cancel_reason = reason
        self.cancelled_by = actor
        self.cancelled_at = at
