"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from motcua.migrate import upgrade_async
from motcua.testing import schema_drift
from motcua_metrics import migrations_dir
from motcua_metrics.db import Base
from motcua_metrics.models import load_all


class TestMigrations:
    async def test_models_match_migrations(self, make_database) -> None:
        load_all()
        assert {"catalog_version", "catalog_agency", "dossier_fact"} <= set(Base.metadata.tables)
        url = await make_database("metrics_schema")
        await upgrade_async(migrations_dir(), url)
        relevant = await schema_drift(url, Base.metadata)
        assert relevant == [], relevant
