"""Transactional outbox: an event is a row written in the business transaction.

:func:`record` adds the row; the :class:`Relay` publishes rows in order with
``Nats-Msg-Id`` = event id (so JetStream drops a re-publish after a crash) and marks a
row only after its PubAck. A commit that recorded events wakes the relay at once; an
idle poll catches rows committed by other processes or left by a crash.

Only one relay publishes per database at a time, which keeps per-aggregate order:
on PostgreSQL the relays of all replicas compete for a session advisory lock and the
holder publishes; SQLite serves one process per file, so its relay always publishes.
(Claiming rows with ``FOR UPDATE SKIP LOCKED`` would let two replicas publish
concurrently and reorder one dossier's events.)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, registry
from sqlalchemy.sql import Executable

from motcua.bus import Bus
from motcua.db import outbox_table, side_engine, utcnow
from motcua.events import Envelope, EventData
from motcua.logging import get_logger

log = get_logger("motcua.outbox")

_RELAY_LOCK_KEY = 0x6D6F7463  # "motc": one relay leader per database
#: Seconds between the leader's probes of its session, and how long a probe may take.
LEADER_PROBE_S = 5.0
LEADER_PROBE_TIMEOUT_S = 2.0
_WAKE = "relay_wake"
_PENDING = "outbox_pending"


def record(session: AsyncSession, data: EventData, *, province: str, key: str,
           sequence: int | None = None) -> Envelope:
    """Write ``data`` as an event about aggregate ``key`` in the session's transaction."""
    row = new_row(session, data, province=province, key=key, sequence=sequence)
    # Added to the unit of work, so it is flushed and committed with the business rows.
    session.add(row)
    return row.envelope


def new_row(session: AsyncSession, data: EventData, *, province: str, key: str,
            sequence: int | None = None) -> OutboxRow:
    """The outbox row of ``data``, for a use case that writes its new rows itself with
    :func:`motcua.db.insert_new` in this transaction (:func:`record` otherwise): the
    event exists only once the row is inserted. Its envelope is ``row.envelope``."""
    envelope = Envelope.wrap(data, province=province, key=key, sequence=sequence)
    session.sync_session.info[_PENDING] = True
    row = OutboxRow(
        event_id=envelope.id, subject=data.subject(province), event_type=envelope.type,
        aggregate_key=key, payload=envelope.to_bytes(), created_at=envelope.time,
    )
    row.envelope = envelope
    return row


class OutboxRow:
    """An outbox row as a mapped object, so :func:`record` needs no await."""

    #: The event the row carries (not a column).
    envelope: Envelope

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)


# Mapped by its event id, which the writer knows, and without the columns the database
# fills: the unit of work then writes a transaction's rows with one executemany instead
# of one INSERT … RETURNING seq per row.
registry().map_imperatively(
    OutboxRow, outbox_table, primary_key=[outbox_table.c.event_id],
    exclude_properties=["seq", "published_at", "attempts", "last_error"], eager_defaults=False)


@event.listens_for(Session, "after_commit")
def _wake_relay_after_commit(session: Session) -> None:
    # SQLAlchemy also fires after_commit when a savepoint is released (a consumer's
    # per-message savepoint): its events are committed only with the outer transaction,
    # so waking the relay then would find nothing and leave the real commit unannounced.
    if session.in_nested_transaction():
        return
    if session.info.pop(_PENDING, False):
        wake = session.info.get(_WAKE)
        if wake is not None:
            wake()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    # A savepoint rolled back: events recorded before it in the transaction still stand.
    if not session.in_nested_transaction():
        session.info.pop(_PENDING, None)


FaultHook = Callable[[str, list[int]], Awaitable[None]]


