"""Sign-in endpoints: OpenID Connect for citizens and staff, and the dev fallback."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from motcua.auth import PUBLIC, AssuranceInsufficient
from motcua.errors import problems
from motcua.service import ANY_QUERY, RuntimeDep, SessionDep
from motcua_identity.accounts import service as accounts
from motcua_identity.accounts.errors import (
    AccountInactive,
    PersonalIdInvalid,
    PersonalIdMismatch,
    StaffNotRegistered,
)
from motcua_identity.accounts.passwords import verify_password
from motcua_identity.context import IdentityDep
from motcua_identity.login import service
from motcua_identity.login.errors import (
    DevLoginDisabled,
    InvalidCredentials,
    LoginExpired,
    LoginStateUnknown,
    LoginStateUsed,
    LoginUnavailable,
)
from motcua_identity.login.oidc import (
    IdTokenInvalid,
    ProviderBusy,
    ProviderPaused,
    ProviderRefused,
    ProviderUnavailable,
)

router = APIRouter(prefix="/v1/auth", tags=["sign-in"])

_COMPLETION_PROBLEMS = problems(
    LoginStateUnknown, LoginStateUsed, LoginExpired, LoginUnavailable, ProviderRefused,
    ProviderUnavailable, ProviderBusy, ProviderPaused, IdTokenInvalid, PersonalIdInvalid,
    PersonalIdMismatch, AssuranceInsufficient, StaffNotRegistered, AccountInactive)


class LoginStart(BaseModel):
    """Start a sign-in."""

    model_config = ConfigDict(extra="forbid")
    audience: Literal["citizen", "staff"] = "citizen"
    #: Refuse the sign-in unless it reaches this assurance level (citizens; 2 = LoA2).
    min_assurance: Literal[1, 2] | None = None


class LoginStartRead(BaseModel):
    """Send the browser to ``authorization_url``; ``state`` comes back with the code."""

    authorization_url: str
    state: str
    expires_at: datetime


class LoginCallback(BaseModel):
    """What the provider sent back to the redirect URI."""

    model_config = ConfigDict(extra="forbid")
    state: str = Field(min_length=1, max_length=64)
    code: str | None = Field(None, max_length=2048)
    error: str | None = Field(None, max_length=200)
    iss: str | None = Field(None, max_length=500)


class SignInRead(BaseModel):
    """A mesh access token and who it is for."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    account_id: str
    kind: Literal["citizen", "officer"]
    full_name: str
    assurance_level: int | None
    agencies: dict[str, list[str]]


class DevLogin(BaseModel):
    """Development-only staff sign-in."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


def _signed_in(done: service.SignedIn) -> JSONResponse:
    body = SignInRead(access_token=done.token.access_token, expires_in=done.token.expires_in,
                      account_id=done.account.id, kind=done.account.kind,  # type: ignore[arg-type]
                      full_name=done.account.full_name, assurance_level=done.assurance_level,
                      agencies=done.agencies)
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store"})


@router.post("/logins", status_code=status.HTTP_201_CREATED, operation_id="startLogin",
             dependencies=[PUBLIC], responses=problems(
                 LoginUnavailable, ProviderUnavailable, ProviderBusy, ProviderPaused))
async def start_login(body: LoginStart, session: SessionDep,
                      ctx: IdentityDep) -> LoginStartRead:
    """Start an OpenID Connect sign-in (authorization code + PKCE). Public."""
    started = await service.start(session, ctx, audience=body.audience,
                                  min_assurance=body.min_assurance)
    return LoginStartRead(authorization_url=started.authorization_url, state=started.state,
                          expires_at=started.expires_at)


@router.post("/callback", operation_id="completeLogin", dependencies=[PUBLIC],
             response_model=SignInRead, responses=_COMPLETION_PROBLEMS)
async def complete_login(body: LoginCallback, rt: RuntimeDep,
                         ctx: IdentityDep) -> JSONResponse:
    """Complete a sign-in with what the provider sent to the redirect URI. Public."""
    done = await service.complete(rt.sessions, ctx, state=body.state, code=body.code,
                                  error=body.error)
    return _signed_in(done)


# ANY_QUERY: providers add parameters of their own to the redirect (iss per RFC 9207,
# session_state, error_description, scope...), which are not refused.
@router.get("/callback", operation_id="completeLoginRedirect", dependencies=[PUBLIC, ANY_QUERY],
            response_model=SignInRead, responses=_COMPLETION_PROBLEMS)
async def complete_login_redirect(
    rt: RuntimeDep, ctx: IdentityDep,
    state: Annotated[str, Query(min_length=1, max_length=64)],
    code: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    """The same, when this service itself is the redirect URI. Public."""
    return _signed_in(await service.complete(rt.sessions, ctx, state=state, code=code,
                                             error=error))


@router.post("/dev-login", operation_id="devLogin", dependencies=[PUBLIC],
             response_model=SignInRead,
             responses=problems(DevLoginDisabled, InvalidCredentials, AccountInactive))
async def dev_login(body: DevLogin, session: SessionDep, ctx: IdentityDep) -> JSONResponse:
    """Staff sign-in by username and password: development only (404 otherwise)."""
    if not ctx.settings.dev_login_enabled or ctx.settings.environment == "production":
        raise DevLoginDisabled("enable dev_login_enabled outside production")
    account = await accounts.by_username(session, body.username)
    if not verify_password(body.password, account.password_hash if account else None) \
            or account is None:
        raise InvalidCredentials("wrong username or password")
    return _signed_in(await service.staff_token(session, ctx, account))
