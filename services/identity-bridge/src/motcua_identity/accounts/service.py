"""Account use cases: link provider subjects, manage staff and their memberships."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua import outbox
from motcua.contracts.identity import IdentityLinkedV1
from motcua.db import utcnow
from motcua.ids import new_id
from motcua.logging import get_logger
from motcua_identity.accounts.errors import (
    AccountNotFound,
    PersonalIdMismatch,
    StaffNotRegistered,
    StaffUsernameTaken,
)
from motcua_identity.accounts.models import Account, IdentityLink, StaffMembership
from motcua_identity.accounts.passwords import hash_password

log = get_logger("motcua_identity.accounts")


async def get(session: AsyncSession, account_id: str) -> Account:
    """An account, or AccountNotFound."""
    account = await session.get(Account, account_id)
    if account is None:
        raise AccountNotFound(f"no account {account_id}")
    return account


async def _link(session: AsyncSession, issuer: str, subject: str) -> IdentityLink | None:
    return (await session.execute(select(IdentityLink).where(
        IdentityLink.issuer == issuer, IdentityLink.subject == subject))).scalar_one_or_none()


def _new_account(kind: str, full_name: str, **values: object) -> Account:
    now = utcnow()
    defaults: dict[str, object] = dict(
        personal_id=None, birth_date=None, assurance_level=None, population_verified=False,
        email=None, username=None, password_hash=None)
    return Account(id=new_id(), kind=kind, full_name=full_name, active=True, created_at=now,
                   updated_at=now, version=1, **(defaults | values))


async def link_citizen(session: AsyncSession, province: str, *, issuer: str, subject: str,
                       personal_id: str, full_name: str, birth_date: date | None,
                       level: int, population_verified: bool) -> Account:
    """Link the provider's subject to the citizen with ``personal_id`` (created if new).

    Records IdentityLinkedV1 for a new link or a changed assurance level.
    """
    now = utcnow()
    link = await _link(session, issuer, subject)
    if link is not None:
        account = await get(session, link.account_id)
        if account.personal_id != personal_id:
            raise PersonalIdMismatch("this provider account is linked to another person")
    else:
        account = (await session.execute(select(Account).where(
            Account.kind == "citizen", Account.personal_id == personal_id)
            .order_by(Account.created_at).limit(1))).scalar_one_or_none()
        if account is None:
            account = _new_account("citizen", full_name, personal_id=personal_id)
            session.add(account)
            await session.flush()
        link = IdentityLink(id=new_id(), account_id=account.id, issuer=issuer, subject=subject,
                            assurance_level=None, linked_at=now, last_login_at=now)
        session.add(link)
    previous = link.assurance_level
    new_link = previous is None
    link.assurance_level, link.last_login_at = level, now
    account.full_name = full_name or account.full_name
    account.birth_date = birth_date or account.birth_date
    account.assurance_level = level
    account.population_verified = population_verified
    account.updated_at = now
    if new_link or previous != level:
        account.version += 1
        outbox.record(session, IdentityLinkedV1(
            account_id=account.id, kind="citizen", provider=issuer, assurance_level=level,
            previous_assurance_level=previous, new_link=new_link,
            population_verified=population_verified, linked_at=now,
        ), province=province, key=account.id, sequence=account.version)
        log.info("identity_linked", account_id=account.id, new_link=new_link, level=level)
    await session.flush()
    return account


async def link_staff(session: AsyncSession, province: str, *, issuer: str, subject: str,
                     email: str | None) -> Account:
    """The officer signing in: by an existing link, or a registered email not yet linked."""
    now = utcnow()
    link = await _link(session, issuer, subject)
    if link is not None:
        link.last_login_at = now
        return await get(session, link.account_id)
    if not email:
        raise StaffNotRegistered("the provider sent no email to match a staff account")
    account = (await session.execute(select(Account).where(
        Account.kind == "officer", func.lower(Account.email) == email.lower()))
    ).scalar_one_or_none()
    if account is None:
        raise StaffNotRegistered("no staff account has this email")
    taken = (await session.execute(select(IdentityLink).where(
        IdentityLink.account_id == account.id, IdentityLink.issuer == issuer))).first()
    if taken is not None:
        raise StaffNotRegistered("this staff account is linked to another subject")
    session.add(IdentityLink(id=new_id(), account_id=account.id, issuer=issuer,
                             subject=subject, assurance_level=None, linked_at=now,
                             last_login_at=now))
    account.version += 1
    outbox.record(session, IdentityLinkedV1(
        account_id=account.id, kind="officer", provider=issuer, linked_at=now,
    ), province=province, key=account.id, sequence=account.version)
    await session.flush()
    return account


async def memberships(session: AsyncSession, account_id: str) -> dict[str, list[str]]:
    """Agency code → roles held there."""
    rows = (await session.execute(select(StaffMembership.agency_code, StaffMembership.role)
                                  .where(StaffMembership.account_id == account_id))).all()
    out: dict[str, list[str]] = defaultdict(list)
    for agency, role in rows:
        out[agency].append(role)
    return {a: sorted(r) for a, r in sorted(out.items())}


async def by_username(session: AsyncSession, username: str) -> Account | None:
    """A staff account by its development username."""
    return (await session.execute(select(Account).where(
        Account.kind == "officer", Account.username == username))).scalar_one_or_none()


async def create_staff(session: AsyncSession, *, full_name: str, email: str | None,
                       username: str | None, password: str | None,
                       roles: Mapping[str, list[str]], by: str) -> Account:
    """Register an officer with roles per agency."""
    if username is not None and await by_username(session, username) is not None:
        raise StaffUsernameTaken(f"{username!r} is taken")
    account = _new_account("officer", full_name, email=email, username=username,
                           password_hash=hash_password(password) if password else None)
    session.add(account)
    await session.flush()
    for agency, agency_roles in roles.items():
        await set_roles(session, account.id, agency, agency_roles, by=by)
    return account


async def set_roles(session: AsyncSession, account_id: str, agency_code: str,
                    roles: list[str], *, by: str) -> list[str]:
    """Replace the officer's roles in one agency (an empty list removes the membership)."""
    account = await get(session, account_id)
    if account.kind != "officer":
        raise AccountNotFound(f"no staff account {account_id}")
    await session.execute(delete(StaffMembership).where(
        StaffMembership.account_id == account_id, StaffMembership.agency_code == agency_code))
    now = utcnow()
    for role in sorted(set(roles)):
        session.add(StaffMembership(account_id=account_id, agency_code=agency_code, role=role,
                                    granted_at=now, granted_by=by))
    account.updated_at = now
    await session.flush()
    log.info("staff_roles_set", account_id=account_id, agency=agency_code, roles=sorted(roles))
    return sorted(set(roles))
