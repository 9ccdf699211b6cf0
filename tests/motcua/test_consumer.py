"""The consumer runner applies a fetched batch in one transaction: one statement claims the
batch's event ids, the handlers run without savepoints, and only when something fails is
the batch run again with a savepoint per message, so the failing message alone is retried.
Real nats-server, real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table, event, select
from sqlalchemy.exc import IntegrityError

from motcua.bus import Bus
from motcua.calendar import TIMEZONE
from motcua.consumer import BatchHandler, ConsumerRunner, Handler, take_queued_at_once
from motcua.contracts.intake import DossierSubmittedV1
from motcua.db import create_engine, inbox_table, kit_metadata, session_factory
from motcua.events import Envelope
from motcua.streams import CONSUMERS
from motcua.testing import Mesh, counting_tasks, wait_for

SPEC = next(c for c in CONSUMERS if c.durable == "workflow-intake")

effects_metadata = MetaData()
#: What the test handler does: one row per dossier (so a second row for one fails).
effects = Table("effects", effects_metadata, Column("dossier_code", String, primary_key=True))


@dataclass
class Rig:
    mesh: Mesh
    bus: Bus
    runner: ConsumerRunner
    engine: Any
    statements: list[str] = field(default_factory=list)
    serial: int = 0

    async def publish(self, envelope: Envelope | None = None, *, msg_id: str | None = None
                      ) -> Envelope:
        """Publish a new ``dossier.submitted`` (or ``envelope`` again, under ``msg_id``)."""
        if envelope is None:
            self.serial += 1
            data = DossierSubmittedV1(
                dossier_code=f"D{self.serial}", agency_code=f"000.01.17.{self.mesh.province}",
                procedure_code="1.004884", status=1, occurred_at=datetime.now(TIMEZONE),
                channel="online", applicant_kind="individual")
            envelope = Envelope.wrap(data, province=self.mesh.province, key=data.dossier_code)
        subject = f"motcua.{self.mesh.province}.intake.dossier.submitted"
        await self.bus.js.publish(subject, envelope.to_bytes(),
                                  headers={"Nats-Msg-Id": msg_id or envelope.id})
        return envelope

    async def fetch(self, n: int) -> list[Any]:
        """The next ``n`` deliveries of the durable."""
        psub = await self.bus.js.pull_subscribe_bind(SPEC.durable,
                                                     SPEC.stream(self.mesh.province))
        msgs: list[Any] = []
        while len(msgs) < n:
            msgs += await psub.fetch(n - len(msgs), timeout=5)
        await psub.unsubscribe()
        return msgs

    def use(self, handler: Handler, batch_handler: BatchHandler | None = None,
            **options: Any) -> None:
        """A fresh runner with these handlers (the same durable, database and bus) and
        ``ConsumerRunner`` options (a 0.05 s backoff unless given)."""
        options.setdefault("backoff_s", [0.05])
        self.runner = ConsumerRunner(
            SPEC, province=self.mesh.province, bus=self.bus, sessions=session_factory(self.engine),
            handlers={DossierSubmittedV1.event_type(): handler}, batch_handler=batch_handler,
            **options)

    async def applied(self) -> list[str]:
        async with session_factory(self.engine)() as session:
            return list(await session.scalars(select(effects.c.dossier_code)
                                              .order_by(effects.c.dossier_code)))

    async def claimed(self) -> int:
        async with session_factory(self.engine)() as session:
            return len(list(await session.scalars(
                select(inbox_table.c.event_id).where(inbox_table.c.consumer == SPEC.durable))))


async def _apply(envelope: Envelope, data: Any, session: Any) -> None:
    await session.execute(effects.insert().values(dossier_code=data.dossier_code))


@pytest.fixture
async def rig(mesh: Mesh, make_database) -> AsyncIterator[Rig]:
    engine = create_engine(await make_database("consumer"))
    async with engine.begin() as conn:
        await conn.run_sync(kit_metadata.create_all)
        await conn.run_sync(effects_metadata.create_all)
    bus = Bus(mesh.nats_url, name="consumer-test")
    connecting = asyncio.create_task(bus.run())
    await bus.wait_connected()
    rig = Rig(mesh, bus, None, engine)  # type: ignore[arg-type]
    rig.use(_apply)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(conn, cursor, statement, *args: Any) -> None:
        words = statement.split()
        rig.statements.append(" ".join([words[0].upper(), *words[1:3]]))

    try:
        yield rig
    finally:
        await connecting
        await bus.close()
        await engine.dispose()


async def test_a_batch_is_claimed_in_one_statement_without_savepoints(rig: Rig) -> None:
    for _ in range(3):
        await rig.publish()
    msgs = await rig.fetch(3)
    rig.statements.clear()
    await rig.runner.handle_batch(msgs)
    assert await rig.applied() == ["D1", "D2", "D3"]
    assert await rig.claimed() == 3
    assert rig.runner.stats.processed == 3 and rig.runner.stats.reruns == 0
    inbox_inserts = [s for s in rig.statements if s.startswith("INSERT INTO inbox")]
    assert len(inbox_inserts) == 1
    assert not [s for s in rig.statements if "SAVEPOINT" in s]


async def test_the_claim_of_any_batch_size_is_compiled_once(rig: Rig) -> None:
    """Batches of any size are claimed from a cached compiled statement (SQLAlchemy
    keeps one for a single row and one for many); a statement built with the rows as
    its VALUES was compiled afresh for every batch."""
    from sqlalchemy.engine.default import CACHE_HIT

    hits: list[bool] = []

    @event.listens_for(rig.engine.sync_engine, "before_cursor_execute")
    def _cached(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> None:
        if statement.startswith("INSERT INTO inbox"):
            hits.append(context.cache_hit is CACHE_HIT)

    try:
        for size in (2, 1, 5, 3, 1, 4):
            for _ in range(size):
                await rig.publish()
            await rig.runner.handle_batch(await rig.fetch(size))
    finally:
        event.remove(rig.engine.sync_engine, "before_cursor_execute", _cached)
    assert await rig.claimed() == 16 and rig.runner.stats.processed == 16
    assert hits == [False, False, True, True, True, True]


async def test_a_failing_message_is_retried_alone_and_the_others_are_applied(rig: Rig) -> None:
    for _ in range(3):
        await rig.publish()
    # D2's effect already exists: its handler fails (a constraint violation, which on
    # PostgreSQL aborts the whole transaction unless a savepoint contains it).
    async with rig.engine.begin() as conn:
        await conn.execute(effects.insert().values(dossier_code="D2"))
    await rig.runner.handle_batch(await rig.fetch(3))
    assert rig.runner.stats.processed == 2 and rig.runner.stats.failed == 1
    assert rig.runner.stats.reruns == 1
    assert await rig.claimed() == 2  # D2's claim was rolled back with its savepoint
    assert await rig.applied() == ["D1", "D2", "D3"]

    # The cause is fixed; the redelivery of D2 (alone) is applied.
    async with rig.engine.begin() as conn:
        await conn.execute(effects.delete().where(effects.c.dossier_code == "D2"))
    [again] = await rig.fetch(1)
    assert again.metadata.num_delivered == 2
    await rig.runner.handle_batch([again])
    assert rig.runner.stats.processed == 3
    assert await rig.claimed() == 3
    assert await rig.applied() == ["D1", "D2", "D3"]


async def test_the_same_event_twice_in_one_batch_is_applied_once(rig: Rig) -> None:
    original = await rig.publish()
    await rig.publish(original, msg_id="again")  # a re-publish JetStream cannot de-duplicate
    await rig.runner.handle_batch(await rig.fetch(2))
    assert await rig.applied() == ["D1"]
    assert (rig.runner.stats.processed, rig.runner.stats.duplicates) == (1, 1)
    assert await rig.claimed() == 1


async def test_a_swallowed_postgresql_error_is_not_acknowledged_as_applied(
        rig: Rig, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite goes on after a failed statement: there is nothing to detect")

    async def swallowing(envelope: Envelope, data: Any, session: Any) -> None:
        with contextlib.suppress(IntegrityError):  # should have used a savepoint
            await session.execute(effects.insert().values(dossier_code=data.dossier_code))

    rig.use(swallowing)
    for _ in range(3):
        await rig.publish()
    async with rig.engine.begin() as conn:
        await conn.execute(effects.insert().values(dossier_code="D3"))
    # D3's insert fails and aborts the transaction; a COMMIT would then roll back D1 and
    # D2 without an error, after which they would be acknowledged as applied.
    await rig.runner.handle_batch(await rig.fetch(3))
    assert (rig.runner.stats.processed, rig.runner.stats.failed) == (2, 1)
    assert await rig.claimed() == 2
    assert await rig.applied() == ["D1", "D2", "D3"]


async def test_a_batch_handler_gets_the_newly_claimed_events_in_one_call(rig: Rig) -> None:
    calls: list[list[str]] = []

    async def together(items: list[tuple[Envelope, Any]], session: Any) -> None:
        calls.append([data.dossier_code for _, data in items])
        await session.execute(effects.insert(), [{"dossier_code": data.dossier_code}
                                                 for _, data in items])

    rig.use(_apply, together)
    first = await rig.publish()
    await rig.runner.handle_batch(await rig.fetch(1))
    await rig.publish(first, msg_id="again")  # already applied: not handed to the handler
    for _ in range(3):
        await rig.publish()
    rig.statements.clear()
    await rig.runner.handle_batch(await rig.fetch(4))
    assert calls == [["D1"], ["D2", "D3", "D4"]]
    assert await rig.applied() == ["D1", "D2", "D3", "D4"]
    assert (rig.runner.stats.processed, rig.runner.stats.duplicates) == (4, 1)
    assert len([s for s in rig.statements if s.startswith("INSERT INTO effects")]) == 1


async def test_when_a_batch_handler_fails_the_events_are_applied_one_by_one(rig: Rig) -> None:
    calls: list[list[str]] = []

    async def together(items: list[tuple[Envelope, Any]], session: Any) -> None:
        calls.append([data.dossier_code for _, data in items])
        for _, data in items:
            await session.execute(effects.insert().values(dossier_code=data.dossier_code))

    rig.use(_apply, together)
    for _ in range(3):
        await rig.publish()
    async with rig.engine.begin() as conn:
        await conn.execute(effects.insert().values(dossier_code="D2"))
    await rig.runner.handle_batch(await rig.fetch(3))
    # The batch handler failed on D2; the re-run used the per-event handler, in which
    # only D2 failed.
    assert calls == [["D1", "D2", "D3"]]
    assert (rig.runner.stats.processed, rig.runner.stats.failed) == (2, 1)
    assert await rig.claimed() == 2
    assert await rig.applied() == ["D1", "D2", "D3"]


async def test_a_batch_aborted_once_and_applied_on_its_rerun_is_counted(rig: Rig) -> None:
    """A transaction the database aborts (a deadlock, a serialization failure) fails no
    message: the rerun applies them all. The rerun is counted, or it would be seen
    nowhere (``motcua_consumer_batch_reruns``)."""
    aborts = [RuntimeError("deadlock detected")]

    async def together(items: list[tuple[Envelope, Any]], session: Any) -> None:
        await session.execute(effects.insert(), [{"dossier_code": data.dossier_code}
                                                 for _, data in items])
        if aborts:
            raise aborts.pop()

    rig.use(_apply, together)
    for _ in range(3):
        await rig.publish()
    await rig.runner.handle_batch(await rig.fetch(3))
    stats = rig.runner.stats
    assert (stats.processed, stats.failed, stats.reruns) == (3, 0, 1)
    assert await rig.applied() == ["D1", "D2", "D3"]
    assert await rig.claimed() == 3


async def test_fetch_takes_queued_messages_without_a_task_each(rig: Rig) -> None:
    """``take_queued_at_once``: the messages in the same order, but the ones already
    received are taken at once, not through the task (and ``wait_for``) nats-py's
    ``next_msg`` starts per message, each waiting for a turn of a busy event loop."""
    tasks: dict[bool, int] = {}
    waits = 0  # calls that reached nats-py's own next_msg (two tasks each)
    for fast in (False, True):
        sent = [(await rig.publish()).id for _ in range(40)]  # all stored before the fetch
        psub = await rig.bus.js.pull_subscribe_bind(SPEC.durable,
                                                     SPEC.stream(rig.mesh.province))
        if fast:
            own = psub._sub.next_msg

            async def counted(timeout: float | None = 1.0, own: Any = own) -> Any:
                nonlocal waits
                waits += 1
                return await own(timeout)

            psub._sub.next_msg = counted
            assert take_queued_at_once(psub)
        with counting_tasks() as created:
            msgs = await psub.fetch(100, timeout=5)
        tasks[fast] = created[0]
        assert [Envelope.from_bytes(m.data).id for m in msgs] == sent, fast
        for m in msgs:
            await m.ack()
        await psub.unsubscribe()
    assert tasks[False] >= 2 * 40
    # Tasks only where the queue was empty and nats-py waited; the rest taken at once
    # (how many reads the 40 arrive in depends on the machine's load).
    assert 1 <= waits < 40
    assert tasks[True] == 2 * waits


async def test_the_runner_takes_queued_messages_at_once(rig: Rig, monkeypatch: Any) -> None:
    """The runner's bound subscription goes through ``take_queued_at_once``."""
    import motcua.consumer as consumer

    bound: list[Any] = []

    def spy(psub: Any) -> bool:
        bound.append(psub)
        return take_queued_at_once(psub)

    monkeypatch.setattr(consumer, "take_queued_at_once", spy)
    await rig.publish()
    task = asyncio.create_task(rig.runner.run())
    try:
        await wait_for(lambda: len(bound) == 1 and rig.runner.stats.processed == 1,
                       what="bound and applied")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await rig.applied() == ["D1"]


