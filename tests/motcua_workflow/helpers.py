"""Helpers for workflow's mesh tests: a movable clock, intake's events published as
intake publishes them, workflow replicas on one database, and callers' tokens.

Every workflow started here reads as a mesh service with ``cases.read`` and
``definitions.read`` by default (``READER``: the waits and event checks); officers act
with their own tokens (``officer(mesh, agency, role)``), passed explicitly.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import nats
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from motcua.auth import use_verifier
from motcua.calendar import TIMEZONE
from motcua.contracts.intake import (
    DossierReceivedV1,
    DossierRefusedV1,
    DossierSubmittedV1,
    DossierSupplementedV1,
    DossierWithdrawnV1,
    StatutoryTime,
)
from motcua.contracts.payments import AssessmentSettledV1, FeeAssessedV1
from motcua.db import inbox_table, outbox_table
from motcua.events import Envelope, EventData
from motcua.testing import Mesh, RunningService, wait_for
from motcua_workflow.main import create_app

_serial = itertools.count(1)


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """An instant in Vietnam time."""
    return datetime(y, m, d, hh, mm, tzinfo=TIMEZONE)


def when(text: str) -> datetime:
    """An instant from the API (any offset)."""
    return datetime.fromisoformat(text)


class ManualClock:
    """A clock the test moves; every replica of a test shares one."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        """The current (test) instant."""
        return self._now

    def set(self, instant: datetime) -> None:
        """Jump to ``instant`` (never backwards)."""
        assert instant >= self._now
        self._now = instant


def agency(mesh: Mesh, n: int = 1) -> str:
    """A sample agency code of the mesh's province (commune level for n=1, 2)."""
    return f"000.0{n}.17.{mesh.province}"


def officer(mesh: Mesh, agency_code: str, *roles: str, name: str = "o1") -> dict[str, str]:
    """Headers of an officer of ``agency_code`` holding ``roles`` there (subject
    ``<name>@<agency>``, the id the process log and tasks record)."""
    return mesh.mint.officer({agency_code: roles}, subject=f"{name}@{agency_code}")


#: The default caller of a test's workflow client: a read-only mesh service.
READER = ("ops-console", "cases.read", "definitions.read")
#: The province's administration tooling, which stores process definitions.
DEFINITIONS_ADMIN = ("definitions-admin", "definitions.read", "definitions.write")

WORKFLOW_SETTINGS = {"timer_poll_s": 0.05, "consumer_backoff_s": [0.05, 0.1, 0.2]}


async def start_workflow(mesh: Mesh, clock: ManualClock, **settings: Any) -> RunningService:
    """Start workflow (migrated once) with the test clock and quick timers."""
    await mesh.prepare("workflow")
    app = create_app(mesh.settings("workflow", **{**WORKFLOW_SETTINGS, **settings}), clock=clock)
    service = await mesh.start("workflow", app=app)
    service.client.headers.update(mesh.mint.service(*READER))
    return service


async def start_replica(mesh: Mesh, key: str, clock: ManualClock,
                        **settings: Any) -> RunningService:
    """Another workflow process on the same database (registered as ``key``)."""
    await mesh.prepare("workflow")
    config = mesh.settings("workflow", **{**WORKFLOW_SETTINGS, **settings})
    app = create_app(config, clock=clock)
    use_verifier(app, mesh.mint.verifier())
    manager = LifespanManager(app, startup_timeout=30, shutdown_timeout=30)
    await manager.__aenter__()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app),
                               base_url=f"http://{key}", headers=mesh.mint.service(*READER))
    service = RunningService("workflow", app, client, manager, config)
    mesh.running[key] = service
    await wait_for(lambda: service.runtime.bus.connected, what=f"{key} NATS connection")
    return service


