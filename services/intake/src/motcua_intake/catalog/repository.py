"""Catalog queries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.pagination import after, decode_cursor, encode_cursor
from motcua_intake.catalog.models import (
    COMPETENT,
    RECEPTION,
    Agency,
    Procedure,
    ProcedureAgency,
    ProcedureRevision,
)


class CatalogRepository:
    """All catalog queries."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def procedure(self, code: str, *, for_update: bool = False) -> Procedure | None:
        """A procedure by national code or by local code."""
        stmt = select(Procedure).where(or_(Procedure.national_code == code,
                                           Procedure.local_code == code))
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def procedures(self, codes: Iterable[str]) -> dict[str, Procedure]:
        """Procedures by national code."""
        wanted = list(set(codes))
        if not wanted:
            return {}
        rows = await self.session.scalars(
            select(Procedure).where(Procedure.national_code.in_(wanted)))
        return {p.national_code: p for p in rows}

    async def all_procedures(self) -> list[Procedure]:
        """Every procedure, by code (for export)."""
        return list(await self.session.scalars(
            select(Procedure).order_by(Procedure.national_code)))

    async def revision(self, code: str, version: int) -> ProcedureRevision | None:
        """One saved version."""
        return await self.session.get(ProcedureRevision, (code, version))

    async def revisions(self, code: str) -> list[ProcedureRevision]:
        """Every saved version, oldest first."""
        return list(await self.session.scalars(
            select(ProcedureRevision).where(ProcedureRevision.national_code == code)
            .order_by(ProcedureRevision.version)))

    async def roles(self, code: str) -> dict[str, set[str]]:
        """Agencies by role (competent / reception) for a procedure."""
        rows = await self.session.execute(
            select(ProcedureAgency.role, ProcedureAgency.agency_code)
            .where(ProcedureAgency.national_code == code))
        out: dict[str, set[str]] = {COMPETENT: set(), RECEPTION: set()}
        for role, agency in rows:
            out.setdefault(role, set()).add(agency)
        return out

    async def set_roles(self, code: str, competent: Iterable[str],
                        reception: Iterable[str]) -> None:
        """Replace the agencies of a procedure."""
        await self.session.execute(
            delete(ProcedureAgency).where(ProcedureAgency.national_code == code))
        self.session.add_all(
            [ProcedureAgency(national_code=code, agency_code=a, role=COMPETENT)
             for a in sorted(set(competent))]
            + [ProcedureAgency(national_code=code, agency_code=a, role=RECEPTION)
               for a in sorted(set(reception))])

    async def list_procedures(self, *, limit: int, cursor: str | None,
                              filters: dict[str, Any]) -> tuple[list[Procedure], str | None]:
        """A page of procedures ordered by national code, filtered."""
        stmt = select(Procedure)
        if filters.get("level"):
            stmt = stmt.where(Procedure.level.in_(filters["level"]))
        if filters.get("status"):
            stmt = stmt.where(Procedure.status.in_(filters["status"]))
        if filters.get("field"):
            stmt = stmt.where(Procedure.field_vi == filters["field"])
        if filters.get("q"):
            pattern = f"%{filters['q']}%"
            stmt = stmt.where(or_(Procedure.name_vi.ilike(pattern),
                                  Procedure.name_en.ilike(pattern),
                                  Procedure.national_code.like(pattern)))
        if filters.get("bundle") is not None:
            stmt = stmt.where(Procedure.is_bundle.is_(filters["bundle"]))
        for role, key in ((COMPETENT, "agency"), (RECEPTION, "reception_point")):
            if filters.get(key):
                stmt = stmt.where(Procedure.national_code.in_(
                    select(ProcedureAgency.national_code).where(
                        ProcedureAgency.role == role,
                        ProcedureAgency.agency_code == filters[key])))
        if cursor:
            (last,) = decode_cursor(cursor, 1)
            stmt = stmt.where(Procedure.national_code > str(last))
        rows = list(await self.session.scalars(
            stmt.order_by(Procedure.national_code).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1].national_code) if more else None

    async def agency(self, code: str) -> Agency | None:
        """An agency by code."""
        return await self.session.get(Agency, code)

    async def agency_codes(self, codes: Iterable[str]) -> set[str]:
        """Which of ``codes`` are known agencies."""
        wanted = list(set(codes))
        if not wanted:
            return set()
        return set(await self.session.scalars(select(Agency.code).where(
            Agency.code.in_(wanted))))

    async def list_agencies(self, *, limit: int, cursor: str | None,
                            level: str | None) -> tuple[list[Agency], str | None]:
        """A page of agencies ordered by code."""
        stmt = select(Agency)
        if level:
            stmt = stmt.where(Agency.level == level)
        if cursor:
            (last,) = decode_cursor(cursor, 1)
            stmt = stmt.where(after(Agency.code, Agency.code, str(last), str(last),
                                    descending=False))
        rows = list(await self.session.scalars(stmt.order_by(Agency.code).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1].code) if more else None
