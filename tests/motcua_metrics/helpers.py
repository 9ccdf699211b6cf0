"""Publishing scenario events to a mesh's NATS and waiting for metrics to apply them."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import nats

from motcua.events import Envelope
from motcua.testing import Mesh, RunningService, wait_for
from tests.motcua_metrics.scenario import Event


def envelopes(mesh: Mesh, events: Sequence[Event]) -> list[tuple[str, Envelope]]:
    """(subject, envelope) of each event, as producers would publish them."""
    return [(e.data.subject(mesh.province),
             Envelope.wrap(e.data, province=mesh.province, key=e.key, sequence=e.sequence))
            for e in events]


async def publish(mesh: Mesh, published: Sequence[tuple[str, Envelope]], *,
                  shuffle_seed: int | None = None, duplicate_every: int = 0) -> int:
    """Publish the envelopes (shuffled, with re-deliveries under new msg ids); return how many
    duplicates were sent."""
    order = list(published)
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(order)
    nc = await nats.connect(mesh.nats_url)
    duplicates = 0
    try:
        js = nc.jetstream()
        for i, (subject, env) in enumerate(order):
            await js.publish(subject, env.to_bytes(), headers={"Nats-Msg-Id": env.id})
            if duplicate_every and i % duplicate_every == 0:
                # A producer's re-send after its dedup window: only the inbox catches it.
                await js.publish(subject, env.to_bytes(),
                                 headers={"Nats-Msg-Id": f"again-{env.id}"})
                duplicates += 1
    finally:
        await nc.close()
    return duplicates


async def applied(metrics: RunningService, events: int, duplicates: int = 0) -> None:
    """Wait until metrics' consumers applied ``events`` events and skipped ``duplicates``."""

    def done() -> bool:
        consumers = metrics.runtime.consumers
        return (sum(c.stats.processed for c in consumers) >= events
                and sum(c.stats.duplicates for c in consumers) >= duplicates)

    await wait_for(done, timeout=60, what=f"{events} events applied by metrics")


async def index(metrics: RunningService, unit: str, period: str) -> dict[str, Any]:
    """GET /v1/index."""
    response = await metrics.client.get("/v1/index", params={"unit": unit, "period": period})
    assert response.status_code == 200, response.text
    return response.json()


def items(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The index document's items by id."""
    return {i["id"]: i for g in doc["groups"] for i in g["items"]}
