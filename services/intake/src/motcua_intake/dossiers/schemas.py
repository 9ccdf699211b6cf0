"""Request and response bodies of the dossier endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from motcua.idnumbers import mask
from motcua_intake.catalog.schemas import AGENCY_CODE, PROCEDURE_CODE

Source = Literal["upload", "paper", "shown", "data_store"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApplicantIn(_Strict):
    """The applicant (chủ hồ sơ): an individual by ID number or an organisation by tax code."""

    kind: Literal["individual", "organisation"]
    id_number: str = Field(min_length=9, max_length=14,
                           description="12-digit personal ID, legacy 9-digit ID, or tax code")
    full_name: str = Field(min_length=1, max_length=255)
    phone: str | None = Field(None, pattern=r"^\+?[0-9]{8,15}$",
                              description="Also a tracking second factor (last 4 digits)")


class DocumentIn(_Strict):
    """One document component handed in.

    ``upload``: electronic files (``attachment_ids`` from ``POST /v1/attachments``);
    ``paper``: paper handed in or mailed; ``shown``: an original shown at the desk and
    returned (direct channel, components whose form is ``shown_only``);
    ``data_store``: taken from the citizen's data store (``data_store_ref``).
    """

    component_code: str = Field(min_length=1, max_length=100)
    source: Source
    attachment_ids: list[str] = Field([], max_length=20)
    data_store_ref: str | None = Field(None, min_length=1, max_length=200)
    copies: int = Field(1, ge=1, le=100)


class DossierSubmit(_Strict):
    """Submit a dossier on one of the three channels."""

    procedure_code: str = Field(pattern=PROCEDURE_CODE, examples=["1.001193"])
    agency_code: str | None = Field(
        None, pattern=AGENCY_CODE, examples=["000.01.17.H56"],
        description="Competent agency; omitted → routed from the catalog")
    channel: Literal["direct", "online", "postal"]
    reception_point: str | None = Field(
        None, pattern=AGENCY_CODE,
        description="Desk that received it (required for direct and postal)")
    applicant: ApplicantIn
    documents: list[DocumentIn] = Field([], max_length=100)
    exemptions_claimed: list[str] = Field([], max_length=10)
    result_delivery: Literal["desk", "postal", "online"] = "desk"
    receive_now: bool = Field(False, description="Direct channel: receive in the same step "
                                                 "(a receptionist only)")


class DossierReceive(_Strict):
    """Receive a dossier at the desk (status 1 → 2); the receptionist is the caller."""


class DossierRefuse(_Strict):
    """Refuse reception, with reasons (status 1 → 3)."""

    reasons: list[str] = Field(min_length=1, max_length=20)


class DossierSupplement(_Strict):
    """Answer a supplement request with documents (status 5 → 4)."""

    documents: list[DocumentIn] = Field(min_length=1, max_length=100)
    supplement_request_id: str | None = Field(None, max_length=64)
    note: str | None = Field(None, max_length=1000)


class DossierWithdraw(_Strict):
    """Withdraw a dossier (status 7)."""

    reason: str | None = Field(None, max_length=1000)


class DossierRate(_Strict):
    """Rate the service after the result (1 very dissatisfied … 5 very satisfied)."""

    score: int = Field(ge=1, le=5)
    complaint: bool = False
    comment: str | None = Field(None, max_length=2000)


class ApplicantRead(BaseModel):
    """The applicant as shown back: numbers are masked."""

    kind: str
    id_number_masked: str
    full_name: str
    phone_masked: str | None = None


class DocumentRead(BaseModel):
    """A document handed in."""

    model_config = ConfigDict(from_attributes=True)

    component_code: str
    source: str
    attachment_id: str | None
    data_store_ref: str | None
    copies: int
    stage: str
    created_at: datetime


class Awaited(BaseModel):
    """Something the applicant must do (bilingual)."""

    kind: str
    text_vi: str
    text_en: str
    #: The supplement request being answered (name it in ``supplement_request_id``).
    request_id: str | None = None


class DossierRead(BaseModel):
    """A dossier."""

    code: str
    procedure_code: str
    procedure_version: int | None = None
    agency_code: str
    channel: str
    reception_point: str | None
    status: int
    applicant: ApplicantRead
    result_delivery: str = "desk"
    exemptions_claimed: list[str] = []
    submitted_at: datetime
    received_at: datetime | None = None
    due_at: datetime | None = None
    statutory_time: dict[str, Any] | None = None
    due_explanation: dict[str, str] | None = None
    refused_at: datetime | None = None
    refusal_reasons: list[str] | None = None
    withdrawn_at: datetime | None = None
    rated_at: datetime | None = None
    rating_score: int | None = None
    awaited: list[Awaited] = []
    supplement_count: int = 0
    version: int

    @classmethod
    def of(cls, d: Any) -> DossierRead:
        """Build from the ORM object."""
        return cls(
            code=d.code, procedure_code=d.procedure_code, procedure_version=d.procedure_version,
            agency_code=d.agency_code, channel=d.channel, reception_point=d.reception_point,
            status=d.status, applicant=applicant_read(d), result_delivery=d.result_delivery,
            exemptions_claimed=d.exemptions_claimed or [], submitted_at=d.submitted_at,
            received_at=d.received_at, due_at=d.due_at, statutory_time=d.statutory_time,
            due_explanation=d.due_explanation, refused_at=d.refused_at,
            refusal_reasons=d.refusal_reasons, withdrawn_at=d.withdrawn_at,
            rated_at=d.rated_at, rating_score=d.rating_score,
            awaited=[Awaited(**a) for a in d.awaited or []],
            supplement_count=d.supplement_count or 0, version=d.version)


def applicant_read(d: Any) -> ApplicantRead:
    """The masked applicant of a dossier."""
    return ApplicantRead(kind=d.applicant_kind, id_number_masked=mask(d.applicant_id_number),
                         full_name=d.applicant_name,
                         phone_masked=mask(d.applicant_phone) if d.applicant_phone else None)


class DossierDetail(DossierRead):
    """A dossier with its documents."""

    documents: list[DocumentRead] = []


class DossierSummary(BaseModel):
    """A dossier in an officer list."""

    code: str
    procedure_code: str
    agency_code: str
    reception_point: str | None
    channel: str
    status: int
    applicant: ApplicantRead
    submitted_at: datetime
    received_at: datetime | None
    due_at: datetime | None

    @classmethod
    def of(cls, d: Any) -> DossierSummary:
        """Build from the ORM object."""
        return cls(code=d.code, procedure_code=d.procedure_code, agency_code=d.agency_code,
                   reception_point=d.reception_point, channel=d.channel, status=d.status,
                   applicant=applicant_read(d), submitted_at=d.submitted_at,
                   received_at=d.received_at, due_at=d.due_at)


class DossierPage(BaseModel):
    """A page of dossiers (cursor pagination, see docs/intake.md)."""

    items: list[DossierSummary]
    next_cursor: str | None


class HistoryEntry(BaseModel):
    """One line of a dossier's timeline."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    status: int
    kind: str
    source: str
    note_vi: str | None
    note_en: str | None
