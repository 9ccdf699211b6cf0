"""The outbox relay: its leadership on PostgreSQL (one relay per database publishes, and one
that stops hands over at once: its advisory lock goes with its database session), and
when it is woken."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, func, select

from motcua import outbox
from motcua.contracts.intake import DossierSubmittedV1
from motcua.db import create_engine, kit_metadata, outbox_table, session_factory, utcnow
from motcua.outbox import Relay
from motcua.testing import PostgresServer, counting_tasks, postgres_factory, wait_for


@contextlib.asynccontextmanager
async def _relays(postgres: PostgresServer, name: str, count: int,
                  **kwargs: Any) -> AsyncIterator[tuple[str, list[Relay]]]:
    """``count`` relays, each on its own engine, on a fresh database; they resign and their
    engines are disposed at the end."""
    url = await postgres_factory(postgres)(name)
    engines = [create_engine(url) for _ in range(count)]
    relays = [Relay(e, session_factory(e), bus=None, **kwargs)  # type: ignore[arg-type]
              for e in engines]
    try:
        yield url, relays
    finally:
        for relay in relays:
            await relay._resign()
        for engine in engines:
            await engine.dispose()


async def test_one_leader_per_database_and_a_resigned_leader_hands_over(
        postgres: PostgresServer) -> None:
    async with _relays(postgres, "relay_leadership", 2) as (_, (first, second)):
        assert await first._lead()
        assert first.is_leader
        assert not await second._lead()
        assert not second.is_leader

        # The first relay stops while its service's pool lives on (e.g. a reconnect, or
        # a pool not yet disposed): its session, and so the lock, must end with it.
        await first._resign()
        assert not first.is_leader
        assert await second._lead()
        assert not await first._lead()


async def test_a_leader_whose_connection_was_ended_hands_over(
        postgres: PostgresServer) -> None:
    async with _relays(postgres, "relay_connection_ended", 2) as (url, (first, second)):
        assert await first._lead()
        assert await first._lead()  # still leading: its connection stands
        # The leader's database session ends (a restart, an administrator): its lock
        # goes with it.
        assert await postgres.end_sessions(url, lock_holders_only=True)
        await wait_for(second._lead, what="the standby taking the lock")

        async def first_resigned() -> bool:
            return not await first._lead()

        await wait_for(first_resigned, what="the old leader noticing its session ended")
        assert not first.is_leader and second.is_leader


async def test_the_leader_checks_its_session_without_a_round_trip_and_probes_it(
        postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    async with _relays(postgres, "relay_probe", 1) as (url, (relay,)):
        statements: list[str] = []
        event.listen(relay._engine.sync_engine, "before_cursor_execute",
                     lambda *args: statements.append(args[2]))
        assert await relay._lead()
        statements.clear()
        assert await relay._lead()
        assert statements == []  # within LEADER_PROBE_S: the driver's view only

        # A connection that went away without the client seeing it end (a crashed host,
        # a firewall dropping it): the driver still says open, the probe finds out.
        class SeesNoEnd:
            def is_closed(self) -> bool:
                return False

        assert await postgres.end_sessions(url, lock_holders_only=True)
        relay._leader_driver = SeesNoEnd()
        monkeypatch.setattr(outbox, "LEADER_PROBE_S", 0.0)
        statements.clear()
        assert await relay._lead()  # the probe failed: it resigned and took the lock again
        assert statements[0].startswith("SELECT 1")  # the probe
        assert relay.is_leader and relay._leader_driver is not None
        assert not isinstance(relay._leader_driver, SeesNoEnd)


async def test_a_stopped_relay_hands_over(postgres: PostgresServer) -> None:
    async with _relays(postgres, "relay_stopped", 2, max_backoff_s=0.2) as (_, relays):
        leader, standby = relays
        # This database has no outbox table: the leader leads, then fails and backs off
        # in a loop, as it would while its database misbehaves, until it is stopped.
        task = asyncio.create_task(leader.run())
        await wait_for(lambda: leader.is_leader, what="leadership")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()
        assert not leader.is_leader
        assert await standby._lead()


class TestWake:
    """The relay is woken when events commit, not when a consumer's savepoint is released."""

    @staticmethod
    async def _setup(tmp_path: Any) -> tuple[Any, Any, list[int]]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'wake.db'}")
        async with engine.begin() as conn:
            await conn.run_sync(kit_metadata.create_all)
        wakes: list[int] = []
        sessions = session_factory(engine, relay_wake=lambda: wakes.append(1))
        return engine, sessions, wakes

    @staticmethod
    def _event(code: str) -> DossierSubmittedV1:
        return DossierSubmittedV1(dossier_code=code, agency_code="000.01.17.H56",
                                  procedure_code="1.001193", status=1, occurred_at=utcnow(),
                                  channel="online", applicant_kind="individual")

    async def test_events_in_savepoints_wake_the_relay_once_at_the_commit(
            self, tmp_path: Any) -> None:
        engine, sessions, wakes = await self._setup(tmp_path)
        try:
            async with sessions() as session, session.begin():
                for code in ("A-1", "A-2"):
                    async with session.begin_nested():
                        outbox.record(session, self._event(code), province="H56", key=code)
                assert wakes == []  # released savepoints: nothing is committed yet
            assert wakes == [1]
        finally:
            await engine.dispose()

    async def test_a_rolled_back_savepoint_keeps_the_earlier_events_announced(
            self, tmp_path: Any) -> None:
        engine, sessions, wakes = await self._setup(tmp_path)
        try:
            async with sessions() as session, session.begin():
                outbox.record(session, self._event("B-1"), province="H56", key="B-1")
                with contextlib.suppress(ValueError):
                    async with session.begin_nested():
                        raise ValueError("this message failed")
            assert wakes == [1]
            async with sessions() as session:
                assert await session.scalar(select(func.count()).select_from(outbox_table)) == 1
        finally:
            await engine.dispose()


