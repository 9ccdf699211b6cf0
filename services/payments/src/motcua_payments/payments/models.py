"""Payments (online through a gateway, or at the counter) and the callbacks received."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ColumnElement, ForeignKey, Index, String, Text, and_, text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_payments.db import Base

PENDING, SETTLED, FAILED, CANCELLED, EXPIRED = ("pending", "settled", "failed", "cancelled",
                                                "expired")
#: A counter payment between its insert and its settlement (same transaction).
RECORDED = "recorded"


class Payment(Base):
    """One payment of a dossier's fees: an online request (MaThamChieu) or a counter payment.

    At most one online payment of an assessment is pending at a time (a partial unique
    index). A payment is settled at most once: :meth:`settle` refuses a second time, and
    the callers take the row lock first.
    """

    __tablename__ = "payment"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(50), unique=True)  # MaThamChieu
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessment.id"), index=True)
    dossier_code: Mapped[str] = mapped_column(String(60), index=True)
    agency_code: Mapped[str] = mapped_column(String(35))
    method: Mapped[str] = mapped_column(String(10))  # gateway | cash | transfer
    amount_vnd: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))
    payer_name: Mapped[str | None] = mapped_column(String(255))
    payment_url: Mapped[str | None] = mapped_column(Text)
    gateway_transaction_id: Mapped[str | None] = mapped_column(String(100))
    #: When the gateway says the money moved (its ThoiGianGD), or the counter time.
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    settled_via: Mapped[str | None] = mapped_column(String(20))
    result_code: Mapped[str | None] = mapped_column(String(10))
    #: Something the gateway said that did not add up (kept for an officer to look at).
    anomaly: Mapped[str | None] = mapped_column(Text)
    #: Who acted last (the token's subject): asked for it, took it at the desk, cancelled it.
    actor: Mapped[str | None] = mapped_column(String(100))
    transfer_reference: Mapped[str | None] = mapped_column(String(100))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: Early reconciliation lease: the replica holding it QUERYs this payment.
    check_lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int]

    __table_args__ = (
        Index("uq_payment_one_pending", "assessment_id", unique=True,
              sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
        Index("ix_payment_status_requested", "status", "requested_at"),
    )

    @property
    def online(self) -> bool:
        """Paid through a gateway (the only kind that counts as online payment)."""
        return self.method == "gateway"

    @hybrid_property
    def unsent(self) -> bool:
        """An online request written but not yet confirmed by the gateway's answer to its
        INIT: no URL, no event (``payments.service.start_online``). Also a SQL condition
        (``where(Payment.unsent)``)."""
        return self.online and self.status == PENDING and self.payment_url is None

    @unsent.inplace.expression
    @classmethod
    def _unsent_condition(cls) -> ColumnElement[bool]:
        return and_(cls.method == "gateway", cls.status == PENDING, cls.payment_url.is_(None))

    def settle(self, *, transaction_id: str | None, paid_at: datetime, via: str,
               at: datetime) -> None:
        """Mark the money received. Settling twice is a bug the caller must prevent."""
        if self.status == SETTLED:
            raise RuntimeError(f"payment {self.reference} is already settled")
        self.status = SETTLED
        self.gateway_transaction_id = transaction_id
        self.paid_at = paid_at
        self.settled_at = at
        self.settled_via = via
        self.version += 1

    def fail(self, *, code: str | None, status: str = FAILED) -> bool:
        """A pending payment failed or expired; False if it was not pending."""
        if self.status != PENDING:
            return False
        self.status = status
        self.result_code = code
        self.version += 1
        return True

    def cancel(self, reason: str, actor: str) -> bool:
        """Cancel a pending request; False if it was not pending."""
        if self.status != PENDING:
            return False
        self.status = CANCELLED
        self.cancel_reason = reason
        self.actor = actor
        self.version += 1
        return True


class GatewayCallback(Base):
    """Every notification received from a gateway, trusted or not, and what came of it."""

    __tablename__ = "gateway_callback"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    channel: Mapped[str] = mapped_column(String(10))  # ipn | return
    reference: Mapped[str | None] = mapped_column(String(50), index=True)
    transaction_id: Mapped[str | None] = mapped_column(String(100))
    amount_vnd: Mapped[int | None] = mapped_column(BigInteger)
    result_code: Mapped[str | None] = mapped_column(String(10))
    #: settled | duplicate | failed | ignored | forged | malformed | unknown_reference |
    #: amount_mismatch | unconfirmed | gateway_unavailable
    outcome: Mapped[str] = mapped_column(String(20), index=True)
    detail: Mapped[str | None] = mapped_column(Text)
    payment_id: Mapped[str | None] = mapped_column(String(36))
    client_ip: Mapped[str | None] = mapped_column(String(45))
    payload: Mapped[Any] = mapped_column(JSON)
