"""The definition a new case binds to, and what a transaction remembers of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua.db import create_engine, session_factory
from motcua.migrate import upgrade_async
from motcua_workflow import migrations_dir
from motcua_workflow.definitions import service as definitions
from motcua_workflow.definitions.defaults import packaged_defaults
from motcua_workflow.definitions.models import ProcessDefinition
from motcua_workflow.definitions.schemas import DefinitionSpec
from motcua_workflow.models import load_all

NOW = datetime(2026, 3, 2, 1, tzinfo=UTC)
CODE = "1.001193"


@pytest.fixture
async def sessions(make_database) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a migrated, empty workflow database."""
    load_all()
    url = await make_database("workflow_definitions")
    await upgrade_async(migrations_dir(), url)
    engine = create_engine(url)
    yield session_factory(engine)
    await engine.dispose()


def _renamed(name: str) -> DefinitionSpec:
    """The procedure's default with another name: a new version when stored."""
    return packaged_defaults()[CODE].model_copy(update={"name": name})


async def _stored(sessions: async_sessionmaker[AsyncSession], spec: DefinitionSpec) -> int:
    async with sessions() as session, session.begin():
        row, _ = await definitions.store(session, spec, source="test", now=NOW)
    return row.version


async def _exists(session: AsyncSession, row: ProcessDefinition) -> bool:
    return bool(await session.scalar(select(func.count()).select_from(ProcessDefinition)
                                     .where(ProcessDefinition.id == row.id)))


class TestResolve:
    async def test_stores_and_binds_the_default_when_nothing_is_stored(self, sessions):
        async with sessions() as session, session.begin():
            row = await definitions.resolve(session, CODE, now=NOW)
            assert (row.procedure_code, row.version, row.source) == (CODE, 1, "default")
            assert await _exists(session, row)

    async def test_a_later_transaction_binds_a_version_stored_since(self, sessions):
        assert await _stored(sessions, _renamed("first")) == 1
        async with sessions() as session:  # one session, one transaction after another
            async with session.begin():
                assert (await definitions.resolve(session, CODE, now=NOW)).version == 1
            assert await _stored(sessions, _renamed("second")) == 2
            async with session.begin():
                assert (await definitions.resolve(session, CODE, now=NOW)).version == 2

    async def test_a_version_stored_in_the_transaction_binds_at_once(self, sessions):
        await _stored(sessions, _renamed("first"))
        async with sessions() as session, session.begin():
            assert (await definitions.resolve(session, CODE, now=NOW)).version == 1
            await definitions.store(session, _renamed("second"), source="test", now=NOW)
            assert (await definitions.resolve(session, CODE, now=NOW)).version == 2

    async def test_a_rolled_back_savepoint_takes_its_stored_default_along(self, sessions):
        # A consumer applies each message in a savepoint: a failed message must not leave
        # the next one bound to a definition row that no longer exists.
        async with sessions() as session, session.begin():
            with pytest.raises(RuntimeError):
                async with session.begin_nested():
                    gone = await definitions.resolve(session, CODE, now=NOW)
                    assert (await definitions.resolve(session, CODE, now=NOW)).id == gone.id
                    raise RuntimeError("the message failed")
            row = await definitions.resolve(session, CODE, now=NOW)
            assert row.id != gone.id and await _exists(session, row)
        async with sessions() as session:
            assert await _exists(session, row)

    async def test_a_transaction_keeps_the_version_it_found_first(self, sessions, backend):
        if backend == "sqlite":
            pytest.skip("SQLite serves one process per file: no other writer commits meanwhile")
        await _stored(sessions, _renamed("first"))
        async with sessions() as session, session.begin():
            assert (await definitions.resolve(session, CODE, now=NOW)).version == 1
            assert await _stored(sessions, _renamed("second")) == 2
            # As if the whole transaction ran before the import committed.
            assert (await definitions.resolve(session, CODE, now=NOW)).version == 1
        async with sessions() as session, session.begin():
            assert (await definitions.resolve(session, CODE, now=NOW)).version == 2