async def test_the_lag_counts_events_waiting_and_those_awaiting_redelivery(rig: Rig) -> None:
    """``stats.pending`` (the ``motcua_consumer_lag`` gauge), read after each batch:
    events not yet delivered plus those delivered and not acknowledged (a failed one
    waiting for its redelivery)."""
    gate, entered = asyncio.Event(), list[str]()

    async def gated(envelope: Envelope, data: Any, session: Any) -> None:
        entered.append(data.dossier_code)
        if data.dossier_code == "D3":
            await gate.wait()
        await _apply(envelope, data, session)

    # One event per fetch, so the lag is read between them; a failed event is
    # redelivered long after the test.
    rig.use(gated, batch=1, backoff_s=[600.0])
    async with rig.engine.begin() as conn:  # D2's handler fails: its effect exists
        await conn.execute(effects.insert().values(dossier_code="D2"))
    for _ in range(3):
        await rig.publish()
    task = asyncio.create_task(rig.runner.run())
    try:
        await wait_for(lambda: "D3" in entered, what="D3 being applied")
        # Read after D2's batch, before D3 was fetched: D2 (failed, awaiting its
        # redelivery) and D3 (not yet delivered).
        assert rig.runner.stats.pending == 2 and rig.runner.stats.failed == 1
        gate.set()
        await wait_for(lambda: rig.runner.stats.processed == 2, what="D1 and D3 applied")
        await wait_for(lambda: rig.runner.stats.pending == 1, what="the lag read again")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await rig.claimed() == 2


