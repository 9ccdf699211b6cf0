"""An online payment's INIT is sent with no transaction open (``payments.service``).

The payment is written unsent (no URL, no event), INIT goes to the platform, then its URL
and ``payment.requested`` are recorded. While a slow platform holds an INIT, the rest of
payments carries on (on SQLite, with its one connection, too); a payment whose INIT was
never confirmed is discarded after ``payment_init_grace_s``; nothing is recorded twice.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from motcua.db import utcnow
from motcua.testing import wait_for
from motcua_payments.payments import service
from motcua_payments.payments.models import Payment
from tests.e2e.helpers import stream_messages
from tests.motcua_payments.conftest import Payments
from tests.motcua_payments.test_callbacks import request_payment
from tests.motcua_payments.test_gateway_guard import Platform, restart_through
from tests.motcua_payments.test_lock_order import lock_waiters


class Crash(Exception):
    """The process dies here."""


async def payments_of(payments: Payments, dossier: str) -> list[dict[str, Any]]:
    r = await payments.client.get("/v1/payments", params={"dossier_code": dossier},
                                  headers=payments.owner)
    assert r.status_code == 200, r.text
    return r.json()


async def requested_refs(payments: Payments) -> list[str]:
    """The references of every payment.requested event in the payments stream."""
    return [json.loads(m.data)["data"]["reference"] for m in await stream_messages(
        payments.mesh.nats_url, payments.mesh.province, "payments", "payment.requested")]


async def early_pass(payments: Payments) -> dict[str, int]:
    r = await payments.client.post("/v1/reconciliations/early", json={"older_than_s": 0},
                                   headers=payments.reconciler)
    assert r.status_code == 200, r.text
    return r.json()


async def age(payments: Payments, reference: str, seconds: float) -> None:
    """Move a payment's request time ``seconds`` into the past."""
    assert payments.service is not None
    async with payments.service.runtime.sessions() as session, session.begin():
        await session.execute(update(Payment).where(Payment.reference == reference).values(
            requested_at=utcnow() - timedelta(seconds=seconds)))


async def held_init(payments: Payments, dossier: str) -> tuple[asyncio.Event, asyncio.Task[Any]]:
    """Ask for a payment of ``dossier`` through a platform that holds INIT; once the INIT
    is waiting there: the event that lets it go on, and the request's task."""
    platform = Platform()
    platform.held = {"INIT"}
    await restart_through(payments, platform)
    platform.hold = hold = asyncio.Event()
    asking = asyncio.create_task(payments.client.post(
        "/v1/payments", json={"dossier_code": dossier},
        headers={**payments.owner, "Idempotency-Key": f"held-{dossier}"}))
    await wait_for(lambda: platform.holding == 1, what="INIT waiting at the platform")
    return hold, asking


