"""Migrations are the only schema source: after ``upgrade head`` they match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from motcua.db import create_engine, kit_metadata
from motcua.testing import Mesh
from motcua_intake.db import Base
from motcua_intake.models import load_all


class TestMigrations:
    async def test_models_match_the_migrated_schema(self, mesh: Mesh) -> None:
        load_all()
        url = await mesh.prepare("intake")
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                diff = await conn.run_sync(lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": False}),
                    [Base.metadata, kit_metadata]))
        finally:
            await engine.dispose()
        assert diff == []