async def test_a_database_outage_holds_the_batch_instead_of_dead_lettering_it(
        rig: Rig, backend: str, postgres: Any) -> None:
    """The database refuses connections and drops the pool's: the runner keeps the batch
    (marked in progress, not redelivered), tries again until the database is back, and
    applies it; nothing is counted as failed or dead-lettered, though the outage spans
    many times what ``max_deliver`` and the backoff allow a failing message."""
    if backend == "sqlite":
        pytest.skip("an SQLite file has no server to refuse or drop connections")
    import secrets

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from motcua.consumer import list_dead_letters

    role, password = f"consumer_{secrets.token_hex(4)}", secrets.token_hex(8)
    async with postgres.admin() as admin:
        await admin.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
    async with rig.engine.begin() as conn:
        await conn.execute(text(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"'))
    engine = create_engine(make_url(str(rig.engine.url.render_as_string(
        hide_password=False))).set(username=role, password=password)
        .render_as_string(hide_password=False))

    async def outage(on: bool) -> None:
        async with postgres.admin() as admin:
            await admin.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT {0 if on else -1}')
            if on:  # and the connections it has are dropped, as by a restart
                await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                    " WHERE usename = $1", role)

    runner = ConsumerRunner(
        SPEC, province=rig.mesh.province, bus=rig.bus, sessions=session_factory(engine),
        handlers={DossierSubmittedV1.event_type(): _apply}, max_deliver=2,
        backoff_s=[0.01], hold_s=(0.01,))
    task = asyncio.create_task(runner.run())
    try:
        await rig.publish()
        await wait_for(lambda: runner.stats.processed == 1, what="D1 applied")
        await outage(True)
        for _ in range(3):
            await rig.publish()
        # Ten tries with the database away: a failing message would have been
        # dead-lettered after two.
        await wait_for(lambda: runner.stats.database_waits >= 10, what="the batch held")
        assert await rig.applied() == ["D1"]
        await outage(False)
        await wait_for(lambda: runner.stats.processed == 4, what="D2-D4 applied")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.dispose()
        await outage(False)
    assert await rig.applied() == ["D1", "D2", "D3", "D4"]
    assert (runner.stats.failed, runner.stats.dead_lettered) == (0, 0)
    assert await list_dead_letters(rig.bus.js, rig.mesh.province) == []
    info = await rig.bus.js.consumer_info(SPEC.stream(rig.mesh.province), SPEC.durable)
    assert (info.num_redelivered, info.num_ack_pending, info.num_pending) == (0, 0, 0)
