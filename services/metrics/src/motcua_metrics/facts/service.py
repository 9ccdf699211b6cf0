"""Projection of events into dossier facts, and the figures read from them.

:func:`apply_many` (and :func:`apply`, for one event) is the one entry point for
every handled event, live or during a rebuild: it stores the events' facts, locks the
dossiers' fact rows, refolds each from all its events, records the change of the index
aggregates (:mod:`motcua_metrics.index.aggregates`), and (live) sends the national
record when its content changed, plus the progress entry and EMC tracking of that
step. Locking the fact rows (in code order) before reading the events serialises two
consumers that apply events of the same dossier at once (each refold then sees the
other's committed event).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from motcua import outbox
from motcua.calendar import Calendar
from motcua.consumer import causation
from motcua.contracts.metrics import NationalDossierSyncedV1, NationalProgressSyncedV1
from motcua.db import after_commit, dialect_insert, utcnow
from motcua.events import Envelope
from motcua_metrics.facts.models import DossierEvent, DossierFact, EmcSent, NationalSync
from motcua_metrics.facts.projection import EventRow, fold
from motcua_metrics.index import aggregates
from motcua_metrics.index.config import IndexConfig, Units
from motcua_metrics.national import records


@dataclass
class ProjectionStats:
    """Counters exported to Prometheus (of committed projections only: see
    :func:`counting`)."""

    applied: Counter[str] = field(default_factory=Counter)
    ignored: int = 0
    national_sent: int = 0
    progress_sent: int = 0
    emc_sent: int = 0
    #: Seconds from the event's envelope time to its application, for the last event.
    last_freshness_s: float | None = None

    def add(self, other: ProjectionStats) -> None:
        """Count ``other`` in too."""
        self.applied.update(other.applied)
        self.ignored += other.ignored
        self.national_sent += other.national_sent
        self.progress_sent += other.progress_sent
        self.emc_sent += other.emc_sent
        if other.last_freshness_s is not None:
            self.last_freshness_s = other.last_freshness_s


def counting(session: AsyncSession, ctx: ProjectionContext) -> ProjectionStats:
    """Counters for this transaction's projections, added to ``ctx.stats`` when (and only
    if) it commits: a consumer batch that fails and is re-run is counted once."""
    staged = ProjectionStats()
    after_commit(session, lambda: ctx.stats.add(staged))
    return staged


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
    await apply_many(session, [(envelope, data)], ctx, emit=emit)


async def apply_many(session: AsyncSession, items: Sequence[tuple[Envelope, Any]],
                     ctx: ProjectionContext, *, emit: bool = True) -> None:
    """Project several events with the outcome of :func:`apply` on each in turn.

    The rows of every dossier concerned are read and written together (a dozen
    statements for the batch instead of a dozen per event); the events are folded one
    at a time, so each national progress entry, EMC step and record revision is the one
    that event alone would have produced.
    """
    stats = counting(session, ctx)
    todo: dict[str, list[tuple[Envelope, EventRow]]] = {}
    agencies: dict[str, str] = {}
    for envelope, data in items:
        code = getattr(data, "dossier_code", None)
        if not code:
            stats.ignored += 1  # an account-level event: nothing per dossier to project
            continue
        occurred = getattr(data, "occurred_at", None) or _event_time(data) or envelope.time
        todo.setdefault(code, []).append((envelope, EventRow(
            event_id=envelope.id, source=source_of(envelope.type), event_type=envelope.type,
            sequence=envelope.sequence, occurred_at=occurred,
            data=data.model_dump(mode="json"))))
        agencies.setdefault(code, getattr(data, "agency_code", "") or "")
    if not todo:
        return
    codes = sorted(todo)
    facts = await _locked_facts(session, codes, agencies)
    await session.execute(insert(_EVENTS), [
        {"dossier_code": code, **{f: getattr(r, f) for f in _ROW}}
        for code in codes for _, r in todo[code]])
    fresh = {r.event_id for code in codes for _, r in todo[code]}
    known: dict[str, list[EventRow]] = {code: [] for code in codes}
    for e in await session.execute(select(_EVENTS).where(_EVENTS.c.dossier_code.in_(codes))):
        if e.event_id not in fresh:
            known[e.dossier_code].append(EventRow(**{f: getattr(e, f) for f in _ROW}))
    sync = _Sync(ctx, stats, emit) if ctx.national_sync else None
    if sync is not None:
        await sync.load(session, codes)
    params = aggregates.Params.of(ctx.config)
    change: aggregates.Counts = {}
    for code in codes:
        fact, events = facts[code], known[code]
        if fact.event_count:  # an existing fact (not just created): what it counted for so far
            aggregates.contribute(fact, params, change, -1)
        for envelope, row in todo[code]:
            events.append(row)
            for name, value in fold(code, events, calendar=ctx.calendar, units=ctx.units,
                                    max_supplement_requests=ctx.config.max_supplement_requests
                                    ).items():
                setattr(fact, name, value)
            fact.updated_at = utcnow()
            if sync is not None:
                with causation(envelope):
                    sync.step(session, fact, events, row)
            stats.applied[row.source] += 1
            stats.last_freshness_s = max(0.0, (utcnow() - envelope.time).total_seconds())
        aggregates.contribute(fact, params, change, 1)  # the fact's counts now
    await session.execute(_UPDATE_FACT, [
        {"b_code": code, **{c: getattr(facts[code], c) for c in _FACT_VALUES}}
        for code in codes])
    if sync is not None:
        await sync.write(session)
    # The index aggregates follow the facts in the same transaction (only the difference).
    await aggregates.record(session, change)


_FACTS = DossierFact.__table__
_EVENTS = DossierEvent.__table__
_SYNC = NationalSync.__table__
_EMC = EmcSent.__table__
#: The columns of a stored event that the fold reads (all but its dossier code).
_ROW = [f.name for f in fields(EventRow)]
_FACT_VALUES = [c.name for c in _FACTS.columns if not c.primary_key]
_UPDATE_FACT = update(_FACTS).where(_FACTS.c.dossier_code == bindparam("b_code")).values(
    {c: bindparam(c) for c in _FACT_VALUES})


def _event_time(data: Any) -> datetime | None:
    for name in ("reused_at", "stored_at", "looked_up_at", "linked_at"):
        value = getattr(data, name, None)
        if value is not None:
            return value
    return None


async def _locked_facts(session: AsyncSession, codes: list[str],
                        agencies: dict[str, str]) -> dict[str, SimpleNamespace]:
    """The fact rows of ``codes`` (created if missing), locked in code order."""
    now = utcnow()
    await session.execute(
        dialect_insert(session)(_FACTS).on_conflict_do_nothing(index_elements=["dossier_code"]),
        [{"dossier_code": c, "agency_code": agencies[c], "status_sequence": 0,
          "updated_at": now} for c in codes])
    rows = await session.execute(select(_FACTS).where(_FACTS.c.dossier_code.in_(codes))
                                 .order_by(_FACTS.c.dossier_code).with_for_update())
    return {r.dossier_code: SimpleNamespace(**r._asdict()) for r in rows}


class _Sync:
    """National records, progress entries and EMC steps of a batch's dossiers: read
    together, decided event by event, written together."""

    def __init__(self, ctx: ProjectionContext, stats: ProjectionStats, emit: bool) -> None:
        self.ctx, self.stats, self.emit = ctx, stats, emit
        self.sent: dict[str, dict[str, Any]] = {}
        self.emc: dict[str, set[str]] = {}
        self.inserts: dict[str, dict[str, Any]] = {}
        self.updates: dict[str, dict[str, Any]] = {}
        self.emc_rows: list[dict[str, Any]] = []

    async def load(self, session: AsyncSession, codes: list[str]) -> None:
        self.sent = {r.dossier_code: r._asdict() for r in await session.execute(
            select(_SYNC).where(_SYNC.c.dossier_code.in_(codes))
            .order_by(_SYNC.c.dossier_code).with_for_update())}
        self.emc = {code: set() for code in codes}
        for r in await session.execute(select(_EMC.c.dossier_code, _EMC.c.tracking_id)
                                       .where(_EMC.c.dossier_code.in_(codes))):
            self.emc[r.dossier_code].add(r.tracking_id)

    def step(self, session: AsyncSession, fact: Any, events: list[EventRow],
             row: EventRow) -> None:
        """What :func:`apply` of ``row`` sends and records, given the fact after it."""
        ctx, code = self.ctx, fact.dossier_code
        record, problem = records.build_record(fact, events)
        fact.national_problem = problem
        if record is not None:
            dumped = record.model_dump(mode="json")
            digest = records.content_hash(dumped)
            sent = self.sent.get(code)
            if sent is None or sent["content_sha256"] != digest:
                # The event count only grows, so a later send always carries a higher
                # revision.
                revision = max(fact.event_count, (sent["revision"] + 1) if sent else 0)
                record_id = records.stable_id("record", ctx.province, code)
                values = {"dossier_code": code, "record_id": record_id, "revision": revision,
                          "content_sha256": digest, "record": dumped,
                          "sent_at": utcnow()}
                (self.updates if code in self.sent and code not in self.inserts
                 else self.inserts)[code] = values
                self.sent[code] = values
                if self.emit:
                    outbox.record(session, NationalDossierSyncedV1(
                        record_id=record_id, dossier_code=code, revision=revision,
                        content_sha256=digest, record=record, occurred_at=utcnow(),
                    ), province=ctx.province, key=code, sequence=revision)
                    self.stats.national_sent += 1
            fact.national_synced = True
            fact.fee_data_synced = bool(record.DanhSachLePhi)
        else:
            fact.national_synced = False
            fact.fee_data_synced = False
        entry = records.progress_entry(fact, row) if self.emit else None
        if entry is not None:
            outbox.record(session, NationalProgressSyncedV1(
                entry_id=records.stable_id("progress", row.event_id), dossier_code=code,
                entry=entry, occurred_at=row.occurred_at,
            ), province=ctx.province, key=code, sequence=row.sequence)
            self.stats.progress_sent += 1
        # Each EMC step once, as soon as its facts are known (any delivery order).
        sent_steps = self.emc[code]
        for step in records.emc_steps(fact, events):
            if step.tracking_id in sent_steps:
                continue
            sent_steps.add(step.tracking_id)
            self.emc_rows.append({"tracking_id": step.tracking_id, "dossier_code": code,
                                  "status": step.Status, "sent_at": utcnow()})
            if self.emit:
                outbox.record(session, step, province=ctx.province, key=code)
                self.stats.emc_sent += 1

    async def write(self, session: AsyncSession) -> None:
        if self.inserts:
            await session.execute(insert(_SYNC), list(self.inserts.values()))
        if self.updates:
            await session.execute(
                update(_SYNC).where(_SYNC.c.dossier_code == bindparam("b_code")).values(
                    {c: bindparam(c) for c in ("record_id", "revision", "content_sha256",
                                               "record", "sent_at")}),
                [{"b_code": code, **{k: v for k, v in values.items() if k != "dossier_code"}}
                 for code, values in self.updates.items()])
        if self.emc_rows:
            await session.execute(insert(_EMC), self.emc_rows)


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
    # One pass over the facts (this is polled by dashboards).
    rows = (await session.execute(
        select(DossierFact.status, func.count(), func.count(DossierFact.submitted_at),
               func.count(DossierFact.case_opened_at))
        .where(*conditions).group_by(DossierFact.status))).all()
    by_status = {status: count for status, count, _, _ in rows}
    return {"submitted": sum(r[2] for r in rows), "cases_opened": sum(r[3] for r in rows),
            "by_status": {str(k): v for k, v in sorted(by_status.items(), key=lambda kv:
                                                       (kv[0] is None, kv[0] or 0))}}
