"""Payments on the mesh with the gateway simulator on a real loopback port.

The simulator is served by uvicorn on 127.0.0.1 (payments calls it over HTTP), and
payments is reachable over HTTP too through :class:`Switch`, a fixed loopback address in
front of whichever payments app is running, so the simulator's callbacks survive a
restart of payments (while it is down they get 503, and the simulator retries).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
import uvicorn

from motcua.auth import owner_ref
from motcua.contracts.intake import DossierReceivedV1, DossierWithdrawnV1, FeeLine
from motcua.events import Envelope, EventData
from motcua.ids import new_id
from motcua.testing import Mesh, RunningService, wait_for
from motcua_payments.simulator.app import create_app as create_simulator
from motcua_payments.simulator.config import SimulatorSettings


class LoopbackServer:
    """An ASGI app served by uvicorn on a free 127.0.0.1 port, inside the test's loop."""

    def __init__(self, app: Any, *, lifespan: str = "on") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, lifespan=lifespan, log_config=None,
                                                    access_log=False))
        self.task: asyncio.Task[Any] | None = None

    async def start(self) -> LoopbackServer:
        """Serve until stopped."""
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        await wait_for(lambda: self.server.started, what="loopback server")
        return self

    async def stop(self) -> None:
        """Stop serving."""
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.task, 10)
        self.sock.close()


class Switch:
    """ASGI app forwarding to the current payments app, 503 while there is none."""

    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.target is None:
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"payments is down"})
            return
        await self.target(scope, receive, send)


@pytest.fixture
async def mesh(nats_server: Any, make_database: Any) -> AsyncIterator[Mesh]:
    """A fresh province with payments only (other services' specs are not loaded, so these
    tests depend on no other service's code)."""
    from motcua_payments.spec import SERVICE

    m = Mesh(nats_server.url, make_database, specs={"payments": SERVICE})
    await m.provision()
    yield m
    await m.close()


@pytest.fixture
async def simulator() -> AsyncIterator[LoopbackServer]:
    """The gateway simulator on a loopback port (quick IPN retries)."""
    settings = SimulatorSettings(log_json=True,
                                 ipn_retry_delays_s=[0.05, 0.1, 0.2, 0.3, 0.5, *[1.0] * 30])
    app = create_simulator(settings)
    server = LoopbackServer(app)
    settings.public_url = server.url
    await server.start()
    server.app = app  # type: ignore[attr-defined]
    yield server
    await server.stop()


#: The applicant of the dossiers these tests receive (a made-up personal ID number).
OWNER_PID = "038095001234"


