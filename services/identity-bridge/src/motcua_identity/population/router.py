"""Population lookups and their audit trail."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from motcua.auth import AgencyForbidden, NotAllowed, Principal, require
from motcua.errors import ValidationFailed, problems
from motcua.idnumbers import mask
from motcua.service import RuntimeDep, SessionDep
from motcua_identity.context import IdentityDep
from motcua_identity.population import service
from motcua_identity.population.registry import PopulationBusy, PopulationPaused
from motcua_identity.population.service import (
    LookupRateLimited,
    PersonalIdNotValid,
    PopulationUnavailable,
)

router = APIRouter(prefix="/v1/population", tags=["population"])

Purpose = Literal["prefill", "reception", "processing", "verification"]
DOSSIER_CODE = r"^[0-9A-Z.]{1,35}-\d{6}-[0-9A-Z]{4,8}$"


def agency_of(dossier_code: str) -> str:
    """The agency part of ``<agency code>-YYMMDD-XXXX``."""
    return dossier_code.rsplit("-", 2)[0]


class LookupCreate(BaseModel):
    """A lookup: whom, why, and for which dossier."""

    model_config = ConfigDict(extra="forbid")
    personal_id: str = Field(min_length=12, max_length=12)
    purpose: Purpose
    dossier_code: str | None = Field(None, pattern=DOSSIER_CODE)


class CitizenRead(BaseModel):
    """The population database's record."""

    personal_id: str
    full_name: str
    birth_date: date | None
    gender: str | None
    permanent_address: str | None
    place_of_origin: str | None


class ApplicantPrefill(BaseModel):
    """The applicant block of an intake submission, filled from the record."""

    kind: Literal["individual"] = "individual"
    id_number: str
    full_name: str


class LookupRead(BaseModel):
    """The logged lookup and its result."""

    lookup_id: str
    found: bool
    citizen: CitizenRead | None
    applicant: ApplicantPrefill | None


class LookupLogEntry(BaseModel):
    """One line of the lookup log (the number is masked)."""

    lookup_id: str
    at: datetime
    actor: str
    actor_kind: str
    purpose: str
    dossier_code: str | None
    personal_id_masked: str
    outcome: str


@router.post("/lookups", operation_id="lookUpCitizen",
             responses=problems(PersonalIdNotValid, LookupRateLimited, PopulationUnavailable,
                                PopulationBusy, PopulationPaused, NotAllowed, AgencyForbidden))
async def look_up(body: LookupCreate, rt: RuntimeDep, ctx: IdentityDep,
                  who: Annotated[Principal, require(
                      roles=["receptionist", "processor", "approver"],
                      scopes=["population.read"])]) -> LookupRead:
    """Look a citizen up in the population database (also: applicant prefill).

    Officers (receptionist, processor, approver; of the dossier's agency when a dossier
    is named), services with ``population.read``, and citizens for themselves. Every
    lookup is logged with purpose, actor and dossier, and rate-limited per actor.
    """
    personal_id = service.check_personal_id(body.personal_id)
    if who.kind == "citizen" and not who.is_person(personal_id):
        raise NotAllowed("citizens may look up only themselves")
    if body.dossier_code is not None and who.kind == "officer":
        who.ensure_agency(agency_of(body.dossier_code), "receptionist", "processor",
                          "approver")
    result = await service.lookup(rt.sessions, ctx, who, personal_id=personal_id,
                                  purpose=body.purpose, dossier_code=body.dossier_code)
    citizen = CitizenRead(**result.citizen.as_dict()) if result.citizen else None
    return LookupRead(
        lookup_id=result.lookup_id, found=citizen is not None, citizen=citizen,
        applicant=ApplicantPrefill(id_number=citizen.personal_id, full_name=citizen.full_name)
        if citizen else None)


@router.get("/lookups", operation_id="listPopulationLookups",
            responses=problems(PersonalIdNotValid, NotAllowed))
async def list_lookups(
    session: SessionDep,
    who: Annotated[Principal, require(kind=["citizen", "officer"], roles=["auditor"])],
    personal_id: Annotated[str | None, Query(min_length=12, max_length=12)] = None,
    dossier_code: Annotated[str | None, Query(pattern=DOSSIER_CODE)] = None,
) -> list[LookupLogEntry]:
    """Who looked whom up: auditors by person or dossier; a citizen sees lookups of self."""
    if who.kind == "citizen":
        personal_id = who.personal_id
    elif personal_id is None and dossier_code is None:
        raise ValidationFailed("give personal_id or dossier_code")
    if personal_id is not None:
        personal_id = service.check_personal_id(personal_id)
    rows = await service.history(session, personal_id=personal_id, dossier_code=dossier_code)
    return [LookupLogEntry(lookup_id=r.id, at=r.at, actor=r.actor, actor_kind=r.actor_kind,
                           purpose=r.purpose, dossier_code=r.dossier_code,
                           personal_id_masked=mask(r.personal_id), outcome=r.outcome)
            for r in rows]
