"""Projection of events into dossier facts, and the figures read from them.

:func:`apply` is the one entry point for every handled event, live or during a rebuild:
it stores the event's facts, locks the dossier's fact row, refolds it from all its
events, records the change of its index aggregates (:mod:`motcua_metrics.index.
aggregates`), and (live) sends the national record when its content changed, plus the
progress entry and EMC tracking of that step. Locking the fact row before reading the
events serialises two consumers that apply events of the same dossier at once (each
refold then sees the other's committed event).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua import outbox
from motcua.calendar import Calendar
from motcua.contracts.metrics import NationalDossierSyncedV1, NationalProgressSyncedV1
from motcua.db import utcnow
from motcua.events import Envelope
from motcua_metrics.facts.models import DossierEvent, DossierFact, EmcSent, NationalSync
from motcua_metrics.facts.projection import EventRow, fold
from motcua_metrics.index import aggregates
from motcua_metrics.index.config import IndexConfig, Units
from motcua_metrics.national import records


@dataclass
class ProjectionStats:
    """Counters exported to Prometheus."""

    applied: Counter[str] = field(default_factory=Counter)
    ignored: int = 0
    national_sent: int = 0
    progress_sent: int = 0
    emc_sent: int = 0
    #: Seconds from the event's envelope time to its application, for the last event.
    last_freshness_s: float = 0.0


@dataclass
class ProjectionContext:
    """What the projection needs besides the events."""

    province: str
    calendar: Calendar
    config: IndexConfig
    units: Units
    national_sync: bool = True
    stats: ProjectionStats = field(default_factory=ProjectionStats)


def source_of(event_type: str) -> str:
    """The producing service of a ``vn.motcua.<service>...`` type."""
    return event_type.split(".")[2]


async def apply(session: AsyncSession, envelope: Envelope, data: Any, ctx: ProjectionContext,
                *, emit: bool = True) -> None:
    """Project one event (idempotence comes from the caller's inbox claim)."""
    code = getattr(data, "dossier_code", None)
    if not code:
        ctx.stats.ignored += 1  # an account-level event: nothing per dossier to project
        return
    occurred = getattr(data, "occurred_at", None) or _event_time(data) or envelope.time
    row = EventRow(event_id=envelope.id, source=source_of(envelope.type),
                   event_type=envelope.type, sequence=envelope.sequence,
                   occurred_at=occurred, data=data.model_dump(mode="json"))
    fact = await _locked_fact(session, code, getattr(data, "agency_code", "") or "")
    params = aggregates.Params.of(ctx.config)
    change: aggregates.Counts = {}
    if fact.event_count:  # an existing fact (not just created): what it counted for so far
        aggregates.contribute(fact, params, change, -1)
    session.add(DossierEvent(event_id=row.event_id, dossier_code=code, source=row.source,
                             event_type=row.event_type, sequence=row.sequence,
                             occurred_at=row.occurred_at, data=row.data))
    await session.flush()
    events = [EventRow(event_id=e.event_id, source=e.source, event_type=e.event_type,
                       sequence=e.sequence, occurred_at=e.occurred_at, data=e.data)
              for e in (await session.scalars(
                  select(DossierEvent).where(DossierEvent.dossier_code == code))).all()]
    for name, value in fold(code, events, calendar=ctx.calendar, units=ctx.units,
                            max_supplement_requests=ctx.config.max_supplement_requests).items():
        setattr(fact, name, value)
    fact.updated_at = utcnow()
    if ctx.national_sync:
        await _sync(session, fact, events, row, ctx, emit=emit)
    # The index aggregates follow the fact in the same transaction (only the difference).
    aggregates.contribute(fact, params, change, 1)
    await aggregates.record(session, change)
    ctx.stats.applied[row.source] += 1
    ctx.stats.last_freshness_s = max(0.0, (utcnow() - envelope.time).total_seconds())


def _event_time(data: Any) -> datetime | None:
    for name in ("reused_at", "stored_at", "looked_up_at", "linked_at"):
        value = getattr(data, name, None)
        if value is not None:
            return value
    return None


async def _locked_fact(session: AsyncSession, code: str, agency_code: str) -> DossierFact:
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(DossierFact).values(
        dossier_code=code, agency_code=agency_code, status_sequence=0, updated_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["dossier_code"]))
    fact = await session.get(DossierFact, code, with_for_update=True, populate_existing=True)
    assert fact is not None
    return fact


