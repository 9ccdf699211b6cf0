"""Queries on dossiers and their code sequences."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua_intake.catalog.models import Agency, Procedure
from motcua_intake.dossiers.models import Dossier, DossierSequence


class DossierRepository:
    """All dossier queries."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, code: str) -> Dossier | None:
        """A dossier by code."""
        return await self.session.get(Dossier, code)

    async def next_sequence(self, agency_code: str, day: str) -> int:
        """Take the next number for ``agency_code`` on ``day``, atomically.

        One upsert statement: on PostgreSQL the row lock serialises concurrent takers, on
        SQLite the write lock does, so two submissions never receive the same number.
        """
        dialect = self.session.bind.dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(DossierSequence).values(agency_code=agency_code, day=day, last_value=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["agency_code", "day"],
            set_={"last_value": DossierSequence.last_value + 1},
        ).returning(DossierSequence.last_value)
        return int((await self.session.execute(stmt)).scalar_one())

    async def agency_exists(self, code: str) -> bool:
        """Whether the agency is known."""
        return (await self.session.scalar(select(Agency.code).where(Agency.code == code))) \
            is not None

    async def procedure_exists(self, code: str) -> bool:
        """Whether the procedure is in the catalog."""
        return (await self.session.scalar(
            select(Procedure.national_code).where(Procedure.national_code == code))) is not None
