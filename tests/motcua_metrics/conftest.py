"""Metrics tests need only metrics: a mesh that does not import the other services, or
metrics' database alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua.db import create_engine, session_factory
from motcua.migrate import upgrade_async
from motcua.natsserver import NatsServer
from motcua.testing import Mesh
from motcua_metrics import migrations_dir
from motcua_metrics.spec import SERVICE


@pytest.fixture
async def mesh(nats_server: NatsServer, make_database) -> AsyncIterator[Mesh]:
    """A fresh province on the session NATS with metrics only (real events are published
    by the tests themselves), databases on the backend."""
    m = Mesh(nats_server.url, make_database, specs={"metrics": SERVICE})
    await m.provision()
    yield m
    await m.close()


@pytest.fixture
async def sessions(make_database) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a fresh, migrated metrics database alone (no service running)."""
    url = await make_database("metrics")
    await upgrade_async(migrations_dir(), url)
    engine = create_engine(url)
    yield session_factory(engine)
    await engine.dispose()
