"""Events published by workflow (cases after reception)."""

from datetime import datetime

from motcua.events import EventData


class _CaseEvent(EventData):
    service = "workflow"
    aggregate = "case"

    case_id: str
    dossier_code: str
    agency_code: str
    occurred_at: datetime


class CaseStartedV1(_CaseEvent):
    """A case was opened for a dossier."""

    event = "started"
    procedure_code: str


class CaseStatusChangedV1(_CaseEvent):
    """The case's national status code (1–10, domain.md §4) changed."""

    event = "status_changed"
    status: int
    previous_status: int | None = None