@dataclass
class Intake:
    """Publishes intake's events exactly as intake's relay does (envelope, subject, id)."""

    mesh: Mesh
    nc: Any = None
    sequences: dict[str, int] = field(default_factory=dict)

    async def __aenter__(self) -> Intake:
        self.nc = await nats.connect(self.mesh.nats_url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.nc.close()

    async def publish(self, data: EventData, *, envelope: Envelope | None = None) -> Envelope:
        """Publish one event (or re-publish ``envelope``: a redelivery)."""
        if envelope is None:
            key = data.dossier_code  # type: ignore[attr-defined]
            self.sequences[key] = self.sequences.get(key, 0) + 1
            envelope = Envelope.wrap(data, province=self.mesh.province, key=key,
                                     sequence=self.sequences[key])
        await self.nc.jetstream().publish(data.subject(self.mesh.province), envelope.to_bytes(),
                                          headers={"Nats-Msg-Id": envelope.id})
        return envelope

    def code(self, agency_code: str, day: str = "260302") -> str:
        """A fresh dossier code of the agency."""
        return f"{agency_code}-{day}-{next(_serial):04d}"

    async def submit(self, code: str, agency_code: str, procedure: str = "1.004884",
                     **extra: Any) -> Envelope:
        """``dossier.submitted``."""
        return await self.publish(DossierSubmittedV1(
            dossier_code=code, agency_code=agency_code, procedure_code=procedure, status=1,
            occurred_at=extra.pop("occurred_at", datetime.now(TIMEZONE)), channel="online",
            applicant_kind="individual", **extra))

    async def receive(self, code: str, agency_code: str, received_at: datetime, *,
                      amount: int = 5, unit: str = "working_days", cutoff: str | None = None,
                      due_at: datetime | None = None, procedure: str = "1.004884",
                      owner_ref: str | None = None) -> Envelope:
        """``dossier.received`` with the statutory time and intake's appointment."""
        return await self.publish(DossierReceivedV1(
            dossier_code=code, agency_code=agency_code, procedure_code=procedure, status=2,
            occurred_at=received_at, channel="direct", received_at=received_at,
            due_at=due_at or received_at + timedelta(days=7),
            statutory_time=StatutoryTime(amount=amount, unit=unit, cutoff=cutoff),  # type: ignore[arg-type]
            received_by="desk-1", owner_ref=owner_ref))

    async def supplemented(self, code: str, agency_code: str, when: datetime,
                           procedure: str = "1.004884") -> Envelope:
        """``dossier.supplemented``."""
        return await self.publish(DossierSupplementedV1(
            dossier_code=code, agency_code=agency_code, procedure_code=procedure, status=4,
            occurred_at=when, document_count=1))

    async def refused(self, code: str, agency_code: str, procedure: str = "1.004884") -> Envelope:
        """``dossier.refused``."""
        return await self.publish(DossierRefusedV1(
            dossier_code=code, agency_code=agency_code, procedure_code=procedure, status=3,
            occurred_at=datetime.now(TIMEZONE), reasons=["thiếu tờ khai"]))

    async def withdrawn(self, code: str, agency_code: str,
                        procedure: str = "1.004884") -> Envelope:
        """``dossier.withdrawn``."""
        return await self.publish(DossierWithdrawnV1(
            dossier_code=code, agency_code=agency_code, procedure_code=procedure, status=7,
            occurred_at=datetime.now(TIMEZONE), reason="không còn nhu cầu"))


async def get_case(wf: RunningService, code: str) -> dict[str, Any] | None:
    """The case, or None while it does not exist."""
    response = await wf.client.get(f"/v1/cases/{code}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()


async def wait_case(wf: RunningService, code: str, **expected: Any) -> dict[str, Any]:
    """Wait until the case exists with the expected field values."""
    async def ready() -> dict[str, Any] | None:
        case = await get_case(wf, code)
        if case is not None and all(case.get(k) == v for k, v in expected.items()):
            return case
        return None

    return await wait_for(ready, what=f"case {code} with {expected}")


async def act(wf: RunningService, code: str, body: dict[str, Any], who: dict[str, str], *,
              key: str | None = None, status: int = 200) -> dict[str, Any]:
    """POST an action as ``who`` (an officer's headers) and check the answer's status."""
    headers = {**who, **({"Idempotency-Key": key} if key else {})}
    response = await wf.client.post(f"/v1/cases/{code}/actions", json=body, headers=headers)
    assert response.status_code == status, response.text
    return response.json()


async def outbox_events(wf: RunningService, code: str | None = None) -> list[Envelope]:
    """Events workflow recorded (published or not), oldest first."""
    async with wf.runtime.sessions() as session:
        query = select(outbox_table.c.payload).order_by(outbox_table.c.seq)
        if code is not None:
            query = query.where(outbox_table.c.aggregate_key == code)
        rows = (await session.execute(query)).scalars().all()
    return [Envelope.from_bytes(r) for r in rows]


async def inbox_count(wf: RunningService, consumer: str) -> int:
    """Events (of any type) a durable consumer of workflow applied."""
    async with wf.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(inbox_table)
                                        .where(inbox_table.c.consumer == consumer)) or 0)


def types(events: list[Envelope]) -> list[str]:
    """Short event names (``status_changed`` …)."""
    return [e.type.split(".")[-2] for e in events]


@dataclass
class Payments(Intake):
    """Publishes payments' assessment events as payments' relay does (sequence = version)."""

    async def assessed(self, code: str, agency_code: str, *, pay_before: bool = True,
                       payable_vnd: int = 50_000, occurred_at: datetime | None = None,
                       procedure: str = "1.004884") -> Envelope:
        """``assessment.assessed``: ``collect`` before, after, or none when nothing is due."""
        collect = "none" if not payable_vnd else ("before" if pay_before else "after")
        return await self.publish(FeeAssessedV1(
            assessment_id=f"as-{code}", dossier_code=code, agency_code=agency_code,
            occurred_at=occurred_at or datetime.now(TIMEZONE), procedure_code=procedure,
            total_vnd=payable_vnd, exempted_vnd=0, payable_vnd=payable_vnd,
            collect=collect, pay_before_processing=pay_before and bool(payable_vnd)))  # type: ignore[arg-type]

    async def settled(self, code: str, agency_code: str, occurred_at: datetime, *,
                      amount_vnd: int = 50_000) -> Envelope:
        """``assessment.settled``: everything payable was paid."""
        return await self.publish(AssessmentSettledV1(
            assessment_id=f"as-{code}", dossier_code=code, agency_code=agency_code,
            occurred_at=occurred_at, payable_vnd=amount_vnd, settled_vnd=amount_vnd,
            paid_online=True))
