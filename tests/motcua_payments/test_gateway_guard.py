"""A slow or dead gateway does not take payments down with it (``motcua.guard``).

Payments talks to the simulator over real HTTP through :class:`Platform`, its own HTTP
transport, which a test can cut (every command fails to connect, as when the platform is
down) or hold (QUERYs, or the commands it names, wait, as when it is slow), and which lists
every command that reached it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from motcua.testing import FakeClock, wait_for
from motcua_payments.gateway.national import NationalPlatformGateway
from tests.motcua_payments.conftest import Payments
from tests.motcua_payments.test_callbacks import request_payment

SECRET = "motcua-dev-secret"  # the simulator's development secret for any partner


class Platform(httpx.AsyncBaseTransport):
    """The real transport to the simulator, which the test can cut or hold."""

    def __init__(self) -> None:
        self.real = httpx.AsyncHTTPTransport()
        self.down = False
        self.hold: asyncio.Event | None = None  # while set to an unset event, these wait:
        self.held = {"QUERY"}
        self.holding = 0
        self.tried: list[str] = []  # MaLenh of every command payments tried to send

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        command = json.loads(request.content)["MaLenh"]
        self.tried.append(command)
        if self.down:
            raise httpx.ConnectError("connection refused (the test cut the platform)",
                                     request=request)
        if command in self.held and self.hold is not None:
            self.holding += 1
            try:
                await self.hold.wait()
            finally:
                self.holding -= 1
        return await self.real.handle_async_request(request)

    async def aclose(self) -> None:
        await self.real.aclose()


async def restart_through(payments: Payments, platform: Platform, **overrides: Any) -> Any:
    """Restart payments with its gateway going through ``platform``; its guard."""
    await payments.stop()
    payments.mesh.overrides.update(overrides)
    await payments.start(gateway=NationalPlatformGateway(
        payments.simulator.url, f"MC{payments.mesh.province}", SECRET, transport=platform))
    assert payments.service is not None
    return payments.service.app.state.payments.gateway.guard


async def pause_by_failing(payments: Payments, platform: Platform, dossier: str) -> None:
    """Cut the platform, fail INIT for ``dossier`` until the guard pauses, mend it."""
    await payments.receive(dossier)
    platform.down = True
    for _ in range(5):  # gateway_failures_to_pause
        r = await payments.client.post("/v1/payments", json={"dossier_code": dossier},
                                       headers=payments.owner)
        assert r.json()["code"] == "gateway.unavailable"
    platform.down = False


async def guard_figures(payments: Payments) -> dict[str, float]:
    """The guard's samples as ``GET /metrics`` shows them, by name (and reason)."""
    text = (await payments.client.get("/metrics")).text
    return {s.name + (f":{s.labels['reason']}" if "reason" in s.labels else ""): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name.startswith("motcua_guard_") and s.labels.get("guard") == "payment_gateway"}