async def _sync(session: AsyncSession, fact: DossierFact, events: list[EventRow],
                row: EventRow, ctx: ProjectionContext, *, emit: bool) -> None:
    record, problem = records.build_record(fact, events)
    fact.national_problem = problem
    if record is not None:
        digest = records.content_hash(record)
        sent = await session.get(NationalSync, fact.dossier_code, with_for_update=True)
        if sent is None or sent.content_sha256 != digest:
            # The event count only grows, so a later send always carries a higher revision.
            revision = max(fact.event_count, (sent.revision + 1) if sent else 0)
            record_id = records.stable_id("record", ctx.province, fact.dossier_code)
            values = {"record_id": record_id, "revision": revision, "content_sha256": digest,
                      "record": record.model_dump(mode="json"), "sent_at": utcnow()}
            if sent is None:
                session.add(NationalSync(dossier_code=fact.dossier_code, **values))
            else:
                for name, value in values.items():
                    setattr(sent, name, value)
            if emit:
                outbox.record(session, NationalDossierSyncedV1(
                    record_id=record_id, dossier_code=fact.dossier_code, revision=revision,
                    content_sha256=digest, record=record, occurred_at=utcnow(),
                ), province=ctx.province, key=fact.dossier_code, sequence=revision)
                ctx.stats.national_sent += 1
        fact.national_synced = True
        fact.fee_data_synced = bool(record.DanhSachLePhi)
    else:
        fact.national_synced = False
        fact.fee_data_synced = False
    entry = records.progress_entry(fact, row) if emit else None
    if entry is not None:
        outbox.record(session, NationalProgressSyncedV1(
            entry_id=records.stable_id("progress", row.event_id), dossier_code=fact.dossier_code,
            entry=entry, occurred_at=row.occurred_at,
        ), province=ctx.province, key=fact.dossier_code, sequence=row.sequence)
        ctx.stats.progress_sent += 1
    await _emc(session, fact, events, ctx, emit=emit)


async def _emc(session: AsyncSession, fact: DossierFact, events: list[EventRow],
               ctx: ProjectionContext, *, emit: bool) -> None:
    """Send each EMC step once, as soon as its facts are known (any delivery order)."""
    steps = records.emc_steps(fact, events)
    if not steps:
        return
    sent = set((await session.scalars(select(EmcSent.tracking_id).where(
        EmcSent.dossier_code == fact.dossier_code))).all())
    for step in steps:
        if step.tracking_id in sent:
            continue
        session.add(EmcSent(tracking_id=step.tracking_id, dossier_code=fact.dossier_code,
                            status=step.Status, sent_at=utcnow()))
        if emit:
            outbox.record(session, step, province=ctx.province, key=fact.dossier_code)
            ctx.stats.emc_sent += 1


async def dossier_counts(session: AsyncSession, *, agency_code: str | None,
                         since: datetime | None, until: datetime | None) -> dict[str, object]:
    """Counts of dossiers submitted, with cases opened, and by status."""
    conditions = []
    if agency_code:
        conditions.append(DossierFact.agency_code == agency_code)
    if since:
        conditions.append(DossierFact.submitted_at >= since)
    if until:
        conditions.append(DossierFact.submitted_at < until)
    row = (await session.execute(select(
        func.count(DossierFact.submitted_at), func.count(DossierFact.case_opened_at),
    ).where(*conditions))).one()
    by_status = dict((await session.execute(
        select(DossierFact.status, func.count()).where(*conditions)
        .group_by(DossierFact.status))).all())
    return {"submitted": row[0], "cases_opened": row[1],
            "by_status": {str(k): v for k, v in sorted(by_status.items(), key=lambda kv:
                                                       (kv[0] is None, kv[0] or 0))}}
