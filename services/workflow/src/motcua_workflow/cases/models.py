"""Cases: a received dossier's processing (xử lý hồ sơ), its deadline ledger, transfers,
supplement requests and the apology/extension slip."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_workflow.db import Base

#: National status codes (domain.md §4).
SUBMITTED, RECEIVED, REFUSED, PROCESSING, SUPPLEMENT, PAYMENT = 1, 2, 3, 4, 5, 6
WITHDRAWN, STOPPED, FINISHED, RETURNED = 7, 8, 9, 10
#: Statuses after which nothing more happens to a case.
CLOSED_STATUSES = frozenset({REFUSED, WITHDRAWN, STOPPED, RETURNED})
#: Statuses at which processing is over (classification is fixed).
ENDED_STATUSES = frozenset({REFUSED, WITHDRAWN, STOPPED, FINISHED, RETURNED})


class Case(Base):
    """The processing of one dossier, with its national status code (domain.md §4).

    ``version`` grows with every change and is the events' ``sequence``. Deadline columns
    (``due_at``, ``statutory_due_at``, ``paused_since``) are derived from the ledger
    (:class:`DeadlineEntry`) whenever it changes, never written by hand.
    """

    __tablename__ = "case"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dossier_code: Mapped[str] = mapped_column(String(60), unique=True)
    agency_code: Mapped[str] = mapped_column(String(35))
    procedure_code: Mapped[str] = mapped_column(String(40))
    #: The applicant's owner reference from intake's events (``motcua.auth.owner_ref``),
    #: never the ID number: lets the citizen read their case and rides on case events.
    owner_ref: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[int]
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int]

    definition_id: Mapped[str | None] = mapped_column(ForeignKey("process_definition.id"))
    definition_version: Mapped[int | None]
    channel: Mapped[str | None] = mapped_column(String(10))
    #: A bundle dossier's member case points at the bundle's case (liên thông).
    parent_case_id: Mapped[str | None] = mapped_column(ForeignKey("case.id"))
    bundle_code: Mapped[str | None] = mapped_column(String(40))
    #: Member procedures of a bundle dossier, each run as a sub-case.
    member_procedures: Mapped[list[str] | None] = mapped_column(JSON)
    #: Where the case is now (changes with transfers) and at which step.
    current_agency_code: Mapped[str | None] = mapped_column(String(35))
    current_step: Mapped[str | None] = mapped_column(String(60))
    step_entered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    statutory_amount: Mapped[int | None]
    statutory_unit: Mapped[str | None] = mapped_column(String(20))
    statutory_cutoff: Mapped[str | None] = mapped_column(String(5))
    #: The appointment intake printed on the receipt (kept to report disagreements).
    intake_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: Derived from the ledger: the appointment now (None while paused) ...
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: ... and the statutory appointment (pauses added back, extension not applied).
    statutory_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paused_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    supplement_requests: Mapped[int] = mapped_column(default=0)
    extended: Mapped[bool] = mapped_column(default=False)

    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    classification: Mapped[str | None] = mapped_column(String(10))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    #: Durable timers: the alerts already sent, and when the case must next be looked at.
    due_soon_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    overdue_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_check_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    #: Head of the process log's hash chain (also published on every event).
    log_length: Mapped[int] = mapped_column(default=0)
    log_head: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_case_next_check_at", "next_check_at"),
        Index("ix_case_parent_case_id", "parent_case_id"),
        Index("ix_case_current_agency_status", "current_agency_code", "status"),
        Index("ix_case_agency_opened", "agency_code", "opened_at"),
        Index("ix_case_opened_at", "opened_at", "id"),
    )

    @property
    def is_closed(self) -> bool:
        """Nothing more can happen (refused, withdrawn, stopped or returned)."""
        return self.status in CLOSED_STATUSES

    @property
    def has_ended(self) -> bool:
        """Processing is over (finished, or closed)."""
        return self.status in ENDED_STATUSES

    @property
    def is_paused(self) -> bool:
        """The deadline clock is stopped (waiting for the applicant)."""
        return self.paused_since is not None

    def change_status(self, status: int) -> int:
        """Move to ``status``; return the previous one."""
        previous, self.status = self.status, status
        self.version += 1
        return previous

    def touch(self) -> None:
        """Count a change that keeps the status (a hand-over, a transfer)."""
        self.version += 1


class DeadlineEntry(Base):
    """One line of a case's deadline ledger: start, pause, resume or extend."""

    __tablename__ = "deadline_entry"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    amount: Mapped[int | None]
    unit: Mapped[str | None] = mapped_column(String(20))
    cutoff: Mapped[str | None] = mapped_column(String(5))
    new_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[str | None] = mapped_column(String(100))
    ref: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_deadline_entry_case_seq"),)


class TransferLeg(Base):
    """One leg of an inter-agency or multi-level transfer (liên thông)."""

    __tablename__ = "transfer_leg"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"))
    leg: Mapped[int]
    from_agency_code: Mapped[str] = mapped_column(String(35))
    to_agency_code: Mapped[str] = mapped_column(String(35))
    to_level: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_by: Mapped[str] = mapped_column(String(100))
    acknowledge_by: Mapped[datetime] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    ack_alerted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    budget_minutes: Mapped[int | None]
    leg_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("case_id", "leg", name="uq_transfer_leg_case_leg"),)


class SupplementRequest(Base):
    """A request to the applicant to supplement the dossier (phiếu yêu cầu bổ sung)."""

    __tablename__ = "supplement_request"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"))
    seq: Mapped[int]
    items: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    requested_by: Mapped[str] = mapped_column(String(100))
    supplemented_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_supplement_request_case", "case_id"),)


class Apology(Base):
    """The apology and extension slip of a late case (phiếu xin lỗi và hẹn lại ngày trả).

    One per case: drafted (by the timer or an officer), then issued with the new
    appointment, which can be set only once.
    """

    __tablename__ = "apology"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), unique=True)
    dossier_code: Mapped[str] = mapped_column(String(60))
    drafted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    drafted_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    original_due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    proposed_due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    notice_deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    issued_by: Mapped[str | None] = mapped_column(String(100))
    new_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    notice_in_time: Mapped[bool | None]


class PaymentHold(Base):
    """What payments said about a dossier's fees, and the status-6 pause it caused.

    Keyed by dossier code, not case: an assessment (or even its settlement) may arrive
    before the case is received, and is applied at reception. ``assessed_seq`` is the
    envelope sequence (assessment version) of the assessment applied.
    """

    __tablename__ = "payment_hold"
    dossier_code: Mapped[str] = mapped_column(String(60), primary_key=True)
    assessment_id: Mapped[str | None] = mapped_column(String(36))
    assessed_seq: Mapped[int | None]
    #: None until FeeAssessedV1 arrives.
    pay_before: Mapped[bool | None]
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: The status the case goes back to when the payment is settled.
    status_before: Mapped[int | None]
