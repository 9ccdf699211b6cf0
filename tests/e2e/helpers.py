"""Helpers shared by the mesh tests."""

from __future__ import annotations

import itertools
from typing import Any

import nats
from sqlalchemy import func, select

from motcua.auth import ROLES
from motcua.db import inbox_table, outbox_table
from motcua.streams import stream_name
from motcua.testing import Mesh, RunningService

_serial = itertools.count(1)


#: Paper documents that complete a birth registration (1.001193) handed in at the desk.
BIRTH_DOCUMENTS = (
    {"component_code": "to_khai_khai_sinh", "source": "paper"},
    {"component_code": "giay_chung_sinh", "source": "paper"},
    {"component_code": "giay_to_tuy_than", "source": "shown"},
)


def dossier_body(agency_code: str = "000.01.17.H56", **overrides: Any) -> dict[str, Any]:
    """A valid submission with a distinct applicant ID (province 038, born 1995).

    A counter (direct) submission at the agency's own desk with the paper documents the
    procedure requires, left at status 1 (not received in the same step).
    """
    n = next(_serial)
    body = {
        "procedure_code": "1.001193",
        "agency_code": agency_code,
        "channel": "direct",
        "reception_point": agency_code,
        "applicant": {"kind": "individual", "id_number": f"038095{n:06d}",
                      "full_name": "Nguyễn Văn An"},
        "documents": [dict(d) for d in BIRTH_DOCUMENTS],
    }
    body.update(overrides)
    return body


async def start_slice(mesh: Mesh, *services: str, **create_kwargs: Any) -> dict[str, Any]:
    """Start intake (seeded for the mesh's province), workflow and metrics.

    Intake's client calls as a receptionist of the sample agencies (desk submissions);
    metrics' as an auditor of them.
    """
    started = {}
    for name in services or ("intake", "workflow", "metrics"):
        started[name] = await mesh.start(name, **create_kwargs.get(name, {}))
        if name == "intake":
            await mesh.specs["intake"].seed(mesh.settings("intake"))
        started[name].client.headers.update(staff_headers(mesh))
    return started


def staff_headers(mesh: Mesh) -> dict[str, str]:
    """An officer with every role in the sample agencies of the mesh's province."""
    return mesh.mint.officer({f"000.0{n}.17.{mesh.province}": ROLES for n in range(3)})


def agency(mesh: Mesh) -> str:
    """A seeded sample agency of the mesh's province."""
    return f"000.01.17.{mesh.province}"


async def counts(metrics: RunningService) -> dict[str, Any]:
    """Metrics' dossier counts."""
    response = await metrics.client.get("/v1/stats/dossiers")
    assert response.status_code == 200, response.text
    return response.json()


async def table_count(service: RunningService, table: Any, *where: Any) -> int:
    """Rows in a table of a service's database."""
    async with service.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table).where(*where)))


#: Dossier events only (intake also publishes its catalog: procedure.published).
DOSSIER_EVENTS = "%.dossier.%"


async def unpublished(service: RunningService, event_type: str = "%") -> int:
    """Outbox rows (of the given event types, SQL LIKE) not yet published."""
    return await table_count(service, outbox_table, outbox_table.c.published_at.is_(None),
                             outbox_table.c.event_type.like(event_type))


async def inbox_count(service: RunningService, consumer: str,
                      event_type: str = DOSSIER_EVENTS) -> int:
    """Events (dossier events, by default) a consumer applied."""
    return await table_count(service, inbox_table, inbox_table.c.consumer == consumer,
                             inbox_table.c.event_type.like(event_type))


async def stream_messages(nats_url: str, province: str, producer: str,
                          subject_suffix: str = ">") -> list[Any]:
    """Every message of a producer's stream on a subject (read with an ephemeral consumer)."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(f"motcua.{province}.{producer}.{subject_suffix}",
                                      durable=None, stream=stream_name(province, producer))
        out = []
        while True:
            try:
                batch = await sub.fetch(500, timeout=0.5)
            except Exception:
                break
            out.extend(batch)
            for m in batch:
                await m.ack()
        return out
    finally:
        await nc.close()
