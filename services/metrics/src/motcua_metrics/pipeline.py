"""Pipeline health for Prometheus, beyond what the kit exports for every service.

The kit already exports, per service, the outbox backlog, the lag of its own durables
and its dead-letter counters. Metrics, which watches the whole province, adds:

* ``motcua_pipeline_stream_messages{stream}`` and ``..._last_seq`` for every stream;
* ``motcua_pipeline_consumer_pending{durable}``, ``..._ack_pending`` and
  ``..._redelivered`` for **every** durable of the topology (any service's);
* ``motcua_pipeline_dead_letters{consumer}``: messages waiting in the dead-letter stream;
* ``motcua_metrics_events_applied{source}``, ``motcua_metrics_events_ignored``,
  ``motcua_metrics_national_sent{kind}``, ``motcua_metrics_freshness_seconds`` (event
  time to projection, last event) and ``motcua_metrics_dossier_facts{state}``.

JetStream is asked every ``pipeline_poll_s`` seconds by a background loop; a scrape
only reads the last figures (it never waits on NATS or the database).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

from motcua.logging import get_logger
from motcua.service import Runtime
from motcua.streams import CONSUMERS, DLQ, PRODUCERS, stream_name
from motcua_metrics.facts.models import DossierFact
from motcua_metrics.facts.service import ProjectionStats
from motcua_metrics.index import aggregates

log = get_logger("motcua_metrics.pipeline")


class PipelineFigures:
    """The last figures read from JetStream and the database."""

    def __init__(self, stats: ProjectionStats) -> None:
        self.stats = stats
        self.streams: dict[str, tuple[int, int]] = {}
        self.consumers: dict[str, tuple[int, int, int]] = {}
        self.dead_letters: Counter[str] = Counter()
        self.facts: dict[str, int] = {}

    def collect(self) -> Any:
        """Prometheus collector protocol."""
        messages = GaugeMetricFamily("motcua_pipeline_stream_messages",
                                     "Messages held by a stream", labels=["stream"])
        last = GaugeMetricFamily("motcua_pipeline_stream_last_seq",
                                 "Last sequence of a stream", labels=["stream"])
        for name, (n, seq) in sorted(self.streams.items()):
            messages.add_metric([name], n)
            last.add_metric([name], seq)
        yield messages
        yield last
        pending = GaugeMetricFamily("motcua_pipeline_consumer_pending",
                                    "Messages not yet delivered to a durable", labels=["durable"])
        ack = GaugeMetricFamily("motcua_pipeline_consumer_ack_pending",
                                "Messages delivered and not yet acked", labels=["durable"])
        redelivered = GaugeMetricFamily("motcua_pipeline_consumer_redelivered",
                                        "Messages redelivered at least once", labels=["durable"])
        for name, (p, a, r) in sorted(self.consumers.items()):
            pending.add_metric([name], p)
            ack.add_metric([name], a)
            redelivered.add_metric([name], r)
        yield pending
        yield ack
        yield redelivered
        dead = GaugeMetricFamily("motcua_pipeline_dead_letters",
                                 "Messages in the dead-letter stream", labels=["consumer"])
        for spec in CONSUMERS:
            dead.add_metric([spec.durable], self.dead_letters.get(spec.durable, 0))
        yield dead
        applied = CounterMetricFamily("motcua_metrics_events_applied",
                                      "Events projected into dossier facts", labels=["source"])
        for source in ("intake", "workflow", "payments", "identity"):
            applied.add_metric([source], self.stats.applied.get(source, 0))
        yield applied
        ignored = CounterMetricFamily("motcua_metrics_events_ignored",
                                      "Handled events about no dossier")
        ignored.add_metric([], self.stats.ignored)
        yield ignored
        sent = CounterMetricFamily("motcua_metrics_national_sent",
                                   "National records, progress entries and EMC events recorded",
                                   labels=["kind"])
        sent.add_metric(["dossier"], self.stats.national_sent)
        sent.add_metric(["progress"], self.stats.progress_sent)
        sent.add_metric(["emc"], self.stats.emc_sent)
        yield sent
        fresh = GaugeMetricFamily("motcua_metrics_freshness_seconds",
                                  "Event time to projection, for the last event applied")
        fresh.add_metric([], self.stats.last_freshness_s or 0.0)
        yield fresh
        facts = GaugeMetricFamily("motcua_metrics_dossier_facts", "Dossier facts",
                                  labels=["state"])
        for state, n in sorted(self.facts.items()):
            facts.add_metric([state], n)
        yield facts

    async def refresh(self, rt: Runtime) -> None:
        """Read stream, consumer and dead-letter figures, and fact counts."""
        province = rt.settings.province
        js = rt.bus.js
        for producer in (*PRODUCERS, DLQ):
            name = stream_name(province, producer)
            with contextlib.suppress(Exception):
                info = await js.stream_info(name)
                self.streams[name] = (int(info.state.messages), int(info.state.last_seq))
        for spec in CONSUMERS:
            with contextlib.suppress(Exception):
                ci = await js.consumer_info(spec.stream(province), spec.durable)
                self.consumers[spec.durable] = (int(ci.num_pending), int(ci.num_ack_pending),
                                                int(ci.num_redelivered))
        with contextlib.suppress(Exception):
            self.dead_letters = await _dead_letters(js, province)
        async with rt.sessions() as session:
            if await aggregates.built(session):
                # Kept with the facts: no count over a million rows (on SQLite it would
                # hold the write lock meanwhile).
                total, unsynced = await aggregates.fact_counts(session)
            else:
                total = await session.scalar(select(func.count()).select_from(DossierFact))
                unsynced = await session.scalar(
                    select(func.count()).select_from(DossierFact)
                    .where(DossierFact.national_synced.is_(False)))
        self.facts = {"total": int(total or 0), "not_synced": int(unsynced or 0)}


async def _dead_letters(js: Any, province: str) -> Counter[str]:
    """Dead letters per consumer: subjects end with the durable's name."""
    info = await js.stream_info(stream_name(province, DLQ), subjects_filter=">")
    found: Counter[str] = Counter()
    for subject, n in (info.state.subjects or {}).items():
        found[subject.rsplit(".", 1)[-1]] += int(n)
    return found


def pipeline_loop(figures: PipelineFigures) -> Callable[[Runtime], Awaitable[None]]:
    """The background loop that registers the collector and refreshes its figures."""

    async def pipeline_health(rt: Runtime) -> None:
        rt.registry.register(figures)
        await rt.bus.wait_connected()
        while True:
            try:
                await figures.refresh(rt)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("pipeline_refresh_failed", error=str(exc))
            await asyncio.sleep(rt.settings.pipeline_poll_s)

    return pipeline_health
