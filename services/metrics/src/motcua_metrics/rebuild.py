"""``motcua metrics rebuild``: replay the streams from the start into fresh projection tables.

The projection is a function of the set of events per dossier (``facts.projection``),
so replaying every stream — in any order, duplicates included — arrives at the same
facts, hence the same index, as the live consumers. The rebuild:

1. migrates the target database and empties the projection tables (dossier events,
   facts, national sync tracking, the procedure catalog, the index aggregates — declared
   built over no facts, so the replay maintains them as the live projection does) and
   the inbox rows of metrics' durables;
2. reads each source stream (intake, workflow, payments, identity) from its first
   message up to its last sequence at start, with an ephemeral consumer;
3. applies each handled event exactly as the live consumer does, claiming it in the
   inbox, but records nothing in the outbox: the national records were already sent
   live, so their tracking is recomputed (same content hashes) without re-sending.

Run it either **in place with the metrics service stopped** (events that arrive
meanwhile wait in the durables; those the rebuild already applied are skipped by the
inbox when the service starts again), or **into a fresh database**
(``--database-url``) and point the service at it while it is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua import inbox
from motcua.contracts import REGISTRY
from motcua.db import create_engine, inbox_table, session_factory
from motcua.events import Envelope
from motcua.migrate import upgrade_async
from motcua.streams import CONSUMERS, stream_name
from motcua_metrics import migrations_dir
from motcua_metrics.catalog.models import CatalogAgency, CatalogVersion
from motcua_metrics.catalog.service import bump_revision
from motcua_metrics.config import Settings
from motcua_metrics.consumers import appliers
from motcua_metrics.facts import service as facts
from motcua_metrics.facts.models import DossierEvent, DossierFact, EmcSent, NationalSync
from motcua_metrics.index import aggregates
from motcua_metrics.state import build_state

SOURCES = ("intake", "workflow", "payments", "identity")


@dataclass
class RebuildReport:
    """What a rebuild read and applied."""

    read: dict[str, int] = field(default_factory=dict)
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    invalid: int = 0
    seconds: float = 0.0


async def rebuild(settings: Settings, *, database_url: str | None = None, batch: int = 500,
                  progress: Callable[[str, int, int], None] | None = None) -> RebuildReport:
    """Replay every source stream into fresh projection tables; return what was done."""
    started = time.monotonic()
    url = database_url or settings.resolved_database_url()
    await upgrade_async(migrations_dir(), url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    ctx = replace(build_state(settings).projection, stats=facts.ProjectionStats())
    durables = {spec.durable for spec in CONSUMERS if spec.owner == "metrics"}
    types = appliers()
    report = RebuildReport()
    try:
        async with sessions() as session, session.begin():
            for model in (DossierEvent, NationalSync, EmcSent, DossierFact, CatalogAgency,
                          CatalogVersion):
                await session.execute(delete(model))
            await aggregates.reset(session, aggregates.Params.of(ctx.config))
            await bump_revision(session)
            await session.execute(delete(inbox_table).where(inbox_table.c.consumer.in_(durables)))
        nc = await nats.connect(settings.nats_url, connect_timeout=5, max_reconnect_attempts=3)
        try:
            js = nc.jetstream()
            for source in SOURCES:
                await _replay(js, sessions, settings.province, source, types, ctx, report,
                              batch=batch, progress=progress)
        finally:
            await nc.close()
    finally:
        await engine.dispose()
    report.seconds = round(time.monotonic() - started, 3)
    return report


async def _replay(js: JetStreamContext, sessions: async_sessionmaker[AsyncSession],
                  province: str, source: str, types: dict[str, tuple[str, Any]],
                  ctx: facts.ProjectionContext, report: RebuildReport, *, batch: int,
                  progress: Callable[[str, int, int], None] | None) -> None:
    stream = stream_name(province, source)
    info = await js.stream_info(stream)
    last = int(info.state.last_seq)
    report.read[source] = 0
    if not info.state.messages:
        return
    sub = await js.pull_subscribe(
        f"motcua.{province}.{source}.>", durable=None, stream=stream,
        config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL,
                              inactive_threshold=120.0))
    try:
        seq = 0
        while seq < last:
            try:
                msgs = await sub.fetch(batch, timeout=2.0)
            except (NatsTimeout, TimeoutError):
                break  # nothing more (messages past the start may have been deleted)
            async with sessions() as session, session.begin():
                for msg in msgs:
                    seq = msg.metadata.sequence.stream
                    if seq > last:
                        break
                    report.read[source] += 1
                    await _apply(session, msg.data, types, ctx, report)
                await aggregates.compact(session)
            if progress is not None:
                progress(source, seq, last)
    finally:
        await sub.unsubscribe()


async def _apply(session: AsyncSession, raw: bytes, types: dict[str, tuple[str, Any]],
                 ctx: facts.ProjectionContext, report: RebuildReport) -> None:
    try:
        envelope = Envelope.from_bytes(raw)
    except ValidationError:
        report.invalid += 1  # dead-lettered live too
        return
    found = types.get(envelope.type)
    if found is None:
        report.skipped += 1
        return
    durable, apply = found
    data = REGISTRY[envelope.type].model_validate(envelope.data)
    if not await inbox.claim(session, consumer=durable, event_id=envelope.id,
                             event_type=envelope.type):
        report.duplicates += 1
        return
    await apply(session, envelope, data, ctx, emit=False)
    report.applied += 1


def main(argv: list[str] | None = None) -> int:
    """``motcua metrics rebuild [--database-url URL] [--batch N]``."""
    parser = argparse.ArgumentParser(prog="motcua metrics rebuild", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="rebuild into this database instead of "
                        "metrics' own (MOTCUA_METRICS_DATABASE_URL)")
    parser.add_argument("--batch", type=int, default=500, help="messages per transaction")
    args = parser.parse_args(argv)

    def show(source: str, seq: int, last: int) -> None:
        width = 30
        done = int(width * seq / last) if last else width
        print(f"\r{source:<9} [{'#' * done}{'.' * (width - done)}] {seq}/{last}", end="",
              flush=True)

    report = asyncio.run(rebuild(Settings(), database_url=args.database_url, batch=args.batch,
                                 progress=show))
    print()
    print(f"read {report.read}; applied {report.applied}, duplicates {report.duplicates}, "
          f"not projected {report.skipped}, invalid {report.invalid}; {report.seconds}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
