"""Queries on dossiers, their documents, timeline and code sequences."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.db import UtcDateTime, dialect_insert, side_engine
from motcua.pagination import after, decode_cursor, encode_cursor, parse_instant
from motcua_intake.dossiers.models import (
    CLOCK_RUNNING,
    Dossier,
    DossierDocument,
    DossierHistory,
    DossierSequence,
)

#: Sort keys of officer lists; a leading "-" sorts descending. Ties break on the code.
SORTS = ("submitted_at", "-submitted_at", "due_at", "-due_at", "code", "-code")
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
_FAR_PAST = datetime(1900, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DossierFilter:
    """List filters; ``agencies`` is an officer's scope (None: every agency), ``owner`` a
    citizen's personal ID (their dossiers: as applicant or organisation representative)."""

    agencies: list[str] | None = None
    owner: str | None = None
    status: list[int] | None = None
    procedure: list[str] | None = None
    channel: list[str] | None = None
    agency: list[str] | None = None
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None
    due_before: datetime | None = None
    overdue_at: datetime | None = None


@functools.cache
def _next_sequence(dialect: str) -> Any:
    """The counter upsert of ``dialect``, built once (on the table: a Core statement)."""
    table = DossierSequence.__table__
    stmt = dialect_insert(dialect)(table).values(
        agency_code=bindparam("agency_code"), day=bindparam("day"), last_value=1)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.agency_code, table.c.day],
        set_={"last_value": table.c.last_value + 1},
    ).returning(table.c.last_value)


class DossierRepository:
    """All dossier queries."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, code: str, *, for_update: bool = False) -> Dossier | None:
        """A dossier by code (row-locked on PostgreSQL when ``for_update``)."""
        stmt = select(Dossier).where(Dossier.code == code)
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def lock_many(self, codes: Iterable[str]) -> dict[str, Dossier]:
        """The dossiers of ``codes`` that exist, by code, row-locked on PostgreSQL (in code
        order, so two transactions locking overlapping sets do not deadlock) and read
        afresh even if the session holds them."""
        wanted = sorted(set(codes))
        if not wanted:
            return {}
        return {d.code: d for d in await self.session.scalars(
            select(Dossier).where(Dossier.code.in_(wanted)).order_by(Dossier.code)
            .with_for_update().execution_options(populate_existing=True))}

    async def next_sequence(self, agency_code: str, day: str) -> int:
        """Take the next number for ``agency_code`` on ``day``, atomically.

        One upsert statement, so two submissions never receive the same number. On
        PostgreSQL it runs in its own short transaction: the counter row is locked only
        for that statement, not until the submission commits (otherwise one agency's
        submissions would run one at a time). A submission that fails after taking its
        number leaves a gap in that day's numbers; codes stay unique and increasing. On
        SQLite the submission already holds the database's single write lock, so the
        number is taken inside it (no gaps).
        """
        engine = self.session.bind
        stmt = _next_sequence(engine.dialect.name)
        values = {"agency_code": agency_code, "day": day}
        if engine.dialect.name == "postgresql":
            # One statement in autocommit: atomic by itself, no BEGIN/COMMIT round trips.
            async with side_engine(engine).connect() as conn:
                value = (await conn.execute(stmt, values)).scalar_one()
            return int(value)
        return int((await self.session.execute(stmt, values)).scalar_one())

    async def documents(self, code: str) -> list[DossierDocument]:
        """Documents of a dossier, in the order they were handed in."""
        return list(await self.session.scalars(
            select(DossierDocument).where(DossierDocument.dossier_code == code)
            .order_by(DossierDocument.created_at, DossierDocument.id)))

    async def history(self, code: str) -> list[DossierHistory]:
        """The dossier's timeline, oldest first."""
        return list(await self.session.scalars(
            select(DossierHistory).where(DossierHistory.dossier_code == code)
            .order_by(DossierHistory.id)))

    async def page(self, f: DossierFilter, *, sort: str, limit: int,
                   cursor: str | None) -> tuple[list[Dossier], str | None]:
        """A page of dossiers matching ``f`` in ``sort`` order (keyset pagination)."""
        stmt = select(Dossier)
        if f.agencies is not None:
            stmt = stmt.where(or_(Dossier.agency_code.in_(f.agencies),
                                  Dossier.reception_point.in_(f.agencies)))
        if f.owner is not None:
            stmt = stmt.where(or_(Dossier.applicant_id_number == f.owner,
                                  Dossier.representative_id_number == f.owner))
        if f.agency:
            stmt = stmt.where(or_(Dossier.agency_code.in_(f.agency),
                                  Dossier.reception_point.in_(f.agency)))
        if f.status:
            stmt = stmt.where(Dossier.status.in_(f.status))
        if f.procedure:
            stmt = stmt.where(Dossier.procedure_code.in_(f.procedure))
        if f.channel:
            stmt = stmt.where(Dossier.channel.in_(f.channel))
        if f.submitted_from:
            stmt = stmt.where(Dossier.submitted_at >= f.submitted_from)
        if f.submitted_to:
            stmt = stmt.where(Dossier.submitted_at < f.submitted_to)
        if f.due_before:
            stmt = stmt.where(Dossier.status.in_(CLOCK_RUNNING),
                              Dossier.due_at < f.due_before)
        if f.overdue_at:
            stmt = stmt.where(Dossier.status.in_(CLOCK_RUNNING),
                              Dossier.due_at < f.overdue_at)
        descending = sort.startswith("-")
        name = sort.lstrip("-")
        key: Any
        if name == "code":
            key = Dossier.code
        elif name == "submitted_at":
            key = Dossier.submitted_at
        else:  # due_at: dossiers not received yet (no appointment) come last either way
            key = func.coalesce(Dossier.due_at, literal(
                _FAR_PAST if descending else _FAR_FUTURE, UtcDateTime))
        if cursor:
            last_key, last_code = decode_cursor(cursor, 2)
            if name != "code":
                last_key = parse_instant(last_key)
            stmt = stmt.where(after(key, Dossier.code, last_key, str(last_code),
                                    descending=descending))
        order = (key.desc(), Dossier.code.desc()) if descending else (key, Dossier.code)
        rows = list(await self.session.scalars(stmt.order_by(*order).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        if not more:
            return rows, None
        last = rows[-1]
        value: Any = last.code if name == "code" else getattr(last, name)
        if name == "due_at" and value is None:
            value = _FAR_PAST if descending else _FAR_FUTURE
        return rows, encode_cursor(value, last.code)
