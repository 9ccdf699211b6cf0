"""Settling a payment and withdrawing its dossier at once never deadlock (PostgreSQL).

Both lock the assessment before the payment. Before, a settlement locked the payment
first and a withdrawal the assessment first: each then waited for the other's row until
PostgreSQL aborted one (the withdrawal's transaction, which the consumer then ran again).
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from motcua.testing import wait_for
from tests.motcua_payments.conftest import Payments
from tests.motcua_payments.test_callbacks import request_payment


async def lock_waiters(payments: Payments) -> int:
    """Backends of payments' database waiting for a row lock."""
    assert payments.service is not None
    async with payments.service.runtime.sessions() as session:
        return int(await session.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()")))


async def test_a_settlement_and_a_withdrawal_at_once_do_not_deadlock(
        payments: Payments, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite's one connection serialises the two transactions")
    dossier = "D-LOCKS-1"
    await payments.receive(dossier)
    reference = (await request_payment(payments, dossier))["reference"]
    locked, go = asyncio.Event(), asyncio.Event()
    releases: list[str] = []  # each time the withdrawal's transaction read the payments

    async def fault(at: str) -> None:
        if at == "settlement.first_lock" and not go.is_set():
            locked.set()
            await go.wait()
        elif at == "release.pending_read":
            releases.append(at)

    await payments.stop()
    await payments.start(fault=fault)
    try:
        # The citizen pays; the IPN's settlement takes its first lock and waits there …
        await payments.sim("POST", f"/sim/transactions/{reference}/completion",
                           json={"outcome": "paid", "notify": True})
        await asyncio.wait_for(locked.wait(), 30)
        # … while the dossier is withdrawn: the release waits for a lock the settlement holds.
        await payments.withdraw(dossier)
        await wait_for(lambda: lock_waiters(payments), what="the release waiting for a lock")
    finally:
        go.set()

    async def refunded() -> bool:
        r = await payments.client.get("/v1/refunds", params={"dossier_code": dossier},
                                      headers=payments.desk)
        return r.status_code == 200 and len(r.json()) == 1

    await wait_for(refunded, what="the money settled, then owed back")
    payment = (await payments.client.get(f"/v1/payments/{reference}",
                                         headers=payments.owner)).json()
    assert payment["status"] == "settled" and payment["settled_via"] == "callback"
    assert (await payments.assessment(dossier))["status"] == "released"
    # Neither side was aborted as a deadlock's victim: the withdrawal ran once (the
    # consumer retries an aborted one: it ran twice), and the IPN was taken at once.
    assert releases == ["release.pending_read"]
    callbacks = [c for c in await payments.sim("GET", "/sim/callbacks")
                 if c.get("reference") == reference]
    assert callbacks and callbacks[0]["status"] == 200, callbacks
