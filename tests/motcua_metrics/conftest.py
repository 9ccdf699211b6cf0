"""Metrics tests need only metrics: a mesh that does not import the other services."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from motcua.natsserver import NatsServer
from motcua.testing import Mesh
from motcua_metrics.spec import SERVICE


@pytest.fixture
async def mesh(nats_server: NatsServer, make_database) -> AsyncIterator[Mesh]:
    """A fresh province on the session NATS with metrics only (real events are published
    by the tests themselves), databases on the backend."""
    m = Mesh(nats_server.url, make_database, specs={"metrics": SERVICE})
    await m.provision()
    yield m
    await m.close()