class Relay:
    """Publishes outbox rows to JetStream, in order, marking each after its PubAck."""

    def __init__(self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
                 bus: Bus, *, batch: int = 200, idle_poll_s: float = 1.0,
                 max_backoff_s: float = 5.0, retention: timedelta = timedelta(days=7),
                 fault_hook: FaultHook | None = None) -> None:
        self._engine = engine
        self._sessions = sessions
        self._bus = bus
        self._batch = batch
        self._idle_poll = idle_poll_s
        self._max_backoff = max_backoff_s
        self._retention = retention
        # Test seam: awaited at "before_publish" and "after_publish" to simulate a crash there.
        self._fault_hook = fault_hook
        self._wake = asyncio.Event()
        self._leader_conn: AsyncConnection | None = None
        self._leader_driver: Any = None  # the asyncpg connection of _leader_conn
        self._leader_probed = 0.0  # time.monotonic() of the last answered probe
        self.backlog = 0
        self.published_total = 0
        self.is_leader = False

    def wake(self) -> None:
        """Ask the relay to publish now (called after a commit that recorded events)."""
        self._wake.set()

    async def run(self) -> None:
        """Publish forever: at once after a wake, else every idle poll; back off on failure."""
        backoff = 0.1
        last_sweep = utcnow()
        try:
            while True:
                try:
                    if not await self._lead():
                        await self._sleep(self._idle_poll * 2)
                        continue
                    published = await self.drain_once()
                    backoff = 0.1
                    if utcnow() - last_sweep > timedelta(hours=1):
                        await self._sweep()
                        last_sweep = utcnow()
                    if published < self._batch:
                        await self._sleep(self._idle_poll)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("relay_backoff", error=str(exc), error_type=type(exc).__name__,
                                retry_in=backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._max_backoff)
        finally:
            await self._resign()

    async def _sleep(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that arrives as the inner wait completes, and the relay would outlive shutdown.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    async def _lead(self) -> bool:
        """Hold (or try to take) the relay leadership for this database."""
        if self._engine.dialect.name != "postgresql":
            self.is_leader = True
            return True
        if self._leader_conn is not None:
            if await self._still_leading():
                return True
            await self._resign()
        # Autocommit: the session-level lock outlives statements, and the connection
        # must not sit "idle in transaction" for as long as this relay leads.
        conn = await self._engine.connect()
        try:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = await conn.scalar(select(func.pg_try_advisory_lock(_RELAY_LOCK_KEY)))
            driver = (await conn.get_raw_connection()).driver_connection if got else None
        except BaseException:
            # Whatever happened, this session may hold the lock: end it, not pool it.
            with contextlib.suppress(Exception):
                await conn.invalidate()
            raise
        if got:
            self._leader_conn, self._leader_driver = conn, driver
            self._leader_probed = time.monotonic()
            self.is_leader = True
            log.info("relay_leader")
            return True
        await conn.close()
        return False

    async def _still_leading(self) -> bool:
        """Whether the leader's session, and so its lock, still stands.

        Before each drain the driver's view, without a round trip: asyncpg closes the
        connection as soon as it reads the server's goodbye or the socket's end (a
        restart, a terminated backend). A connection dropped silently (a crashed host, a
        firewall) shows no end, so every ``LEADER_PROBE_S`` a ``SELECT 1`` with a time
        limit asks the server; a relay that cannot reach it stops leading.
        """
        driver = self._leader_driver
        if driver is None or driver.is_closed():
            return False
        if time.monotonic() - self._leader_probed < LEADER_PROBE_S:
            return True
        try:
            async with asyncio.timeout(LEADER_PROBE_TIMEOUT_S):
                await self._leader_conn.execute(select(1))  # type: ignore[union-attr]
        except Exception:
            return False
        self._leader_probed = time.monotonic()
        return True

    async def _resign(self) -> None:
        """Give up leadership: end the leader's database session, which releases the
        advisory lock with it.

        Invalidated, not returned to the pool: a pooled connection would keep the session
        and so the lock. Bounded in time: a close that waits on a dead or wedged server
        (seen: more than 60 s at shutdown) must not keep the service from stopping.
        """
        self.is_leader = False
        conn, self._leader_conn, self._leader_driver = self._leader_conn, None, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await conn.invalidate()
                return
        log.warning("relay_resign_slow", action="connection dropped without waiting")

    async def drain_once(self) -> int:
        """Publish one batch of unpublished rows; return how many were acknowledged."""
        rows = await self._alone(
            select(outbox_table.c.seq, outbox_table.c.event_id, outbox_table.c.subject,
                   outbox_table.c.payload)
            .where(outbox_table.c.published_at.is_(None))
            .order_by(outbox_table.c.seq).limit(self._batch))
        if not rows:
            self.backlog = 0
            return 0
        if not self._bus.connected:
            self.backlog = max(self.backlog, len(rows))
            raise ConnectionError("NATS unavailable; outbox kept")
        seqs = [r.seq for r in rows]
        if self._fault_hook:
            await self._fault_hook("before_publish", seqs)
        acked, error = await self._publish(rows)
        if self._fault_hook and acked:
            await self._fault_hook("after_publish", acked)
        if acked:
            await self._alone(update(outbox_table).where(outbox_table.c.seq.in_(acked))
                              .values(published_at=utcnow()))
            self.published_total += len(acked)
        if error is not None:
            failed = seqs[len(acked)]
            await self._alone(update(outbox_table).where(outbox_table.c.seq == failed)
                              .values(attempts=outbox_table.c.attempts + 1,
                                      last_error=str(error)[:500]))
            raise error
        self.backlog = max(0, self.backlog - len(acked)) if len(rows) == self._batch else 0
        return len(acked)

    async def _alone(self, statement: Executable) -> list[Any]:
        """Run one statement in a transaction of its own; its rows, if it returns any.

        On PostgreSQL on the autocommit side pool (``motcua.db.side_engine``): one round
        trip instead of BEGIN, the statement and COMMIT (a drain is a read and an update,
        about as many round trips as the submission that woke it). On SQLite in a
        transaction of the service's one connection, which serialises writers.
        """
        if self._engine.dialect.name == "postgresql":
            async with side_engine(self._engine).connect() as conn:
                result = await conn.execute(statement)
                return result.all() if result.returns_rows else []
        async with self._sessions() as session, session.begin():
            result = await session.execute(statement)
            return result.all() if result.returns_rows else []

    async def _publish(self, rows: list[Any]) -> tuple[list[int], Exception | None]:
        """Pipeline the batch on one connection (order kept) and collect PubAcks in order."""
        js = self._bus.js
        futures = []
        try:
            for row in rows:
                # No wait_stall: with one, nats-py wraps each message's semaphore wait in
                # asyncio.wait_for, a task of its own, so every message waited for its
                # turn on a busy event loop (200 rows took 1.6 s under load). Without
                # it nothing here suspends until the acks are awaited; the semaphore
                # (4,000 pending) is never reached, a batch's acks being awaited before
                # the next one.
                futures.append(await js.publish_async(
                    row.subject, row.payload, headers={"Nats-Msg-Id": row.event_id}))
        except Exception as exc:
            for f in futures:
                f.cancel()
            return [], exc
        acked: list[int] = []
        try:
            for row, future in zip(rows, futures, strict=False):
                try:
                    async with asyncio.timeout(5):
                        await future
                except Exception as exc:
                    return acked, exc if str(exc) else TimeoutError("PubAck timed out")
                acked.append(row.seq)
            return acked, None
        finally:
            # Whatever ended the wait (a failure, a cancel at shutdown), acks still
            # awaited free their place in nats-py's 4,000 pending publishes.
            for f in futures[len(acked):]:
                f.cancel()

    async def _sweep(self) -> None:
        """Delete published rows older than the retention."""
        async with self._sessions() as session, session.begin():
            await session.execute(delete(outbox_table).where(
                outbox_table.c.published_at < utcnow() - self._retention))

    async def count_backlog(self) -> int:
        """Unpublished rows right now."""
        async with self._sessions() as session:
            count = await session.scalar(select(func.count()).select_from(outbox_table)
                                         .where(outbox_table.c.published_at.is_(None)))
        self.backlog = int(count or 0)
        return self.backlog
