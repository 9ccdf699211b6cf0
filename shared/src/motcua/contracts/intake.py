"""Events published by intake (dossiers from submission to reception, citizen actions).

Within version 1 changes are additive only: a producer may add optional fields; a
consumer must ignore fields it does not know.
"""

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

from motcua.events import EventData

Channel = Literal["direct", "online", "postal"]
TimeUnit = Literal["working_hours", "working_days", "calendar_days"]


class StatutoryTime(BaseModel):
    """The procedure's statutory processing time as the catalog states it."""

    amount: int
    unit: TimeUnit
    cutoff: str | None = None  # "15:00" where the procedure counts later arrivals next day


class FeeLine(BaseModel):
    """A fee line assessed for this dossier from the catalog (amounts are whole VND)."""

    code: str
    kind: Literal["fee", "charge"]  # lệ phí / phí
    label_vi: str
    amount_vnd: int | None  # None: set locally and not configured yet
    collect: Literal["before", "after", "waived"]


class _DossierEvent(EventData):
    service = "intake"
    aggregate = "dossier"

    dossier_code: str
    agency_code: str
    procedure_code: str
    #: National status code (domain.md §4) after this change.
    status: int
    occurred_at: datetime
    #: The applicant's owner reference (``motcua.auth.owner_ref``; never the ID number),
    #: so other services can let the citizen see their own records. None for a legacy
    #: number or an organisation without a personal applicant ID.
    owner_ref: str | None = None


class DossierSubmittedV1(_DossierEvent):
    """A dossier was submitted on one of the three channels (KenhThucHien 1/2/3)."""

    event = "submitted"
    channel: Channel
    reception_point: str | None = None
    applicant_kind: Literal["individual", "organisation"]
    bundle_code: str | None = None
    #: Member procedures when this is a bundle (liên thông) dossier.
    member_procedures: list[str] = []
    #: Submitted by a citizen signed in through VNeID (TaiKhoanDuocXacThucVoiVNeID).
    vneid_verified: bool = False


class DossierReceivedV1(_DossierEvent):
    """The desk received the dossier (status 2); the appointment date is fixed.

    ``received_at`` is when the statutory clock starts (before cut-off/normalisation);
    ``due_at`` the appointment computed by the shared working calendar.
    """

    event = "received"
    channel: Channel
    received_at: datetime
    due_at: datetime
    statutory_time: StatutoryTime
    received_by: str | None = None
    applicant_kind: Literal["individual", "organisation"] = "individual"
    #: Applicant categories claiming an exemption (e.g. "poor_household"), for payments.
    exemptions_claimed: list[str] = []
    #: The procedure's fee lines at reception; payments assesses them.
    fee_lines: list[FeeLine] = []


class DossierRefusedV1(_DossierEvent):
    """The desk refused reception (status 3), with reasons (phiếu từ chối)."""

    event = "refused"
    reasons: list[str]
    refused_by: str | None = None


class DossierSupplementedV1(_DossierEvent):
    """The applicant supplied what a supplement request asked for (the clock resumes)."""

    event = "supplemented"
    supplement_request_id: str | None = None
    document_count: int = 0


class DossierWithdrawnV1(_DossierEvent):
    """The applicant withdrew the dossier (status 7)."""

    event = "withdrawn"
    reason: str | None = None


class DossierRatedV1(_DossierEvent):
    """The applicant rated the service after the result (feeds the satisfaction index)."""

    event = "rated"
    #: 1 very dissatisfied … 5 very satisfied.
    score: int
    complaint: bool = False


class ProcedurePublishedV1(EventData):
    """A procedure version was published, republished or withdrawn in the catalog.

    Feeds the publicity and online-service items of the index (domain.md §6). Subject
    ``motcua.<p>.intake.procedure.published``; ``sequence`` is the procedure's version.
    """

    service = "intake"
    aggregate = "procedure"
    event = "published"

    procedure_code: str
    procedure_version: int
    #: ``published`` or ``withdrawn`` (a withdrawn procedure leaves the denominators).
    status: Literal["published", "withdrawn"]
    name_vi: str
    level: str
    #: Competent agencies (the units the procedure counts for).
    agencies: list[str]
    #: The announcing decision's effective date and when it was issued, where known:
    #: publication is timely when published_at is no later than the deadline counted
    #: from them (see docs/metrics.md).
    valid_from: date | None = None
    decision_date: date | None = None
    published_at: datetime
    #: Offers an online service (full or partial online level).
    online: bool = False
    #: Has at least one fee line (counts for the online payment items).
    has_fees: bool = False
    #: Mandatory content fields missing from the entry (empty: complete).
    missing_content: list[str] = []
    occurred_at: datetime
