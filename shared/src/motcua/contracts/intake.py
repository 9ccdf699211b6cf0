"""Events published by intake (dossiers from submission to reception)."""

from datetime import datetime
from typing import Literal

from motcua.events import EventData

Channel = Literal["direct", "online", "postal"]


class _DossierEvent(EventData):
    service = "intake"
    aggregate = "dossier"

    dossier_code: str
    agency_code: str
    procedure_code: str
    #: National status code (domain.md §4) after this change.
    status: int
    occurred_at: datetime


class DossierSubmittedV1(_DossierEvent):
    """A dossier was submitted on one of the three channels (KenhThucHien 1/2/3)."""

    event = "submitted"
    channel: Channel
    reception_point: str | None = None
    applicant_kind: Literal["individual", "organisation"]


class DossierReceivedV1(_DossierEvent):
    """The desk received the dossier (status 2); the appointment date is fixed."""

    event = "received"
    received_at: datetime
    due_at: datetime | None = None


class DossierRefusedV1(_DossierEvent):
    """The desk refused reception (status 3)."""

    event = "refused"
    reasons: list[str]


class DossierWithdrawnV1(_DossierEvent):
    """The applicant withdrew the dossier (status 7)."""

    event = "withdrawn"
