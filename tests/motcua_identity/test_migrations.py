"""identity-bridge's migrations build the models' schema, and 0003 keeps existing documents."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import bindparam, text

from motcua.db import UtcDateTime, create_engine
from motcua.migrate import alembic_config, upgrade, upgrade_async
from motcua.testing import schema_drift
from motcua_identity import migrations_dir
from motcua_identity.db import Base
from motcua_identity.models import load_all
from tests.motcua_identity.conftest import PID_AN

AT = bindparam("at", type_=UtcDateTime)


class TestMigrations:
    async def test_models_match_migrations(self, make_database) -> None:
        load_all()
        url = await make_database("identity_schema")
        await upgrade_async(migrations_dir(), url)
        relevant = await schema_drift(url, Base.metadata)
        assert relevant == [], relevant

    async def test_owner_refs_keep_existing_documents_and_go_back(self, make_database) -> None:
        url = await make_database("identity_0003")
        await asyncio.to_thread(upgrade, migrations_dir(), url, "0002")
        engine = create_engine(url)
        row = {"id": "d-1", "pid": PID_AN, "t": "giay_khai_sinh", "title": "Giấy khai sinh",
               "agency": "000.01.17.H56", "src": "digitised", "sha": "a" * 64,
               "mt": "application/pdf", "at": datetime(2026, 11, 1, tzinfo=UTC), "by": "officer-1"}
        try:
            async with engine.begin() as conn:
                await conn.execute(text(
                    "INSERT INTO stored_document (id, owner_personal_id, document_type, title,"
                    " issuing_agency, source, content_sha256, media_type, stored_at, stored_by,"
                    " reuse_count) VALUES (:id, :pid, :t, :title, :agency, :src, :sha, :mt,"
                    " :at, :by, 0)").bindparams(AT), row)
            await upgrade_async(migrations_dir(), url)
            async with engine.begin() as conn:
                kept = (await conn.execute(text(
                    "SELECT owner_personal_id, owner_ref, result_of FROM stored_document"
                ))).all()
                assert [tuple(r) for r in kept] == [(PID_AN, None, None)]
                # A result known only by reference is possible now.
                await conn.execute(text(
                    "INSERT INTO stored_document (id, owner_ref, document_type, title,"
                    " issuing_agency, source, content_sha256, media_type, stored_at,"
                    " stored_by, reuse_count, result_of) VALUES ('d-2', 'own1_x', 'result:1',"
                    " 'KQ', :agency, 'result', :sha, :mt, :at, 'event:e', 0, 'D#1')"
                ).bindparams(AT), row)
            await asyncio.to_thread(command.downgrade, alembic_config(migrations_dir(), url),
                                    "0002")
            async with engine.begin() as conn:
                left = (await conn.execute(text("SELECT id FROM stored_document"))).all()
                assert [r[0] for r in left] == ["d-1"]
        finally:
            await engine.dispose()
