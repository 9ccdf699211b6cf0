"""The bare baseline for bench/slice.py: the least a dossier submission could cost.

One FastAPI endpoint, ``POST /v1/dossiers``, that parses the same JSON body and, in one
transaction, inserts it raw plus one outbox-like row. No validation, no catalog lookups,
no sequence, no ORM, no relay, no NATS: an upper bound for what intake could reach on the
same machine, database and server (uvicorn, one process, same event loop and HTTP parser).

Run by ``bench/slice.py`` as ``python -m uvicorn --app-dir bench baseline_app:app`` with
``BENCH_BASELINE_DATABASE_URL`` set to ``sqlite:///<file>`` or ``postgresql://...``.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

DATABASE_URL = os.environ.get("BENCH_BASELINE_DATABASE_URL", "")
#: PostgreSQL pool: intake's SQLAlchemy engine allows 10 + 20 overflow connections.
PG_POOL_MIN, PG_POOL_MAX = 5, 30

SQLITE_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS submission (
        id INTEGER PRIMARY KEY, payload TEXT NOT NULL, created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, subject TEXT NOT NULL,
        payload BLOB NOT NULL, created_at TEXT NOT NULL, published_at TEXT)""",
    """CREATE INDEX IF NOT EXISTS ix_outbox_unpublished ON outbox (seq)
        WHERE published_at IS NULL""",
)
PG_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS submission (
        id BIGSERIAL PRIMARY KEY, payload JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS outbox (
        seq BIGSERIAL PRIMARY KEY, event_id VARCHAR(36) NOT NULL UNIQUE,
        subject VARCHAR(255) NOT NULL, payload BYTEA NOT NULL,
        created_at TIMESTAMPTZ NOT NULL, published_at TIMESTAMPTZ)""",
    """CREATE INDEX IF NOT EXISTS ix_outbox_unpublished ON outbox (seq)
        WHERE published_at IS NULL""",
)


class SqliteStore:
    """One aiosqlite connection; SQLite has one writer, so transactions are serialised."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn: Any = None
        self.lock = asyncio.Lock()

    async def open(self) -> None:
        import aiosqlite

        # Same pragmas as motcua.db.create_engine: WAL, synchronous=NORMAL, busy timeout.
        self.conn = await aiosqlite.connect(self.path, isolation_level=None, timeout=30)
        for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                       "PRAGMA busy_timeout=30000", "PRAGMA foreign_keys=ON"):
            await self.conn.execute(pragma)
        for ddl in SQLITE_SCHEMA:
            await self.conn.execute(ddl)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()

    async def ping(self) -> None:
        await self.conn.execute("SELECT 1")

    async def insert(self, payload: str, event: bytes, event_id: str, subject: str) -> int:
        now = datetime.now(UTC).isoformat()
        async with self.lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                cur = await self.conn.execute(
                    "INSERT INTO submission (payload, created_at) VALUES (?, ?)", (payload, now))
                row_id = cur.lastrowid
                await self.conn.execute(
                    "INSERT INTO outbox (event_id, subject, payload, created_at) "
                    "VALUES (?, ?, ?, ?)", (event_id, subject, event, now))
                await self.conn.execute("COMMIT")
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
        return int(row_id)


class PostgresStore:
    """An asyncpg pool; one transaction per submission."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pool: Any = None

    async def open(self) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(self.dsn, min_size=PG_POOL_MIN,
                                              max_size=PG_POOL_MAX)
        async with self.pool.acquire() as conn:
            for ddl in PG_SCHEMA:
                await conn.execute(ddl)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def ping(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT 1")

    async def insert(self, payload: str, event: bytes, event_id: str, subject: str) -> int:
        now = datetime.now(UTC)
        async with self.pool.acquire() as conn, conn.transaction():
            row_id = await conn.fetchval(
                "INSERT INTO submission (payload, created_at) VALUES ($1::jsonb, $2) "
                "RETURNING id", payload, now)
            await conn.execute(
                "INSERT INTO outbox (event_id, subject, payload, created_at) "
                "VALUES ($1, $2, $3, $4)", event_id, subject, event, now)
        return int(row_id)


def make_store(url: str) -> SqliteStore | PostgresStore:
    """The store for ``url`` (``sqlite:///path`` or ``postgresql://...``)."""
    if url.startswith("sqlite"):
        return SqliteStore(url.split("///", 1)[1])
    if url.startswith("postgresql"):
        return PostgresStore(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    raise RuntimeError("set BENCH_BASELINE_DATABASE_URL to sqlite:///... or postgresql://...")


store = make_store(DATABASE_URL)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await store.open()
    try:
        yield
    finally:
        await store.close()


app = FastAPI(title="motcua bench baseline", lifespan=lifespan)


@app.post("/v1/dossiers", status_code=201)
async def submit(request: Request) -> Response:
    """Parse the body, store it raw and one outbox-like event row in one transaction."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError:
        return JSONResponse({"detail": "invalid JSON"}, status_code=400)
    if not isinstance(body, dict):
        return JSONResponse({"detail": "expected an object"}, status_code=422)
    event_id = str(uuid.uuid4())
    event = json.dumps({"id": event_id, "type": "bench.submitted.v1", "data": body},
                       ensure_ascii=False).encode()
    row_id = await store.insert(raw.decode(), event, event_id, "bench.baseline.submitted")
    return JSONResponse({"id": row_id, "event_id": event_id}, status_code=201)


@app.get("/readyz")
async def readyz() -> Response:
    """Ready when the database answers."""
    try:
        await store.ping()
    except Exception as exc:  # pragma: no cover - reported to the bench
        return JSONResponse({"status": f"down: {type(exc).__name__}"}, status_code=503)
    return JSONResponse({"status": "ready"})
