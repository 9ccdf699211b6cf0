"""Fee assessments (thẩm định phí, lệ phí) of received dossiers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_payments.db import Base

DUE, SETTLED, WAIVED, RELEASED = "due", "settled", "waived", "released"


class Assessment(Base):
    """What one dossier owes: lines from the catalog, exemptions applied, what was paid.

    ``payable_vnd`` is fixed at assessment. ``settled_vnd`` and ``refunded_vnd`` are running
    totals kept with the payments and refunds rows (the ledger check recomputes them).
    """

    __tablename__ = "assessment"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dossier_code: Mapped[str] = mapped_column(String(60), unique=True)
    agency_code: Mapped[str] = mapped_column(String(35))
    procedure_code: Mapped[str] = mapped_column(String(40))
    applicant_kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))
    #: The applicant's owner reference from intake's events (``motcua.auth.owner_ref``, a
    #: keyed hash of the personal ID, never the number): lets the citizen see their own
    #: assessment, payments and receipts. None for an organisation or a legacy number.
    owner_ref: Mapped[str | None] = mapped_column(String(64))
    exemptions_claimed: Mapped[list[str]] = mapped_column(JSON)
    exemptions_applied: Mapped[list[str]] = mapped_column(JSON)
    total_vnd: Mapped[int] = mapped_column(BigInteger)
    exempted_vnd: Mapped[int] = mapped_column(BigInteger)
    payable_vnd: Mapped[int] = mapped_column(BigInteger)
    #: Lines whose amount the catalog does not set yet (not payable until configured).
    unpriced_lines: Mapped[int]
    collect: Mapped[str] = mapped_column(String(10))  # before | after | none
    status: Mapped[str] = mapped_column(String(10))
    settled_vnd: Mapped[int] = mapped_column(BigInteger)
    refunded_vnd: Mapped[int] = mapped_column(BigInteger)
    released_vnd: Mapped[int] = mapped_column(BigInteger)
    released_reason: Mapped[str | None] = mapped_column(String(20))
    paid_online: Mapped[bool]
    assessed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int]

    @property
    def due_vnd(self) -> int:
        """What must stay collected: the payable amount, or nothing once released."""
        return self.payable_vnd - self.released_vnd

    @property
    def net_settled_vnd(self) -> int:
        """Settled minus refunded."""
        return self.settled_vnd - self.refunded_vnd

    @property
    def outstanding_vnd(self) -> int:
        """Still to pay (never negative)."""
        return max(0, self.due_vnd - self.net_settled_vnd) if self.status == DUE else 0

    @property
    def pay_before_processing(self) -> bool:
        """Whether the dossier waits in status 6 until paid."""
        return self.collect == "before" and self.payable_vnd > 0

    def record_settlement(self, amount_vnd: int, *, online: bool) -> bool:
        """Count a settled payment; True when this makes the assessment settled."""
        self.settled_vnd += amount_vnd
        self.paid_online = self.paid_online or online
        self.version += 1
        if self.status == DUE and self.net_settled_vnd >= self.due_vnd:
            self.status = SETTLED
            return True
        return False

    def release(self, reason: str) -> int:
        """The dossier was withdrawn or refused: nothing is due; return what to refund."""
        self.released_vnd = self.payable_vnd
        self.released_reason = reason
        self.status = RELEASED
        self.version += 1
        return max(0, self.net_settled_vnd)

    def record_refund(self, amount_vnd: int) -> None:
        """Count a completed refund."""
        self.refunded_vnd += amount_vnd
        self.version += 1


class AssessmentLine(Base):
    """One fee line of an assessment, after exemptions."""

    __tablename__ = "assessment_line"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessment.id"), index=True)
    position: Mapped[int]
    code: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(10))
    label_vi: Mapped[str] = mapped_column(String(255))
    amount_vnd: Mapped[int | None] = mapped_column(BigInteger)
    collect: Mapped[str] = mapped_column(String(10))
    exemption: Mapped[str | None] = mapped_column(String(60))
    payable_vnd: Mapped[int] = mapped_column(BigInteger)

    def as_dict(self) -> dict[str, Any]:
        """For events and responses."""
        return {"code": self.code, "kind": self.kind, "label_vi": self.label_vi,
                "amount_vnd": self.amount_vnd, "payable_vnd": self.payable_vnd,
                "collect": self.collect, "exemption": self.exemption}
