"""Request and response bodies of the case endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from motcua.contracts.workflow import Level
from motcua_workflow.definitions.schemas import TimeSpec

_Text = Annotated[str, Field(min_length=1, max_length=2000)]
AgencyCode = Annotated[str, Field(pattern=r"^[0-9A-Z.]{1,35}$")]


class _Action(BaseModel):
    """An officer's action; the acting officer is the caller (their token), not a field."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=2000)
    #: The case version the officer saw; a concurrent change answers 409.
    expected_version: int | None = Field(None, ge=1)


class Advance(_Action):
    """Hand the case to the next step (or ``to_step``): forward, approve or sign."""

    action: Literal["forward", "approve", "sign"]
    to_step: str | None = Field(None, max_length=60)


class SendBack(_Action):
    """Return the case to the previous step (or ``to_step``)."""

    action: Literal["send_back"]
    to_step: str | None = Field(None, max_length=60)


class RequestSupplement(_Action):
    """Ask the applicant for missing documents; the clock stops (phiếu yêu cầu bổ sung)."""

    action: Literal["request_supplement"]
    items: list[_Text] = Field(min_length=1, max_length=50)
    reason: str | None = Field(None, max_length=2000)


class Transfer(_Action):
    """Move the case to another agency or level (liên thông)."""

    action: Literal["transfer"]
    to_agency_code: AgencyCode
    to_level: Level | None = None
    reason: str | None = Field(None, max_length=2000)
    #: This leg's own budget at the receiving agency, if any.
    budget: TimeSpec | None = None


class Acknowledge(_Action):
    """The receiving agency acknowledges a transferred case."""

    action: Literal["acknowledge"]


class Refuse(_Action):
    """Stop processing with reasons (dừng xử lý, status 8)."""

    action: Literal["refuse"]
    reasons: list[_Text] = Field(min_length=1, max_length=20)


class ResultDocumentIn(BaseModel):
    """The electronic result: a reference to the signed document, never its bytes."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=300)
    media_type: str = Field(pattern=r"^[a-z]+/[a-zA-Z0-9.+-]+$", max_length=100)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int | None = Field(None, ge=0)
    reference: str | None = Field(None, max_length=500)


class Complete(_Action):
    """Processing finished with a result (status 9)."""

    action: Literal["complete"]
    result: ResultDocumentIn | None = None


class ReturnResult(_Action):
    """The result was handed to the applicant (status 10)."""

    action: Literal["return_result"]
    channel: Literal["direct", "online", "postal"]


CaseAction = Annotated[
    Advance | SendBack | RequestSupplement | Transfer | Acknowledge | Refuse | Complete
    | ReturnResult, Field(discriminator="action")]


class ApologyDraft(BaseModel):
    """Draft the apology and extension slip by hand (the timer drafts it when predicted)."""

    model_config = ConfigDict(extra="forbid")
    reason: _Text
    proposed_due_at: AwareDatetime | None = None


class ExtensionGrant(BaseModel):
    """Send the apology and set the new appointment (only once)."""

    model_config = ConfigDict(extra="forbid")
    new_due_at: AwareDatetime | None = None
    reason: str | None = Field(None, min_length=1, max_length=2000)


class DefinitionRef(BaseModel):
    """The definition version a case is bound to."""

    procedure_code: str
    version: int


class CaseRead(BaseModel):
    """A case."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    dossier_code: str
    agency_code: str
    procedure_code: str
    status: int
    opened_at: datetime
    version: int
    definition: DefinitionRef | None = None
    channel: str | None = None
    current_agency_code: str | None = None
    current_step: str | None = None
    received_at: datetime | None = None
    due_at: datetime | None = None
    statutory_due_at: datetime | None = None
    intake_due_at: datetime | None = None
    paused_since: datetime | None = None
    supplement_requests: int = 0
    extended: bool = False
    finished_at: datetime | None = None
    returned_at: datetime | None = None
    closed_at: datetime | None = None
    classification: str | None = None
    result: dict[str, Any] | None = None
    parent_dossier_code: str | None = None
    members: list[str] = []
    process_log_hash: str | None = None


class CaseListItem(BaseModel):
    """A case in a list (the register of cases): where it is, its status and dates."""

    model_config = ConfigDict(from_attributes=True)
    dossier_code: str
    agency_code: str
    current_agency_code: str | None
    procedure_code: str
    status: int
    current_step: str | None
    opened_at: datetime
    received_at: datetime | None
    due_at: datetime | None
    statutory_due_at: datetime | None
    paused_since: datetime | None
    finished_at: datetime | None
    closed_at: datetime | None
    classification: str | None
    extended: bool
    supplement_requests: int
    #: The bundle's dossier code when this is a member procedure's case.
    bundle_dossier_code: str | None = None
    version: int


class CasePage(BaseModel):
    """A page of cases."""

    items: list[CaseListItem]
    next_cursor: str | None = None


class LedgerLine(BaseModel):
    """One entry of the deadline ledger with the due dates after it."""

    seq: int
    kind: str
    at: datetime
    due_at: datetime | None
    statutory_due_at: datetime | None
    paused_minutes: int | None = None
    reason: str | None = None
    actor_id: str | None = None
    text_vi: str
    text_en: str


class DeadlineRead(BaseModel):
    """The deadline ledger of a case and what it derives."""

    dossier_code: str
    due_at: datetime | None
    statutory_due_at: datetime | None
    intake_due_at: datetime | None
    paused_since: datetime | None
    #: While paused: office time left before the appointment as it stood.
    remaining_minutes_when_paused: int | None = None
    paused_minutes_total: int
    extended: bool
    supplement_requests: int
    classification: str | None
    history: list[LedgerLine]


class ApologyRead(BaseModel):
    """The apology and extension slip (phiếu xin lỗi và hẹn lại ngày trả kết quả)."""

    dossier_code: str
    drafted_at: datetime
    drafted_by: str
    reason: str
    original_due_at: datetime
    proposed_due_at: datetime
    notice_deadline: datetime
    issued_at: datetime | None
    new_due_at: datetime | None
    notice_in_time: bool | None
    text_vi: str
    text_en: str


class LogEntryRead(BaseModel):
    """One entry of the process log (a line of the control slip)."""

    seq: int
    at: datetime
    action: str
    actor_id: str
    actor_role: str | None
    agency_code: str | None
    status_before: int | None
    status_after: int | None
    step_key: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class LogVerification(BaseModel):
    """Whether the process log's hash chain is intact."""

    dossier_code: str
    valid: bool
    length: int
    head: str | None
    recorded_length: int
    recorded_head: str | None
    problems: list[dict[str, Any]]
