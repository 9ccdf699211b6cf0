"""A batch of events projected together (``facts.service.apply_many``, through the
consumers' batch handlers) leaves exactly what the same events applied one at a time
leave: facts, national records, EMC steps, index aggregates, and the events sent on,
dossier by dossier in the same order. Real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from motcua.calendar import Calendar
from motcua.consumer import causation
from motcua.db import outbox_table, session_factory
from motcua.events import Envelope
from motcua_metrics import migrations_dir
from motcua_metrics.consumers import batch_handlers, handlers
from motcua_metrics.facts import service as facts
from motcua_metrics.facts.models import DossierFact, EmcSent, NationalSync
from motcua_metrics.index import aggregates as agg
from motcua_metrics.index.config import Agency, Units, load_index_config
from tests.motcua_metrics.scenario import Event
from tests.motcua_metrics.test_aggregates import random_events

PROVINCE = "TAGG"  # random_events' province
#: Columns that hold the time of the projection itself, not a fact of the events.
CLOCK = {"updated_at", "sent_at", "occurred_at"}


@pytest.fixture
async def engines(migrated_engines) -> tuple[AsyncEngine, AsyncEngine]:
    """Two fresh, migrated metrics databases: one event at a time, and in batches."""
    one_by_one, batched = await migrated_engines(migrations_dir(), "one_by_one", "batched")
    return one_by_one, batched


def _ctx() -> facts.ProjectionContext:
    units = Units({f"000.0{a}.17.{PROVINCE}": Agency(f"000.0{a}.17.{PROVINCE}",
                                                     commune=f"{PROVINCE}.C{a}")
                   for a in "123"})
    return facts.ProjectionContext(province=PROVINCE, calendar=Calendar(),
                                   config=load_index_config(), units=units)


def _envelope(e: Event) -> Envelope:
    return Envelope.wrap(e.data, province=PROVINCE, key=e.key, sequence=e.sequence)


async def _one_by_one(engine: AsyncEngine, envelopes: list[tuple[Envelope, Any]],
                      ctx: facts.ProjectionContext) -> None:
    by_type = {t: h for per in handlers(ctx).values() for t, h in per.items()}
    sessions = session_factory(engine)
    for envelope, data in envelopes:
        async with sessions() as session, session.begin():
            with causation(envelope):
                await by_type[envelope.type](envelope, data, session)


async def _batched(engine: AsyncEngine, envelopes: list[tuple[Envelope, Any]],
                   ctx: facts.ProjectionContext) -> list[tuple[int, int]]:
    """Each run of one consumer's events to its batch handler, in one transaction, as
    the consumer runner does. Per run: its events and the statements it took (besides
    the catalog's)."""
    durable = {t: d for d, per in handlers(ctx).items() for t in per}
    batch = batch_handlers(ctx)
    sessions = session_factory(engine)
    statements = [0]

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "catalog_" not in statement:  # catalog publications are applied one by one
            statements[0] += 1

    runs: list[list[tuple[Envelope, Any]]] = []
    for item in envelopes:
        if runs and durable[runs[-1][0][0].type] == durable[item[0].type]:
            runs[-1].append(item)
        else:
            runs.append([item])
    out = []
    for run in runs:
        async with sessions() as session, session.begin():
            statements[0] = 0
            await batch[durable[run[0][0].type]](run, session)
            out.append((len(run), statements[0]))
    event.remove(engine.sync_engine, "before_cursor_execute", _count)
    return out


async def _state(engine: AsyncEngine) -> dict[str, Any]:
    """Everything the projection wrote, without its own clock."""
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await agg.compact(session)
    async with sessions() as session:
        out: dict[str, Any] = {}
        for model in (DossierFact, NationalSync, EmcSent):
            table = model.__table__
            rows = (await session.execute(select(table))).mappings().all()
            out[table.name] = sorted(
                json.dumps({k: v for k, v in r.items() if k not in CLOCK}, default=str,
                            sort_keys=True) for r in rows)
        out["index"] = await agg.compacted_rows(session)
        sent: dict[str, list[str]] = {}
        for r in await session.execute(select(outbox_table).order_by(outbox_table.c.seq)):
            envelope = Envelope.from_bytes(r.payload)
            data = {k: v for k, v in envelope.data.items() if k not in CLOCK}
            sent.setdefault(r.aggregate_key, []).append(json.dumps(
                [envelope.type, envelope.sequence, envelope.causationid, data],
                sort_keys=True, default=str))
        out["sent"] = sent
    return out


@pytest.mark.parametrize("seed", [3, 11])
async def test_batches_leave_what_one_event_at_a_time_leaves(
        engines: tuple[AsyncEngine, AsyncEngine], seed: int) -> None:
    rnd = random.Random(seed)
    events = random_events(seed, dossiers=35)
    rnd.shuffle(events)
    durable = {t: d for d, per in handlers(_ctx()).items() for t in per}
    shuffled = [(env, e.data) for e in events if (env := _envelope(e)).type in durable]
    assert len(shuffled) > 150
    # A delivery order with runs of one consumer's events (each consumer's batches),
    # the consumers interleaved.
    envelopes = []
    for start in range(0, len(shuffled), 60):
        envelopes += sorted(shuffled[start:start + 60], key=lambda x: durable[x[0].type])

    alone, together = _ctx(), _ctx()
    await _one_by_one(engines[0], envelopes, alone)
    runs = await _batched(engines[1], envelopes, together)

    expected, got = await _state(engines[0]), await _state(engines[1])
    assert len(expected["dossier_fact"]) == 35
    assert expected["national_sync"] and expected["emc_sent"] and expected["index"]
    assert sum(len(v) for v in expected["sent"].values()) > 100
    for name in expected:
        assert got[name] == expected[name], name
    assert (together.stats.applied, together.stats.national_sent,
            together.stats.progress_sent, together.stats.emc_sent) == (
        alone.stats.applied, alone.stats.national_sent, alone.stats.progress_sent,
        alone.stats.emc_sent)
    # Rows are read and written per batch, not per event: a run of many events takes
    # about as many statements as one event alone.
    assert max(size for size, _ in runs) >= 20
    assert max(n for _, n in runs) <= 14, runs


async def test_only_committed_projections_are_counted(
        engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    """The Prometheus counters follow the commit: a batch rolled back (as a consumer's
    first run of a batch that then fails) counts nothing, so its re-run counts once."""
    ctx = _ctx()
    events = random_events(5, dossiers=3)
    durable = {t: d for d, per in handlers(ctx).items() for t in per}
    items = [(env, e.data) for e in events if (env := _envelope(e)).type in durable]
    sessions = session_factory(engines[0])
    with contextlib.suppress(RuntimeError):
        async with sessions() as session, session.begin():
            await facts.apply_many(session, items, ctx)
            raise RuntimeError("a later message of the batch failed")
    assert (sum(ctx.stats.applied.values()), ctx.stats.ignored,
            ctx.stats.national_sent) == (0, 0, 0)
    async with sessions() as session, session.begin():
        await facts.apply_many(session, items, ctx)
    assert sum(ctx.stats.applied.values()) + ctx.stats.ignored == len(items)
    assert ctx.stats.national_sent >= 3 and ctx.stats.last_freshness_s is not None


async def test_overlapping_batches_wait_for_each_other_and_see_each_others_events(
        engines: tuple[AsyncEngine, AsyncEngine], backend: str) -> None:
    """Two consumers' batches about the same dossiers, delivered in opposite orders: the
    second waits on the first's locked fact rows (no deadlock: both lock in code order),
    then folds the first's committed events too, so the result is the one-by-one one."""
    if backend == "sqlite":
        pytest.skip("SQLite serves one process per database file: one writer at a time")
    from sqlalchemy import text

    from motcua.testing import wait_for

    ctx = _ctx()
    events = random_events(7, dossiers=4)
    durable = {t: d for d, per in handlers(ctx).items() for t in per}
    items = [(env, e.data) for e in events
             if (env := _envelope(e)).type in durable and getattr(e.data, "dossier_code", None)]
    codes = sorted({d.dossier_code for _, d in items})
    assert len(codes) == 4
    # Every other event in each batch, in reverse order: both batches are about the same
    # dossiers, delivered in orders that would deadlock if each locked in its own order.
    first, second = items[::2][::-1], items[1::2][::-1]
    assert {d.dossier_code for _, d in first} == {d.dossier_code for _, d in second}

    await _one_by_one(engines[0], first + second, _ctx())
    sessions = session_factory(engines[1])
    async with sessions() as one:
        await one.begin()
        await facts.apply_many(one, first, ctx)
        pid: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def other() -> None:
            async with sessions() as two, two.begin():
                pid.set_result(int(await two.scalar(text("SELECT pg_backend_pid()"))))
                await facts.apply_many(two, second, ctx)

        task = asyncio.create_task(other())
        backend_pid = await pid

        async def waiting() -> bool:
            async with sessions() as probe:
                return await probe.scalar(text(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": backend_pid}) == "Lock"

        await wait_for(waiting, what="the second batch waiting on the first's rows")
        await one.commit()
    await task
    expected, got = await _state(engines[0]), await _state(engines[1])
    assert expected["national_sync"] and expected["sent"]
    for name in expected:
        assert got[name] == expected[name], name