class Payments:
    """Payments running on the mesh, its HTTP face, and the simulator.

    The callers are realistic mesh tokens (``mesh.mint``), minted once per test so that an
    ``Idempotency-Key`` retry carries the same token: ``owner`` (the applicant citizen),
    ``desk`` (receptionist of the agency), ``approver``, ``auditor`` (officers of the
    agency), ``reader`` (a service with ``payments.read``) and ``reconciler`` (a service
    with ``payments.reconcile``). ``subjects`` maps each officer to its token subject.
    """

    def __init__(self, mesh: Mesh, simulator: LoopbackServer) -> None:
        self.mesh = mesh
        self.simulator = simulator
        self.switch = Switch()
        self.front = LoopbackServer(self.switch, lifespan="off")
        self.service: RunningService | None = None
        self._nc: Any = None
        self._seq = 0
        self.agency = f"000.01.17.{mesh.province}"
        mint = mesh.mint
        self.subjects = {name: new_id() for name in ("owner", "desk", "approver", "auditor")}
        self.owner = mint.citizen(OWNER_PID, subject=self.subjects["owner"])
        self.desk = mint.officer(self.agency, "receptionist", subject=self.subjects["desk"])
        self.approver = mint.officer(self.agency, "approver", subject=self.subjects["approver"])
        self.auditor = mint.officer(self.agency, "auditor", subject=self.subjects["auditor"])
        self.reader = mint.service("workflow", "payments.read")
        self.reconciler = mint.service("payments-ops", "payments.reconcile")

    def owner_ref(self, personal_id: str = OWNER_PID) -> str:
        """The owner reference intake's events carry for ``personal_id``."""
        assert self.service is not None
        return owner_ref(personal_id, self.service.settings.resolved_owner_ref_key())

    @property
    def client(self) -> Any:
        """HTTP client of the running payments app (ASGI transport)."""
        assert self.service is not None
        return self.service.client

    async def start(self, **create_kwargs: Any) -> RunningService:
        """Start (or restart) payments wired to the simulator."""
        self.mesh.overrides.update(
            gateway_url=self.simulator.url, public_base_url=self.front.url,
            gateway_partner_code=f"MC{self.mesh.province}",
            owner_ref_key=f"payments-test-owner-ref-key-{self.mesh.province}")
        create_kwargs.setdefault("reconcile", False)
        self.service = await self.mesh.start("payments", **create_kwargs)
        self.switch.target = self.service.manager.app
        await wait_for(lambda: all(c.bound for c in self.service.runtime.consumers),
                       what="payments consumers bound")
        return self.service

    async def stop(self) -> None:
        """Stop payments (the simulator's callbacks get 503 meanwhile)."""
        self.switch.target = None
        await self.mesh.stop("payments")
        self.service = None

    async def publish(self, data: EventData, key: str) -> Envelope:
        """Publish an intake event as intake would."""
        if self._nc is None:
            self._nc = await nats.connect(self.mesh.nats_url)
        self._seq += 1
        envelope = Envelope.wrap(data, province=self.mesh.province, key=key, sequence=self._seq)
        await self._nc.jetstream().publish(data.subject(self.mesh.province), envelope.to_bytes(),
                                           headers={"Nats-Msg-Id": envelope.id})
        return envelope

    async def receive(self, dossier_code: str, *, fees: list[FeeLine] | None = None,
                      exemptions: list[str] | None = None, agency: str | None = None,
                      owner_pid: str | None = OWNER_PID) -> dict[str, Any]:
        """Publish DossierReceivedV1 (applicant ``owner_pid``, None for an organisation)
        and wait for the assessment."""
        from motcua.db import utcnow

        agency = agency or self.agency
        now = utcnow()
        fee_lines = fees if fees is not None else [
            FeeLine(code="LP01", kind="fee", label_vi="Lệ phí đăng ký khai sinh",
                    amount_vnd=50_000, collect="before")]
        await self.publish(DossierReceivedV1(
            dossier_code=dossier_code, agency_code=agency,
            procedure_code="1.001193", status=2, occurred_at=now, channel="online",
            received_at=now, due_at=now, statutory_time={"amount": 3, "unit": "working_days"},
            applicant_kind="individual" if owner_pid else "organisation",
            owner_ref=self.owner_ref(owner_pid) if owner_pid else None,
            exemptions_claimed=exemptions or [], fee_lines=fee_lines), key=dossier_code)
        return await self.assessment(dossier_code)

    async def withdraw(self, dossier_code: str, *, agency: str | None = None,
                       reason: str | None = None) -> None:
        """Publish DossierWithdrawnV1 as intake would."""
        from motcua.db import utcnow

        await self.publish(DossierWithdrawnV1(
            dossier_code=dossier_code, agency_code=agency or self.agency,
            procedure_code="1.001193", status=7, occurred_at=utcnow(), reason=reason),
            key=dossier_code)

    async def assessment(self, dossier_code: str) -> dict[str, Any]:
        """The assessment, once it exists (read as a reader service)."""

        async def found() -> Any:
            r = await self.client.get(f"/v1/assessments/{dossier_code}", headers=self.reader)
            return r.json() if r.status_code == 200 else None

        return await wait_for(found, what=f"assessment of {dossier_code}")

    async def sim(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the simulator's control API."""
        import httpx

        async with httpx.AsyncClient(base_url=self.simulator.url, timeout=30) as http:
            r = await http.request(method, path, **kwargs)
        assert r.status_code < 300, r.text
        return r.json()

    async def close(self) -> None:
        """Stop the front server and the NATS connection."""
        await self.front.stop()
        if self._nc is not None:
            await self._nc.close()


@pytest.fixture
async def payments(mesh: Mesh, simulator: LoopbackServer) -> AsyncIterator[Payments]:
    """Payments on the mesh (both backends), reachable over HTTP, wired to the simulator."""
    p = Payments(mesh, simulator)
    await p.front.start()
    await p.start()
    yield p
    with contextlib.suppress(Exception):
        if p.service is not None:
            await p.stop()
    await p.close()