class TestGatewayGuard:
    async def test_a_dead_gateway_is_paused_and_one_trial_resumes_it(
            self, payments: Payments) -> None:
        platform = Platform()
        guard = await restart_through(payments, platform)
        guard.clock = clock = FakeClock()
        dossier = "D-PAUSE-1"
        await payments.receive(dossier)
        platform.down = True

        async def ask() -> httpx.Response:
            return await payments.client.post("/v1/payments", json={"dossier_code": dossier},
                                              headers=payments.owner)

        for _ in range(5):  # gateway_failures_to_pause
            r = await ask()
            assert r.status_code == 502 and r.json()["code"] == "gateway.unavailable"
        assert platform.tried == ["INIT"] * 5
        r = await ask()
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "gateway.paused" and r.headers["retry-after"] == "30"
        assert platform.tried == ["INIT"] * 5  # refused without calling the platform
        assert (await payments.client.get("/v1/payments", params={"dossier_code": dossier},
                                          headers=payments.owner)).json() == []
        figures = await guard_figures(payments)
        assert figures["motcua_guard_paused"] == 1
        assert figures["motcua_guard_refused_calls_total:paused"] == 1

        platform.down = False  # the platform is back; the pause is not over yet
        clock.now += 29
        assert (await ask()).json()["code"] == "gateway.paused"
        clock.now += 1
        payment = await request_payment(payments, dossier)  # the trial
        assert payment["status"] == "pending" and platform.tried == ["INIT"] * 6
        assert guard.state == "closed"
        assert (await guard_figures(payments))["motcua_guard_paused"] == 0

    async def test_a_callback_beyond_the_calls_at_once_is_refused_and_retried(
            self, payments: Payments) -> None:
        """With one call at a time, an IPN that needs a QUERY while another QUERY waits is
        answered 503 at once; the platform retries it, and both payments settle once."""
        platform = Platform()
        await restart_through(payments, platform, gateway_max_calls=1)
        refs = {}
        for dossier in ("D-BUSY-1", "D-BUSY-2"):
            await payments.receive(dossier)
            refs[dossier] = (await request_payment(payments, dossier))["reference"]
        platform.hold = hold = asyncio.Event()
        try:
            await payments.sim("POST", f"/sim/transactions/{refs['D-BUSY-1']}/completion",
                               json={"outcome": "paid"})  # its IPN's QUERY waits
            await wait_for(lambda: platform.holding == 1, what="the first QUERY waiting")
            await payments.sim("POST", f"/sim/transactions/{refs['D-BUSY-2']}/completion",
                               json={"outcome": "paid"})

            async def refused() -> list[dict[str, Any]]:
                return [s for s in await payments.sim("GET", "/sim/callbacks")
                        if s["reference"] == refs["D-BUSY-2"] and s["status"] == 503]

            [first, *_] = await wait_for(refused, what="the second IPN refused")
            assert first["body"]["code"] == "gateway.busy"
            assert platform.holding == 1 and platform.tried.count("QUERY") == 1
        finally:
            hold.set()

        async def settled() -> bool:
            for reference in refs.values():
                r = await payments.client.get(f"/v1/payments/{reference}",
                                              headers=payments.owner)
                if r.json()["status"] != "settled":
                    return False
            return True

        await wait_for(settled, what="both payments settled")
        for dossier in refs:
            receipts = (await payments.client.get("/v1/receipts", params={
                "dossier_code": dossier}, headers=payments.owner)).json()
            assert len(receipts) == 1
        assert (await guard_figures(payments))["motcua_guard_refused_calls_total:busy"] >= 1

    async def test_while_paused_the_early_pass_defers_and_the_next_one_settles(
            self, payments: Payments) -> None:
        platform = Platform()
        guard = await restart_through(payments, platform)
        guard.clock = clock = FakeClock()
        refs = []
        for dossier in ("D-DEFER-1", "D-DEFER-2"):
            await payments.receive(dossier)
            refs.append((await request_payment(payments, dossier))["reference"])
            await payments.sim("POST", f"/sim/transactions/{refs[-1]}/completion",
                               json={"outcome": "paid", "notify": False})
        await pause_by_failing(payments, platform, "D-DEFER-3")
        assert guard.state == "paused"

        async def early_pass() -> dict[str, int]:
            r = await payments.client.post("/v1/reconciliations/early",
                                           json={"older_than_s": 0},
                                           headers=payments.reconciler)
            assert r.status_code == 200, r.text
            return r.json()

        tried = len(platform.tried)
        counts = await early_pass()
        assert counts["checked"] == 0 and counts["deferred"] == 2
        assert len(platform.tried) == tried  # no QUERY sent
        clock.now += 30
        counts = await early_pass()  # the deferred payments were not left leased
        assert counts["checked"] == 2 and counts["settled"] == 2 and counts["deferred"] == 0
        for reference in refs:
            r = await payments.client.get(f"/v1/payments/{reference}", headers=payments.owner)
            assert r.json()["status"] == "settled"

    async def test_a_refused_statement_leaves_the_days_runs_as_they_were(
            self, payments: Payments) -> None:
        platform = Platform()
        guard = await restart_through(payments, platform)
        guard.clock = FakeClock()

        async def reconcile(day: str, **body: Any) -> httpx.Response:
            return await payments.client.post("/v1/reconciliations/statements",
                                              json={"date": day, **body},
                                              headers=payments.reconciler)

        async def run_of(day: str) -> httpx.Response:
            return await payments.client.get(f"/v1/reconciliations/statements/{day}",
                                             headers=payments.reconciler)

        done = await reconcile("2026-11-19")
        assert done.status_code == 200 and done.json()["status"] == "completed"
        await pause_by_failing(payments, platform, "D-STMT-1")
        for day, body in (("2026-11-19", {"rerun": True}), ("2026-11-20", {})):
            r = await reconcile(day, **body)
            assert r.status_code == 503 and r.json()["code"] == "gateway.paused", r.text
        assert platform.tried.count("STATEMENT") == 1  # the first day's only
        again = (await run_of("2026-11-19")).json()
        assert again["status"] == "completed" and again["attempts"] == done.json()["attempts"]
        assert (await run_of("2026-11-20")).status_code == 404
