"""The migrations build exactly the schema the models describe, and carry old rows over."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import insert, select

from motcua.db import create_engine
from motcua.migrate import upgrade, upgrade_async
from motcua.testing import schema_drift
from motcua_workflow import migrations_dir
from motcua_workflow.cases.models import Case
from motcua_workflow.db import Base
from motcua_workflow.models import load_all
from motcua_workflow.tasks.models import Task


class TestMigrations:
    async def test_models_match_migrations(self, make_database) -> None:
        load_all()
        url = await make_database("workflow_schema")
        await upgrade_async(migrations_dir(), url)
        relevant = await schema_drift(url, Base.metadata)
        assert relevant == [], relevant

    async def test_open_tasks_get_the_mesh_roles(self, make_database) -> None:
        load_all()
        url = await make_database("workflow_roles")
        await asyncio.to_thread(upgrade, migrations_dir(), url, "0003")
        engine = create_engine(url)
        now = datetime(2026, 3, 2, 1, tzinfo=UTC)
        try:
            async with engine.begin() as conn:
                await conn.execute(insert(Case.__table__).values(
                    id="c1", dossier_code="000.01.17.H56-260302-0001",
                    agency_code="000.01.17.H56", procedure_code="1.001193", status=2,
                    opened_at=now, version=2))
                for n, role in enumerate(("specialist", "leader", "desk_officer", None)):
                    await conn.execute(insert(Task.__table__).values(
                        id=f"t{n}", case_id="c1", dossier_code="000.01.17.H56-260302-0001",
                        kind="step", agency_code="000.01.17.H56", role=role, state="open",
                        created_at=now))
            await upgrade_async(migrations_dir(), url)
            async with engine.connect() as conn:
                roles = (await conn.execute(select(Task.role).order_by(Task.id))).scalars()
                assert list(roles) == ["processor", "approver", "receptionist", None]
                owner = await conn.scalar(select(Case.owner_ref))
                assert owner is None
        finally:
            await engine.dispose()
