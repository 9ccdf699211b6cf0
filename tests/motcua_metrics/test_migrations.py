"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from motcua.db import create_engine
from motcua.migrate import upgrade_async
from motcua_metrics import migrations_dir
from motcua_metrics.db import Base
from motcua_metrics.models import load_all


class TestMigrations:
    async def test_models_match_migrations(self, make_database) -> None:
        load_all()
        assert {"catalog_version", "catalog_agency", "dossier_fact"} <= set(Base.metadata.tables)
        url = await make_database("metrics_schema")
        await upgrade_async(migrations_dir(), url)
        engine = create_engine(url)
        ours = set(Base.metadata.tables)

        def diff(connection):
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)

        try:
            async with engine.connect() as conn:
                changes = await conn.run_sync(diff)
        finally:
            await engine.dispose()

        def kit(change) -> bool:  # the kit's own tables are not in our metadata
            if not isinstance(change, tuple):
                return False
            if change[0] == "remove_table":
                return change[1].name not in ours
            return change[0] == "remove_index" and change[1].table.name not in ours

        relevant = [c for c in changes if not kit(c)]
        assert relevant == [], relevant
