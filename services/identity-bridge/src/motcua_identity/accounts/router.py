"""Who am I, and staff administration."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from motcua.auth import ROLES, AgencyForbidden, CurrentPrincipal, NotAllowed, Principal, require
from motcua.errors import Unprocessable, problems
from motcua.idempotency import IdempotencyDep, IdempotencyKeyReused
from motcua.idnumbers import mask
from motcua.service import SessionDep
from motcua_identity.accounts import service
from motcua_identity.accounts.errors import AccountNotFound, StaffUsernameTaken
from motcua_identity.accounts.models import Account
from motcua_identity.context import IdentityDep

router = APIRouter(prefix="/v1", tags=["accounts"])

Role = Literal[ROLES]  # type: ignore[valid-type]
AgencyCode = Annotated[str, Path(pattern=r"^[0-9A-Z.]{1,35}$")]


class PasswordNotAllowed(Unprocessable):
    code = "staff.password_not_allowed"
    title = "Passwords exist only for the development sign-in"


class MeRead(BaseModel):
    """The caller as the token says, plus the account when there is one."""

    subject: str
    kind: str
    full_name: str | None
    personal_id_masked: str | None
    assurance_level: int | None
    agencies: dict[str, list[str]]
    scopes: list[str]
    birth_date: date | None = None
    population_verified: bool | None = None


class StaffCreate(BaseModel):
    """Register an officer."""

    model_config = ConfigDict(extra="forbid")
    full_name: str = Field(min_length=1, max_length=255)
    email: str | None = Field(None, max_length=255, pattern=r"^[^@\s]+@[^@\s]+$")
    username: str | None = Field(None, min_length=1, max_length=100)
    #: Development sign-in only.
    password: str | None = Field(None, min_length=8, max_length=200)
    agencies: dict[str, list[Role]] = Field(default_factory=dict)


class RolesSet(BaseModel):
    """The officer's roles in one agency (empty: remove the membership)."""

    model_config = ConfigDict(extra="forbid")
    roles: list[Role]


class StaffRead(BaseModel):
    """An officer and their memberships."""

    id: str
    full_name: str
    email: str | None
    username: str | None
    active: bool
    agencies: dict[str, list[str]]


def _admin_of(who: Principal, agencies: list[str]) -> None:
    if who.kind == "service":
        return
    for agency in agencies:
        if not who.has_role("agency_admin", agency=agency):
            raise AgencyForbidden(f"agency_admin of {agency} is required")


_ADMINS = require(kind=["officer", "service"], roles=["agency_admin"],
                  scopes=["identity.staff.admin"])


@router.get("/me", operation_id="getMe")
async def me(who: CurrentPrincipal, session: SessionDep) -> MeRead:
    """The signed-in caller."""
    out = MeRead(subject=who.subject, kind=who.kind, full_name=who.name,
                 personal_id_masked=mask(who.personal_id) if who.personal_id else None,
                 assurance_level=who.assurance,
                 agencies={a: sorted(r) for a, r in who.memberships.items()},
                 scopes=sorted(who.scopes))
    if who.kind == "citizen":
        account = await session.get(Account, who.subject)
        if account is not None:
            out.birth_date, out.population_verified = account.birth_date, \
                account.population_verified
    return out


@router.post("/staff", status_code=status.HTTP_201_CREATED, operation_id="createStaff",
             response_model=StaffRead,
             responses=problems(AgencyForbidden, StaffUsernameTaken, PasswordNotAllowed,
                                IdempotencyKeyReused))
async def create_staff(body: StaffCreate, session: SessionDep, ctx: IdentityDep,
                       idem: IdempotencyDep,
                       who: Annotated[Principal, _ADMINS]) -> StaffRead | JSONResponse:
    """Register an officer with roles per agency (agency admins of those agencies)."""
    _admin_of(who, list(body.agencies))
    if body.password is not None and not ctx.settings.dev_login_enabled:
        raise PasswordNotAllowed("staff sign in through the identity provider")
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    account = await service.create_staff(
        session, full_name=body.full_name, email=body.email, username=body.username,
        password=body.password, roles=dict(body.agencies), by=who.subject)
    result = StaffRead(id=account.id, full_name=account.full_name, email=account.email,
                       username=account.username, active=account.active,
                       agencies=await service.memberships(session, account.id))
    idem.remember(session, status.HTTP_201_CREATED, result)
    return result


@router.get("/staff/{account_id}", operation_id="getStaff", responses=problems(AccountNotFound))
async def get_staff(account_id: str, session: SessionDep,
                    who: Annotated[Principal, require(kind=["officer", "service"])],
                    ) -> StaffRead:
    """An officer: themselves, admins or auditors of a shared agency, staff-admin services."""
    account = await service.get(session, account_id)
    if account.kind != "officer":
        raise AccountNotFound(f"no staff account {account_id}")
    agencies = await service.memberships(session, account_id)
    allowed = (who.subject == account_id
               or (who.kind == "service" and who.has_scopes("identity.staff.admin"))
               or any(who.has_role("agency_admin", "auditor", agency=a) for a in agencies))
    if not allowed:
        raise NotAllowed("not an admin or auditor of this officer's agencies")
    return StaffRead(id=account.id, full_name=account.full_name, email=account.email,
                     username=account.username, active=account.active, agencies=agencies)


@router.put("/staff/{account_id}/agencies/{agency_code}", operation_id="setStaffRoles",
            responses=problems(AccountNotFound, AgencyForbidden))
async def set_roles(account_id: str, agency_code: AgencyCode, body: RolesSet,
                    session: SessionDep, who: Annotated[Principal, _ADMINS]) -> StaffRead:
    """Set an officer's roles in one agency (that agency's admins). Idempotent."""
    _admin_of(who, [agency_code])
    await service.set_roles(session, account_id, agency_code, list(body.roles), by=who.subject)
    account = await service.get(session, account_id)
    return StaffRead(id=account.id, full_name=account.full_name, email=account.email,
                     username=account.username, active=account.active,
                     agencies=await service.memberships(session, account_id))