async def test_a_transactions_events_are_written_in_one_statement_in_order(
        make_database: Any) -> None:
    """The outbox rows of a transaction go in with one executemany (not one INSERT …
    RETURNING per row) and keep the order they were recorded in."""
    from sqlalchemy import event

    engine = create_engine(await make_database("outbox_batch"))
    async with engine.begin() as conn:
        await conn.run_sync(kit_metadata.create_all)
    inserts: list[bool] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _seen(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any,
              many: bool) -> None:
        if statement.startswith("INSERT INTO outbox"):
            inserts.append(many)

    try:
        recorded = []
        async with session_factory(engine)() as session, session.begin():
            for code in ("D9", "D1", "D5", "D3", "D7"):
                recorded.append(outbox.record(session, TestWake._event(code),
                                              province="H56", key=code).id)
            # Rows are kept in the order recorded, not sorted by their event ids (the
            # mapper's key): ids made descending on purpose.
            for n in (3, 2, 1):
                row = outbox.OutboxRow(event_id=f"z-{n}", subject="s", event_type="t",
                                       aggregate_key="D1", payload=b"{}", created_at=utcnow())
                session.add(row)
                recorded.append(row.event_id)
        assert inserts == [True]
        async with engine.connect() as conn:
            rows = (await conn.execute(select(
                outbox_table.c.seq, outbox_table.c.event_id, outbox_table.c.attempts,
                outbox_table.c.published_at).order_by(outbox_table.c.seq))).all()
        assert [r.event_id for r in rows] == recorded
        assert [r.seq for r in rows] == sorted({r.seq for r in rows})
        assert {(r.attempts, r.published_at) for r in rows} == {(0, None)}
    finally:
        await engine.dispose()


async def test_a_batch_is_published_without_a_task_per_event(
        mesh: Any, make_database: Any) -> None:
    """The relay pipelines a batch without suspending per event: nats-py's ``wait_stall``
    would wrap each event's wait in ``asyncio.wait_for`` (a task of its own, a turn of a
    busy event loop each), which starved intake's relay under load. Every event is still
    acknowledged and marked published, in order."""
    from motcua.bus import Bus

    engine = create_engine(await make_database("relay_tasks"))
    async with engine.begin() as conn:
        await conn.run_sync(kit_metadata.create_all)
    bus = Bus(mesh.nats_url, name="relay-tasks-test")
    connecting = asyncio.create_task(bus.run())
    sessions = session_factory(engine)
    relay = Relay(engine, sessions, bus, batch=100)
    try:
        await bus.wait_connected()
        async with sessions() as session, session.begin():
            for n in range(40):
                code = f"T-{n}"
                outbox.record(session, DossierSubmittedV1(
                    dossier_code=code, agency_code=f"000.01.17.{mesh.province}",
                    procedure_code="1.001193", status=1, occurred_at=utcnow(),
                    channel="online", applicant_kind="individual"),
                    province=mesh.province, key=code)
        assert await relay._lead()
        with counting_tasks() as created:
            assert await relay.drain_once() == 40
        assert created[0] < 10
        async with engine.connect() as conn:
            rows = (await conn.execute(select(outbox_table.c.seq, outbox_table.c.published_at)
                                       .order_by(outbox_table.c.seq))).all()
        assert len(rows) == 40 and all(r.published_at is not None for r in rows)
    finally:
        await relay._resign()
        await bus.close()
        await connecting
        await engine.dispose()
