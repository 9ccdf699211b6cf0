"""Population lookups: rate-limited, and each one logged before it is made.

The log row is committed in its own transaction *before* the database is asked, so a
lookup that fails or crashes half-way is still on record; its outcome is written after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua import idnumbers, outbox
from motcua.auth import Principal
from motcua.contracts.identity import PopulationLookedUpV1
from motcua.db import utcnow
from motcua.errors import FieldError, Problem, Unprocessable
from motcua.ids import new_id
from motcua.logging import get_logger
from motcua_identity.context import Identity
from motcua_identity.population.models import PopulationLookup
from motcua_identity.population.registry import CitizenRecord, PopulationUnavailable

log = get_logger("motcua_identity.population")
WINDOW = timedelta(minutes=1)


class LookupRateLimited(Problem):
    status = 429
    code = "population.rate_limited"
    title = "Too many population lookups"


class PersonalIdNotValid(Unprocessable):
    code = "population.personal_id_invalid"
    title = "Not a valid 12-digit personal ID number"


@dataclass(frozen=True)
class LookupResult:
    """A logged lookup and what it found."""

    lookup_id: str
    citizen: CitizenRecord | None


def check_personal_id(number: str, field: str = "personal_id") -> str:
    """The normalised 12-digit number, or PersonalIdNotValid with the reasons."""
    result = idnumbers.validate(number)
    if not result.valid or result.kind != "personal_id_12":
        errors = [FieldError(field=field, code=r.code, message=r.message_en)
                  for r in result.reasons] or [FieldError(
                      field=field, code="format.kind", message="a 12-digit personal ID")]
        raise PersonalIdNotValid(errors=errors)
    return result.normalized


async def lookup(sessions: async_sessionmaker[AsyncSession], ctx: Identity, who: Principal, *,
                 personal_id: str, purpose: str, dossier_code: str | None) -> LookupResult:
    """Look a citizen up for ``purpose`` on behalf of ``who`` (logged, rate-limited)."""
    lookup_id, registry = new_id(), ctx.population
    limit = ctx.settings.population_rate_limit
    async with sessions() as session, session.begin():
        now = utcnow()
        recent = await session.scalar(select(func.count()).select_from(PopulationLookup).where(
            PopulationLookup.actor == who.subject, PopulationLookup.at > now - WINDOW))
        if int(recent or 0) >= limit:
            log.warning("population_rate_limited", actor=who.subject, purpose=purpose)
            raise LookupRateLimited(f"at most {limit} lookups per minute", retry_after=60)
        session.add(PopulationLookup(
            id=lookup_id, at=now, actor=who.subject, actor_kind=who.kind, purpose=purpose,
            dossier_code=dossier_code, personal_id=personal_id, backend=registry.name,
            outcome="pending"))
    citizen: CitizenRecord | None = None
    outcome = "failed"
    try:
        citizen = await registry.find(personal_id, purpose=purpose, dossier_code=dossier_code)
        outcome = "found" if citizen else "not_found"
    finally:
        async with sessions() as session, session.begin():
            await session.execute(update(PopulationLookup)
                                  .where(PopulationLookup.id == lookup_id)
                                  .values(outcome=outcome))
            if outcome != "failed":
                outbox.record(session, PopulationLookedUpV1(
                    lookup_id=lookup_id, purpose=purpose, dossier_code=dossier_code,
                    actor_kind=who.kind, found=citizen is not None, looked_up_at=utcnow(),
                ), province=ctx.settings.province, key=lookup_id, sequence=1)
        # Never the number itself: the lookup id leads an auditor to it.
        log.info("population_lookup", lookup_id=lookup_id, purpose=purpose,
                 actor=who.subject, actor_kind=who.kind, dossier_code=dossier_code,
                 outcome=outcome, backend=registry.name)
    return LookupResult(lookup_id, citizen)


async def history(session: AsyncSession, *, personal_id: str | None, dossier_code: str | None,
                  limit: int = 100) -> list[PopulationLookup]:
    """Lookups about a person or for a dossier, newest first."""
    stmt = select(PopulationLookup).order_by(PopulationLookup.at.desc()).limit(limit)
    if personal_id is not None:
        stmt = stmt.where(PopulationLookup.personal_id == personal_id)
    if dossier_code is not None:
        stmt = stmt.where(PopulationLookup.dossier_code == dossier_code)
    return list((await session.execute(stmt)).scalars().all())


__all__ = ["LookupRateLimited", "LookupResult", "PersonalIdNotValid", "PopulationUnavailable",
           "check_personal_id", "history", "lookup"]