class TestInitOutsideTransactions:
    async def test_a_slow_init_holds_no_connection_and_keeps_the_dossiers_slot(
            self, payments: Payments) -> None:
        slow, other = "D-SLOW-1", "D-SLOW-2"
        for dossier in (slow, other):
            await payments.receive(dossier)
        hold, asking = await held_init(payments, slow)
        try:
            # Payments carries on: another dossier is paid at the counter. (Before, on
            # SQLite the INIT held the one connection: this got 503 service.busy.)
            r = await asyncio.wait_for(payments.client.post("/v1/counter-payments", json={
                "dossier_code": other, "method": "cash", "amount_vnd": 50_000},
                headers=payments.desk), 30)
            assert r.status_code == 201, r.text
            # The waiting payment shows as pending, without a URL yet …
            [unsent] = await payments_of(payments, slow)
            assert unsent["status"] == "pending" and unsent["payment_url"] is None
            # … a second request for its dossier is told to come back (on PostgreSQL it
            # no longer waits for the assessment's row lock) …
            r = await asyncio.wait_for(payments.client.post(
                "/v1/payments", json={"dossier_code": slow}, headers=payments.owner), 30)
            assert r.status_code == 409 and r.json()["code"] == "payment.already_pending"
            assert r.json()["reference"] == unsent["reference"]
            assert int(r.headers["retry-after"]) == 10  # gateway_timeout_s
            # … it cannot be cancelled while its INIT is on its way, and no event names it.
            r = await payments.client.post(f"/v1/payments/{unsent['reference']}/cancellation",
                                           json={"reason": "đổi ý"}, headers=payments.owner)
            assert r.status_code == 409 and r.json()["code"] == "payment.not_cancellable"
            assert unsent["reference"] not in await requested_refs(payments)
        finally:
            hold.set()
        r = await asking
        assert r.status_code == 201, r.text
        assert r.json()["reference"] == unsent["reference"] and r.json()["payment_url"]
        again = await payments.client.post(
            "/v1/payments", json={"dossier_code": slow},
            headers={**payments.owner, "Idempotency-Key": f"held-{slow}"})
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == r.json()
        await wait_for(lambda: _requested_once(payments, unsent["reference"]),
                       what="one payment.requested")
        [payment] = await payments_of(payments, slow)
        assert payment["payment_url"] == r.json()["payment_url"]

    async def test_a_slow_gateway_bill_holds_no_connection(self, payments: Payments) -> None:
        paid, other = "D-BILL-1", "D-BILL-2"
        for dossier in (paid, other):
            await payments.receive(dossier)
        platform = Platform()
        platform.held = {"GET_BILL"}
        await restart_through(payments, platform)
        reference = (await request_payment(payments, paid))["reference"]
        await payments.sim("POST", f"/sim/transactions/{reference}/completion",
                           json={"outcome": "paid", "notify": True})
        await wait_for(lambda: _status(payments, reference, "settled"), what="settled")
        platform.hold = hold = asyncio.Event()
        asking = asyncio.create_task(payments.client.get(
            f"/v1/payments/{reference}/gateway-bill", headers=payments.owner))
        try:
            await wait_for(lambda: platform.holding == 1, what="GET_BILL waiting")
            r = await asyncio.wait_for(payments.client.post("/v1/counter-payments", json={
                "dossier_code": other, "method": "cash", "amount_vnd": 50_000},
                headers=payments.desk), 30)
            assert r.status_code == 201, r.text
        finally:
            hold.set()
        bill = await asking
        assert bill.status_code == 200 and bill.content.startswith(b"%PDF")

    async def test_a_failure_after_init_frees_the_dossier_at_once(
            self, payments: Payments) -> None:
        dossier = "D-FAIL-1"
        await payments.receive(dossier)

        async def fault(at: str) -> None:
            if at == "payment.initiated":  # the platform took INIT; then payments fails
                raise Crash(at)

        await payments.stop()
        await payments.start(fault=fault)
        async with httpx.AsyncClient(base_url=payments.front.url, timeout=30) as http:
            r = await http.post("/v1/payments", json={"dossier_code": dossier},
                                headers=payments.owner)
        assert r.status_code == 500
        assert await payments_of(payments, dossier) == []  # not left for the grace
        await payments.stop()
        await payments.start()
        paid = await request_payment(payments, dossier)
        await wait_for(lambda: _requested_once(payments, paid["reference"]),
                       what="one payment.requested")
        assert len(await requested_refs(payments)) == 1

    @pytest.mark.parametrize("by", ["early_pass", "next_request"])
    async def test_an_init_never_confirmed_is_discarded_after_the_grace(
            self, payments: Payments, by: str) -> None:
        dossier = f"D-LOST-{by}"
        await payments.receive(dossier)
        # What payments leaves when it dies (kill -9: no handler runs) between writing the
        # payment and confirming it: the first step's commit, nothing after.
        assert payments.service is not None
        ctx = payments.service.app.state.payments
        async with payments.service.runtime.sessions() as session, session.begin():
            await service.start_online(session, ctx, dossier_code=dossier, amount_vnd=None,
                                       payer_name=None, actor=payments.subjects["owner"])
        [unsent] = await payments_of(payments, dossier)
        assert unsent["status"] == "pending" and unsent["payment_url"] is None
        # Within the grace it might still be confirmed: it keeps the slot, and the early
        # pass neither QUERYs nor discards it.
        r = await payments.client.post("/v1/payments", json={"dossier_code": dossier},
                                       headers=payments.owner)
        assert r.status_code == 409 and r.json()["code"] == "payment.already_pending"
        assert int(r.headers["retry-after"]) == 10  # gateway_timeout_s, not the grace left
        counts = await early_pass(payments)
        assert counts["discarded"] == 0 and counts["checked"] == 0
        await age(payments, unsent["reference"], seconds=121)  # payment_init_grace_s 120
        if by == "early_pass":
            assert (await early_pass(payments))["discarded"] == 1
            assert await payments_of(payments, dossier) == []
        paid = await request_payment(payments, dossier)
        assert paid["reference"] != unsent["reference"] and paid["payment_url"]
        assert [p["reference"] for p in await payments_of(payments, dossier)] \
            == [paid["reference"]]
        await wait_for(lambda: _requested_once(payments, paid["reference"]),
                       what="one payment.requested")
        assert unsent["reference"] not in await requested_refs(payments)

    async def test_a_dossier_withdrawn_while_its_init_is_on_its_way(
            self, payments: Payments) -> None:
        dossier = "D-GONE-1"
        await payments.receive(dossier)
        hold, asking = await held_init(payments, dossier)
        try:
            await payments.withdraw(dossier)

            async def released() -> bool:
                return (await payments.assessment(dossier))["status"] == "released"

            await wait_for(released, what="the assessment released")
            assert await payments_of(payments, dossier) == []  # the unsent one discarded
        finally:
            hold.set()
        r = await asking
        assert r.status_code == 409 and r.json()["code"] == "assessment.nothing_to_pay"
        assert await payments_of(payments, dossier) == []
        cancelled = await stream_messages(payments.mesh.nats_url, payments.mesh.province,
                                          "payments", "payment.cancelled")
        assert cancelled == [] and await requested_refs(payments) == []


