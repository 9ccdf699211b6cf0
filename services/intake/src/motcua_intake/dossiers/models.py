"""Dossiers (hồ sơ), their documents and timeline, and the sequence behind their codes.

The invariants of the one-stop rules are methods of :class:`Dossier`; each raises
:class:`~motcua_intake.dossiers.errors.DossierWrongStatus` when the dossier is not in a
status that allows the step, and bumps ``version`` (carried as the event ``sequence``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_intake.db import Base
from motcua_intake.dossiers.errors import DossierAlreadyRated, DossierWrongStatus

#: National status codes (domain.md §4).
SUBMITTED = 1  # Mới đăng ký
RECEIVED = 2  # Được tiếp nhận
REFUSED = 3  # Không được tiếp nhận
PROCESSING = 4  # Đang xử lý
SUPPLEMENT_REQUESTED = 5  # Yêu cầu bổ sung giấy tờ
AWAITING_PAYMENT = 6  # Yêu cầu thực hiện nghĩa vụ tài chính
WITHDRAWN = 7  # Công dân yêu cầu rút hồ sơ
STOPPED = 8  # Dừng xử lý
PROCESSED = 9  # Đã xử lý xong
RETURNED = 10  # Đã trả kết quả

STATUS_LABELS: dict[int, tuple[str, str]] = {
    1: ("Mới đăng ký", "Submitted, awaiting reception"),
    2: ("Được tiếp nhận", "Received"),
    3: ("Không được tiếp nhận", "Reception refused"),
    4: ("Đang xử lý", "Being processed"),
    5: ("Yêu cầu bổ sung giấy tờ", "Supplement requested"),
    6: ("Yêu cầu thực hiện nghĩa vụ tài chính", "Awaiting fee or tax payment"),
    7: ("Công dân yêu cầu rút hồ sơ", "Withdrawn by the applicant"),
    8: ("Dừng xử lý", "Processing stopped"),
    9: ("Đã xử lý xong", "Processed, result ready"),
    10: ("Đã trả kết quả", "Result returned"),
}
#: Statuses in which the statutory clock runs (used by "due soon" and "overdue").
CLOCK_RUNNING = (RECEIVED, PROCESSING, AWAITING_PAYMENT)
#: Statuses workflow owns after reception; intake mirrors them for public tracking.
WORKFLOW_STATUSES = frozenset({PROCESSING, SUPPLEMENT_REQUESTED, AWAITING_PAYMENT, STOPPED,
                               PROCESSED, RETURNED})
#: Where a dossier can no longer change through intake or workflow mirroring.
FINAL = frozenset({REFUSED, WITHDRAWN, RETURNED})
WITHDRAWABLE = frozenset({SUBMITTED, RECEIVED, PROCESSING, SUPPLEMENT_REQUESTED,
                          AWAITING_PAYMENT})
RATEABLE = frozenset({PROCESSED, RETURNED})


class Dossier(Base):
    """A dossier submitted on one of the three channels (KenhThucHien 1/2/3)."""

    __tablename__ = "dossier"
    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("agency.code"))
    procedure_code: Mapped[str] = mapped_column(ForeignKey("procedure.national_code"))
    procedure_version: Mapped[int | None]
    channel: Mapped[str] = mapped_column(String(10))
    reception_point: Mapped[str | None] = mapped_column(String(35))
    status: Mapped[int]
    applicant_kind: Mapped[str] = mapped_column(String(20))
    applicant_id_number: Mapped[str] = mapped_column(String(20))
    applicant_name: Mapped[str] = mapped_column(String(255))
    applicant_phone: Mapped[str | None] = mapped_column(String(20))
    #: The citizen who submitted an organisation's dossier as its representative (their
    #: personal ID), so they can follow and act on it like an applicant.
    representative_id_number: Mapped[str | None] = mapped_column(String(20))
    result_delivery: Mapped[str] = mapped_column(String(10))
    exemptions_claimed: Mapped[list[str] | None] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    submitted_by: Mapped[str | None] = mapped_column(String(100))
    #: Reception (tiếp nhận): when, by whom, the statutory time used and the appointment.
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_by: Mapped[str | None] = mapped_column(String(100))
    statutory_time: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due_explanation: Mapped[dict[str, str] | None] = mapped_column(JSON)
    refused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    refused_by: Mapped[str | None] = mapped_column(String(100))
    refusal_reasons: Mapped[list[str] | None] = mapped_column(JSON)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    rating_score: Mapped[int | None]
    rating_complaint: Mapped[bool | None]
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: What the applicant must do next, for public tracking: [{kind, text_vi, text_en}].
    awaited: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    supplement_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Highest workflow case event sequence applied (out-of-order tolerance).
    case_sequence: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: Bumped on every change; carried as the event ``sequence`` so consumers can order.
    version: Mapped[int]

    __table_args__ = (
        Index("ix_dossier_agency_submitted", "agency_code", "submitted_at"),
        Index("ix_dossier_status_submitted", "status", "submitted_at"),
        Index("ix_dossier_due_at", "due_at"),
        Index("ix_dossier_procedure_code", "procedure_code"),
        Index("ix_dossier_applicant_id_number", "applicant_id_number"),
        Index("ix_dossier_representative_id_number", "representative_id_number"),
    )

    def _change(self, status: int, at: datetime) -> None:
        self.status = status
        self.updated_at = at
        self.version += 1

    def require_status(self, allowed: frozenset[int] | tuple[int, ...], action: str) -> None:
        if self.status not in allowed:
            raise DossierWrongStatus(
                f"cannot {action} a dossier in status {self.status}", status=self.status,
                allowed=sorted(allowed))

    def receive(self, *, at: datetime, due_at: datetime, statutory_time: dict[str, Any],
                explanation: dict[str, str], by: str | None) -> None:
        """Receive at the desk (status 1 → 2); the appointment date is fixed."""
        self.require_status((SUBMITTED,), "receive")
        self.received_at, self.received_by, self.due_at = at, by, due_at
        self.statutory_time, self.due_explanation = statutory_time, explanation
        self.awaited = []
        self._change(RECEIVED, at)

    def refuse(self, reasons: list[str], *, at: datetime, by: str | None) -> None:
        """Refuse reception with reasons (status 1 → 3, phiếu từ chối)."""
        self.require_status((SUBMITTED,), "refuse")
        self.refused_at, self.refused_by, self.refusal_reasons = at, by, reasons
        self.awaited = []
        self._change(REFUSED, at)

    def withdraw(self, reason: str | None, *, at: datetime) -> None:
        """The applicant withdraws the dossier (status 7)."""
        self.require_status(WITHDRAWABLE, "withdraw")
        self.withdrawn_at, self.withdrawal_reason = at, reason
        self.awaited = []
        self._change(WITHDRAWN, at)

    def supplement(self, *, at: datetime) -> None:
        """The applicant answered a supplement request (5 → 4: processing resumes)."""
        self.require_status((SUPPLEMENT_REQUESTED,), "supplement")
        self.supplement_count += 1
        self.awaited = []
        self._change(PROCESSING, at)

    def rate(self, score: int, *, complaint: bool, comment: str | None, at: datetime) -> None:
        """The applicant rates the service once, after the result."""
        self.require_status(RATEABLE, "rate")
        if self.rated_at is not None:
            raise DossierAlreadyRated(f"dossier {self.code} was already rated")
        self.rating_score, self.rating_complaint = score, complaint
        self.rating_comment, self.rated_at = comment, at
        self.updated_at = at
        self.version += 1

    def mirror_case(self, sequence: int, *, at: datetime, status: int | None = None,
                    awaited: list[dict[str, Any]] | None = None,
                    due_at: datetime | None = None) -> bool:
        """Apply what workflow reports after reception (for public tracking).

        Events older than the last applied case version are stale and ignored; several
        events of one case version all apply. Statuses intake decides itself (1, 2, 3, 7)
        are never taken from workflow, and a refused, withdrawn or returned dossier stays
        so. Returns whether anything changed.
        """
        if self.status in FINAL or self.status == SUBMITTED or sequence < self.case_sequence:
            return False
        self.case_sequence = sequence
        changed = False
        if status is not None and status in WORKFLOW_STATUSES and status != self.status:
            self.status = status
            changed = True
        if awaited is not None and awaited != (self.awaited or []):
            self.awaited = awaited
            changed = True
        if due_at is not None and due_at != self.due_at:
            self.due_at = due_at
            changed = True
        if changed:
            self.updated_at = at
            self.version += 1
        return changed


class DossierDocument(Base):
    """A document component handed in with a dossier or a supplement (thành phần hồ sơ)."""

    __tablename__ = "dossier_document"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dossier_code: Mapped[str] = mapped_column(ForeignKey("dossier.code"))
    component_code: Mapped[str] = mapped_column(String(100))
    #: upload (electronic file), paper, shown (presented at the desk), data_store (reused).
    source: Mapped[str] = mapped_column(String(12))
    attachment_id: Mapped[str | None] = mapped_column(ForeignKey("attachment.id"))
    data_store_ref: Mapped[str | None] = mapped_column(String(200))
    copies: Mapped[int]
    stage: Mapped[str] = mapped_column(String(12))  # submission / supplement
    supplement_request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_dossier_document_dossier_code", "dossier_code"),)


class DossierHistory(Base):
    """One line of a dossier's public timeline (statuses and what happened)."""

    __tablename__ = "dossier_history"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    dossier_code: Mapped[str] = mapped_column(ForeignKey("dossier.code"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[int]
    kind: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(12))  # intake / workflow
    note_vi: Mapped[str | None] = mapped_column(Text)
    note_en: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_dossier_history_dossier_code", "dossier_code", "id"),)


class DossierSequence(Base):
    """Last sequence number used for an agency on a business day (YYMMDD, Asia/Ho_Chi_Minh)."""

    __tablename__ = "dossier_sequence"
    agency_code: Mapped[str] = mapped_column(String(35), primary_key=True)
    day: Mapped[str] = mapped_column(String(6), primary_key=True)
    last_value: Mapped[int]
