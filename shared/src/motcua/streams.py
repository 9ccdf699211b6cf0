"""JetStream topology as versioned code: streams and durable consumers per province.

Nothing is created implicitly by whoever connects first: ``motcua streams provision``
(and ``motcua up``) applies this topology; services only bind to it. Bump
:data:`TOPOLOGY_VERSION` whenever a spec below changes.

One stream per producing service per province (``MOTCUA_H56_INTAKE`` holds
``motcua.H56.intake.>``), plus one dead-letter stream per province.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

TOPOLOGY_VERSION = 4

#: Subject token of each producing service.
PRODUCERS = ("intake", "workflow", "payments", "identity", "metrics")
DLQ = "dlq"


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer owned by one service."""

    durable: str
    owner: str
    source: str
    filters: tuple[str, ...] = (">",)
    ack_wait_s: float = 30.0

    def stream(self, province: str) -> str:
        """Name of the stream this consumer reads."""
        return stream_name(province, self.source)

    def filter_subjects(self, province: str) -> list[str]:
        """Full subjects this consumer receives."""
        return [f"motcua.{province}.{self.source}.{f}" for f in self.filters]

    def receives(self, subject: str, province: str) -> bool:
        """Whether a message on ``subject`` is delivered to this consumer."""
        return any(subject_matches(f, subject) for f in self.filter_subjects(province))


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, a final ``>`` one or more tokens."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(have) == len(want)


#: Who consumes what. A consumer owns its inbox, so one durable per (owner, source).
CONSUMERS: tuple[ConsumerSpec, ...] = (
    ConsumerSpec("workflow-intake", owner="workflow", source="intake", filters=("dossier.>",)),
    ConsumerSpec("workflow-payments", owner="workflow", source="payments",
                 filters=("assessment.assessed", "assessment.settled")),
    # Only what intake mirrors for public tracking (not tasks, transfers, alerts, ...).
    ConsumerSpec("intake-workflow", owner="intake", source="workflow",
                 filters=("case.status_changed", "case.supplement_requested", "case.extended")),
    ConsumerSpec("payments-intake", owner="payments", source="intake", filters=("dossier.>",)),
    ConsumerSpec("identity-workflow", owner="identity-bridge", source="workflow",
                 filters=("case.completed",)),
    ConsumerSpec("metrics-intake", owner="metrics", source="intake"),
    ConsumerSpec("metrics-workflow", owner="metrics", source="workflow"),
    ConsumerSpec("metrics-payments", owner="metrics", source="payments"),
    ConsumerSpec("metrics-identity", owner="metrics", source="identity"),
)


def stream_name(province: str, producer: str) -> str:
    """``MOTCUA_<PROVINCE>_<PRODUCER>``."""
    return f"MOTCUA_{province}_{producer.upper()}"


def dlq_subject(province: str, owner: str, durable: str) -> str:
    """Subject of a dead letter from ``durable``."""
    return f"motcua.{province}.{DLQ}.{owner}.{durable}"


@dataclass
class Topology:
    """Everything one province needs in JetStream."""

    province: str
    streams: list[StreamConfig] = field(default_factory=list)
    consumers: list[tuple[str, ConsumerConfig]] = field(default_factory=list)


def topology(province: str, *, replicas: int = 1,
             ack_wait_s: float | None = None) -> Topology:
    """The streams and consumers of ``province`` (``ack_wait_s`` instead of each consumer's
    own: how long a message delivered to a consumer that died waits for its redelivery)."""
    meta = {"motcua.topology": str(TOPOLOGY_VERSION)}
    streams = [
        StreamConfig(
            name=stream_name(province, p), subjects=[f"motcua.{province}.{p}.>"],
            retention=RetentionPolicy.LIMITS, storage=StorageType.FILE,
            discard=DiscardPolicy.OLD, max_age=365 * 24 * 3600.0,
            # Re-publishes by the relay after a crash are dropped inside this window.
            duplicate_window=30 * 60.0, num_replicas=replicas, metadata=meta,
        )
        for p in (*PRODUCERS, DLQ)
    ]
    consumers = [
        (spec.stream(province), ConsumerConfig(
            durable_name=spec.durable, ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL, ack_wait=ack_wait_s or spec.ack_wait_s,
            # The runner dead-letters after its own max_deliver; JetStream never drops.
            max_deliver=-1, max_ack_pending=1000,
            filter_subjects=spec.filter_subjects(province), metadata=meta,
            description=f"{spec.owner} reads {spec.source}",
        ))
        for spec in CONSUMERS
    ]
    return Topology(province, streams, consumers)


async def provision(js: JetStreamContext, province: str, *, replicas: int = 1,
                    ack_wait_s: float | None = None) -> list[str]:
    """Create or update the province's streams and consumers; return what was done."""
    done: list[str] = []
    topo = topology(province, replicas=replicas, ack_wait_s=ack_wait_s)
    for config in topo.streams:
        try:
            await js.stream_info(config.name)
            await js.update_stream(config)
            done.append(f"stream {config.name}: updated")
        except NotFoundError:
            await js.add_stream(config)
            done.append(f"stream {config.name}: created")
    for stream, config in topo.consumers:
        await js.add_consumer(stream, config)
        done.append(f"consumer {stream}/{config.durable_name}: provisioned")
    return done


async def describe(js: JetStreamContext, province: str) -> list[dict[str, object]]:
    """State of the province's streams and consumers, for `motcua streams show`."""
    out: list[dict[str, object]] = []
    topo = topology(province)
    for config in topo.streams:
        try:
            info = await js.stream_info(config.name)
            out.append({"stream": config.name, "messages": info.state.messages,
                        "last_seq": info.state.last_seq,
                        "topology": (info.config.metadata or {}).get("motcua.topology")})
        except NotFoundError:
            out.append({"stream": config.name, "missing": True})
    for stream, config in topo.consumers:
        try:
            ci = await js.consumer_info(stream, config.durable_name)
            out.append({"consumer": f"{stream}/{config.durable_name}",
                        "pending": ci.num_pending, "ack_pending": ci.num_ack_pending,
                        "redelivered": ci.num_redelivered})
        except NotFoundError:
            out.append({"consumer": f"{stream}/{config.durable_name}", "missing": True})
    return out