async def _requested_once(payments: Payments, reference: str) -> bool:
    refs = await requested_refs(payments)
    assert refs.count(reference) <= 1, refs
    return refs.count(reference) == 1


async def _status(payments: Payments, reference: str, status: str) -> bool:
    r = await payments.client.get(f"/v1/payments/{reference}", headers=payments.owner)
    return r.json()["status"] == status


async def test_a_release_racing_the_confirmation_cancels_the_confirmed_payment(
        payments: Payments, backend: str) -> None:
    """PostgreSQL: the withdrawal comes while the payment's confirmation (URL, event) is
    written but not committed; it waits for the payment's row lock and reads it afresh
    before deciding, so the payment the citizen was given is cancelled, not left pending
    or deleted. (On SQLite one connection serialises the two.)"""
    if backend == "sqlite":
        pytest.skip("SQLite's one connection serialises the confirmation and the release")
    dossier = "D-RACE-1"
    await payments.receive(dossier)
    confirming, go = asyncio.Event(), asyncio.Event()

    async def fault(at: str) -> None:
        if at == "payment.confirming":  # URL and event written, row locked, not committed
            confirming.set()
            await go.wait()

    await payments.stop()
    await payments.start(fault=fault)
    asking = asyncio.create_task(payments.client.post(
        "/v1/payments", json={"dossier_code": dossier}, headers=payments.owner))
    try:
        await asyncio.wait_for(confirming.wait(), 30)
        await payments.withdraw(dossier)
        await wait_for(lambda: lock_waiters(payments), what="the release waiting for the row")
    finally:
        go.set()
    r = await asking
    assert r.status_code == 201, r.text
    reference = r.json()["reference"]
    await wait_for(lambda: _status(payments, reference, "cancelled"),
                   what="the confirmed payment cancelled by the release")
    cancelled = await stream_messages(payments.mesh.nats_url, payments.mesh.province,
                                      "payments", "payment.cancelled")
    assert [json.loads(m.data)["data"]["reference"] for m in cancelled] == [reference]
    await wait_for(lambda: _requested_once(payments, reference), what="one payment.requested")
