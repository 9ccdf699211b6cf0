"""Request and response bodies of the dossier endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from motcua.idnumbers import mask
from pydantic import BaseModel, ConfigDict, Field

AGENCY_CODE = r"^[0-9A-Z.]{1,35}$"
PROCEDURE_CODE = r"^\d\.\d{6}(\.[0-9A-Z.]{1,35})?$"


class ApplicantIn(BaseModel):
    """The applicant (chủ hồ sơ): an individual by ID number or an organisation by tax code."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["individual", "organisation"]
    id_number: str = Field(min_length=9, max_length=14,
                           description="12-digit personal ID, legacy 9-digit ID, or tax code")
    full_name: str = Field(min_length=1, max_length=255)


class DossierSubmit(BaseModel):
    """Submit a dossier."""

    model_config = ConfigDict(extra="forbid")
    procedure_code: str = Field(pattern=PROCEDURE_CODE, examples=["1.001193"])
    agency_code: str = Field(pattern=AGENCY_CODE, examples=["000.01.17.H56"],
                             description="Competent agency that will process the dossier")
    channel: Literal["direct", "online", "postal"]
    reception_point: str | None = Field(None, pattern=AGENCY_CODE,
                                        description="Desk that received it (direct channel)")
    applicant: ApplicantIn


class ApplicantRead(BaseModel):
    """The applicant as shown back: the ID number is masked."""

    kind: str
    id_number_masked: str
    full_name: str


class DossierRead(BaseModel):
    """A dossier."""

    code: str
    procedure_code: str
    agency_code: str
    channel: str
    reception_point: str | None
    status: int
    applicant: ApplicantRead
    submitted_at: datetime
    version: int

    @classmethod
    def of(cls, d: object) -> DossierRead:
        """Build from the ORM object."""
        return cls(code=d.code, procedure_code=d.procedure_code, agency_code=d.agency_code,
                   channel=d.channel, reception_point=d.reception_point, status=d.status,
                   applicant=ApplicantRead(kind=d.applicant_kind,
                                           id_number_masked=mask(d.applicant_id_number),
                                           full_name=d.applicant_name),
                   submitted_at=d.submitted_at, version=d.version)
