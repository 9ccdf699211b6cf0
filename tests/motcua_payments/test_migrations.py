"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from motcua.migrate import upgrade_async
from motcua.testing import schema_drift
from motcua_payments import migrations_dir
from motcua_payments.db import Base
from motcua_payments.models import load_all


class TestMigrations:
    async def test_models_match_migrations(self, make_database) -> None:
        load_all()
        url = await make_database("payments_schema")
        await upgrade_async(migrations_dir(), url)
        relevant = await schema_drift(url, Base.metadata)
        assert relevant == [], relevant
