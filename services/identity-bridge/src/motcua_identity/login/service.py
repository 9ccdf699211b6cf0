"""Sign-in: start an authorization-code flow, complete it, and issue a mesh token.

No database transaction is held across calls to the provider or the population
database: the login is claimed in one short transaction, the provider is asked, then
the account is linked and the token signed in another.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua.auth import AssuranceInsufficient
from motcua.db import utcnow
from motcua.idnumbers import validate
from motcua.logging import get_logger
from motcua_identity.accounts import service as accounts
from motcua_identity.accounts.errors import AccountInactive, PersonalIdInvalid
from motcua_identity.accounts.models import Account
from motcua_identity.context import Identity
from motcua_identity.login.errors import (
    LoginExpired,
    LoginStateUnknown,
    LoginStateUsed,
    LoginUnavailable,
)
from motcua_identity.login.models import LoginAttempt
from motcua_identity.login.oidc import IdTokenInvalid, ProviderRefused, new_code_verifier
from motcua_identity.population import service as population
from motcua_identity.population.registry import CitizenRecord, PopulationUnavailable, parse_date
from motcua_identity.tokens.service import TokenRead, citizen_claims, mint, officer_claims

log = get_logger("motcua_identity.login")


@dataclass(frozen=True)
class LoginStarted:
    """Where to send the browser, and the state that will come back."""

    authorization_url: str
    state: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    """A completed sign-in."""

    token: TokenRead
    account: Account
    assurance_level: int | None
    agencies: dict[str, list[str]]


async def start(session: AsyncSession, ctx: Identity, *, audience: str,
                min_assurance: int | None) -> LoginStarted:
    """Begin an authorization-code flow with PKCE, state and nonce."""
    client = ctx.providers.get(audience)
    if client is None:
        raise LoginUnavailable(f"no provider for {audience} sign-in")
    levels = client.config.assurance_levels
    acr_values = list(client.config.acr_values)
    if min_assurance is not None and audience == "citizen":
        acr_values = [v for v, level in sorted(levels.items(), key=lambda kv: -kv[1])
                      if level >= min_assurance]
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), \
        new_code_verifier()
    url = await client.authorization_url(state=state, nonce=nonce, verifier=verifier,
                                         acr_values=acr_values)
    now = utcnow()
    expires = now + timedelta(seconds=ctx.settings.login_ttl_s)
    session.add(LoginAttempt(state=state, audience=audience, nonce=nonce,
                             code_verifier=verifier, min_assurance=min_assurance,
                             created_at=now, expires_at=expires, completed_at=None))
    await session.flush()
    return LoginStarted(url, state, expires)


async def _claim(sessions: async_sessionmaker[AsyncSession], state: str) -> LoginAttempt:
    async with sessions() as session, session.begin():
        attempt = (await session.execute(select(LoginAttempt).where(
            LoginAttempt.state == state))).scalar_one_or_none()
        if attempt is None:
            raise LoginStateUnknown("unknown state")
        now = utcnow()
        if attempt.expires_at < now:
            raise LoginExpired("the login expired")
        # Single use, even when two callbacks race: only one UPDATE matches.
        claimed = await session.execute(
            update(LoginAttempt).where(LoginAttempt.state == state,
                                       LoginAttempt.completed_at.is_(None))
            .values(completed_at=now))
        if claimed.rowcount != 1:
            raise LoginStateUsed("this state was already used")
        return attempt


async def _audience(sessions: async_sessionmaker[AsyncSession], state: str) -> str:
    """The login's audience, if it may still be completed (``_claim`` decides for good:
    this read only answers an unknown, expired or used login before the provider is
    asked or its guard refuses)."""
    async with sessions() as session:
        row = (await session.execute(
            select(LoginAttempt.audience, LoginAttempt.expires_at, LoginAttempt.completed_at)
            .where(LoginAttempt.state == state))).one_or_none()
    if row is None:
        raise LoginStateUnknown("unknown state")
    if row.expires_at < utcnow():  # the order _claim checks them in
        raise LoginExpired("the login expired")
    if row.completed_at is not None:
        raise LoginStateUsed("this state was already used")
    return row.audience


async def complete(sessions: async_sessionmaker[AsyncSession], ctx: Identity, *, state: str,
                   code: str | None, error: str | None) -> SignedIn:
    """Finish the flow: verify the provider's answer, link the account, sign a token.

    The provider's guard admits the callback before the login is claimed: a callback
    refused because the provider is busy or paused leaves the login to be completed by
    a retry (while the provider's code is still valid).
    """
    client = ctx.providers.get(audience := await _audience(sessions, state))
    if client is None:
        raise LoginUnavailable(f"no provider for {audience} sign-in")
    if error or not code:
        await _claim(sessions, state)
        raise ProviderRefused(f"the provider answered {error or 'no code'}",
                              provider_error=error)
    await client.metadata()  # its own call when it is fetched; cached for the one below
    async with client.call():
        attempt = await _claim(sessions, state)
        tokens = await client.exchange(code, attempt.code_verifier)
        claims = await client.id_token_claims(tokens["id_token"], nonce=attempt.nonce)
        info: dict[str, Any] = {}
        if isinstance(tokens.get("access_token"), str):
            info = await client.userinfo(tokens["access_token"])
    if info.get("sub") not in (None, claims["sub"]):
        raise IdTokenInvalid("userinfo names another subject")
    merged = {**info, **claims}
    names = client.config.claims
    if attempt.audience == "citizen":
        return await _citizen(sessions, ctx, attempt, merged, client.config.assurance_levels,
                              names.personal_id, names.full_name, names.birth_date,
                              names.assurance)
    return await _staff(sessions, ctx, merged, names.email)


async def _citizen(sessions: async_sessionmaker[AsyncSession], ctx: Identity,
                   attempt: LoginAttempt, claims: dict[str, Any], levels: dict[str, int],
                   pid_claim: str, name_claim: str, birth_claim: str,
                   assurance_claim: str) -> SignedIn:
    raw_pid = claims.get(pid_claim)
    checked = validate(raw_pid) if isinstance(raw_pid, str) else None
    if checked is None or not checked.valid or checked.kind != "personal_id_12":
        raise PersonalIdInvalid(f"claim {pid_claim!r} is not a valid personal ID")
    personal_id = checked.normalized
    # An unknown or missing assurance claim counts as the lowest level.
    level = levels.get(str(claims.get(assurance_claim)), 1)
    if attempt.min_assurance is not None and level < attempt.min_assurance:
        raise AssuranceInsufficient(f"this sign-in reached level {level}; "
                                    f"level {attempt.min_assurance} is required",
                                    required_level=attempt.min_assurance, achieved_level=level)
    full_name = str(claims.get(name_claim) or claims.get("name") or "")
    birth_date = parse_date(claims.get(birth_claim)) or parse_date(claims.get("birthdate"))
    verified = await _verify_with_population(sessions, ctx, claims["sub"], personal_id,
                                             full_name, birth_date)
    async with sessions() as session, session.begin():
        account = await accounts.link_citizen(
            session, ctx.settings.province, issuer=claims["iss"], subject=claims["sub"],
            personal_id=personal_id, full_name=full_name, birth_date=birth_date, level=level,
            population_verified=verified)
        token = await mint(session, ctx, subject=account.id, kind="citizen",
                           ttl_s=ctx.settings.access_token_ttl_s,
                           claims=citizen_claims(personal_id=personal_id, assurance=level,
                                                 name=account.full_name))
    log.info("citizen_signed_in", account_id=account.id, level=level, verified=verified)
    return SignedIn(token, account, level, {})


async def _verify_with_population(sessions: async_sessionmaker[AsyncSession], ctx: Identity,
                                  subject: str, personal_id: str, full_name: str,
                                  birth_date: date | None) -> bool:
    """Look the citizen up after sign-in (logged); False when absent, different or down."""
    from motcua.auth import Principal

    actor = Principal(subject=f"login:{subject}"[:255], kind="citizen",
                      personal_id=personal_id)
    try:
        found = await population.lookup(sessions, ctx, actor, personal_id=personal_id,
                                        purpose="login_verification", dossier_code=None)
    except (PopulationUnavailable, population.LookupRateLimited):
        return False
    return _matches(found.citizen, full_name, birth_date)


def _matches(record: CitizenRecord | None, full_name: str, birth_date: date | None) -> bool:
    if record is None:
        return False
    same_name = " ".join(record.full_name.split()).casefold() == \
        " ".join(full_name.split()).casefold()
    return same_name and (birth_date is None or record.birth_date == birth_date)


async def _staff(sessions: async_sessionmaker[AsyncSession], ctx: Identity,
                 claims: dict[str, Any], email_claim: str) -> SignedIn:
    email = claims.get(email_claim)
    async with sessions() as session, session.begin():
        account = await accounts.link_staff(
            session, ctx.settings.province, issuer=claims["iss"], subject=claims["sub"],
            email=email if isinstance(email, str) else None)
        return await staff_token(session, ctx, account)


async def staff_token(session: AsyncSession, ctx: Identity, account: Account) -> SignedIn:
    """Sign an officer's token with their current memberships."""
    if not account.active:
        raise AccountInactive("this staff account is deactivated")
    agencies = await accounts.memberships(session, account.id)
    token = await mint(session, ctx, subject=account.id, kind="officer",
                       ttl_s=ctx.settings.access_token_ttl_s,
                       claims=officer_claims(memberships=agencies, name=account.full_name))
    log.info("officer_signed_in", account_id=account.id, agencies=sorted(agencies))
    return SignedIn(token, account, None, agencies)
