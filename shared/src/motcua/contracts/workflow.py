"""Events published by workflow (cases after reception).

Every event carries the case's national status code context through
:class:`CaseStatusChangedV1`; the envelope's ``sequence`` is the case version after the
change, so consumers can order and skip stale events. ``process_log_hash`` is the head of
the case's hash-chained process log after the change: publishing it anchors the chain
outside workflow's database (a later rewrite of the log no longer matches the stream).

Within version 1 changes are additive only.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from motcua.events import EventData

Classification = Literal["early", "on_time", "late"]
Level = Literal["commune", "province", "ministry"]


class _CaseEvent(EventData):
    service = "workflow"
    aggregate = "case"

    case_id: str
    dossier_code: str
    agency_code: str
    occurred_at: datetime
    #: SHA-256 head of the case's process log after this change (hex), when there is one.
    process_log_hash: str | None = None
    #: The dossier owner's reference as intake's events carry it (``motcua.auth.owner_ref``).
    owner_ref: str | None = None


class CaseStartedV1(_CaseEvent):
    """A case was opened for a dossier."""

    event = "started"
    procedure_code: str
    #: The process definition version the case is bound to for its whole life.
    definition_version: int | None = None


class CaseStatusChangedV1(_CaseEvent):
    """The case's national status code (1–10, domain.md §4) changed."""

    event = "status_changed"
    status: int
    previous_status: int | None = None
    #: The appointment derived from the deadline ledger after the change (None while paused).
    due_at: datetime | None = None
    reason: str | None = None


class CaseHandedOverV1(_CaseEvent):
    """The case moved between steps of its process (a line of the control slip).

    Feeds the national progress sync (NguoiXuLy, ChucDanh, PhongBanXuLy, NoiDungXuLy).
    """

    event = "handed_over"
    action: Literal["forward", "approve", "sign", "send_back"]
    from_step: str | None
    to_step: str
    actor_id: str
    actor_role: str
    actor_agency_code: str
    note: str | None = None
    #: The new step's own deadline from its budget, when it has one.
    step_due_at: datetime | None = None


class CaseTransferredV1(_CaseEvent):
    """The case moved to another agency or level (liên thông); the receiver must acknowledge."""

    event = "transferred"
    from_agency_code: str
    to_agency_code: str
    to_level: Level | None = None
    leg: int
    reason: str | None = None
    #: When the receiving agency must have acknowledged (2 working hours by default).
    acknowledge_by: datetime
    #: The leg's own budget, when the transfer set one.
    leg_due_at: datetime | None = None


class CaseTransferAcknowledgedV1(_CaseEvent):
    """The receiving agency acknowledged a transfer."""

    event = "transfer_acknowledged"
    leg: int
    acknowledged_by: str


class CaseAcknowledgementOverdueV1(_CaseEvent):
    """Alert: the receiving agency did not acknowledge a transfer in time."""

    event = "acknowledgement_overdue"
    leg: int
    to_agency_code: str
    acknowledge_by: datetime


class CaseSupplementRequestedV1(_CaseEvent):
    """The agency asked the applicant to supplement the dossier; the clock is paused."""

    event = "supplement_requested"
    request_id: str
    #: What is missing or must be completed (phiếu yêu cầu bổ sung, hoàn thiện).
    items: list[str]
    reason: str | None = None
    #: How many supplement requests this case has had, this one included (> 1 → late).
    request_count: int


class CaseApologyDraftedV1(_CaseEvent):
    """A late case's apology and extension slip was drafted (phiếu xin lỗi và gia hạn)."""

    event = "apology_drafted"
    apology_id: str
    original_due_at: datetime
    proposed_due_at: datetime
    reason: str
    #: The latest instant the apology may be sent: one working day before the deadline.
    notice_deadline: datetime
    drafted_by: str


class CaseExtendedV1(_CaseEvent):
    """The appointment was extended, once, with the apology sent to the applicant."""

    event = "extended"
    apology_id: str
    original_due_at: datetime
    new_due_at: datetime
    reason: str
    #: Whether the apology went out at least one working day before the deadline.
    notice_in_time: bool


class CaseDueSoonV1(_CaseEvent):
    """Alert: the appointment is near and the case is not finished."""

    event = "due_soon"
    due_at: datetime
    predicted_late: bool = False


class CaseOverdueV1(_CaseEvent):
    """Alert: the appointment passed and the case is not finished."""

    event = "overdue"
    due_at: datetime


class ResultDocument(BaseModel):
    """A reference to the electronic result (never its content): what to fetch and check."""

    name: str
    media_type: str
    sha256: str
    size_bytes: int | None = None
    #: Where the document can be fetched (object store key or URL), when known.
    reference: str | None = None


class CaseCompletedV1(_CaseEvent):
    """Processing finished with a result (status 9, đã xử lý xong).

    ``result`` references the electronic result so identity-bridge can offer it to the
    citizen data store (``document.stored``); workflow holds no personal data to do that.
    """

    event = "completed"
    procedure_code: str
    finished_at: datetime
    due_at: datetime | None
    classification: Classification
    supplement_requests: int = 0
    extended: bool = False
    result: ResultDocument | None = None
    #: Sub-case results of a bundle dossier (liên thông), by member procedure.
    member_results: dict[str, ResultDocument] = {}


class CaseResultReturnedV1(_CaseEvent):
    """The result was handed to the applicant (status 10, đã trả kết quả)."""

    event = "result_returned"
    returned_at: datetime
    channel: Literal["direct", "online", "postal"]
