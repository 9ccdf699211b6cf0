"""A crash of payments between callback and receipt loses nothing and duplicates nothing."""

from __future__ import annotations

import asyncio

import pytest

from motcua.testing import wait_for
from tests.e2e.helpers import stream_messages, unpublished
from tests.motcua_payments.conftest import Payments
from tests.motcua_payments.test_callbacks import request_payment


class Crash(Exception):
    """The process dies here."""


async def _events(payments: Payments, suffix: str) -> list:
    return await stream_messages(payments.mesh.nats_url, payments.mesh.province, "payments",
                                 suffix)


async def _receipts(payments: Payments, dossier: str) -> list[dict]:
    return (await payments.client.get("/v1/receipts", params={"dossier_code": dossier},
                                      headers=payments.owner)).json()


class TestCrash:
    @pytest.mark.parametrize("point", ["callback.confirmed", "settlement.flushed"])
    async def test_crash_between_callback_and_receipt(self, payments: Payments,
                                                      point: str) -> None:
        dossier = "000.01.17.X-261122-0301"
        await payments.receive(dossier)
        crashed = asyncio.Event()

        async def fault(at: str) -> None:
            if at == point:
                crashed.set()
                raise Crash(at)

        await payments.stop()
        await payments.start(fault=fault)
        reference = (await request_payment(payments, dossier))["reference"]
        # The citizen pays; the platform's IPN (with its retries) goes out.
        await payments.sim("POST", f"/sim/transactions/{reference}/completion",
                           json={"outcome": "paid", "notify": True})
        await asyncio.wait_for(crashed.wait(), 20)
        await payments.stop()  # the process is gone; the IPN retries meet a dead service
        assert (await payments.sim("GET", f"/sim/transactions/{reference}"))["status"] == "paid"
        await payments.start()  # restarted, without the fault

        async def one_receipt() -> bool:
            return len(await _receipts(payments, dossier)) == 1

        await wait_for(one_receipt, timeout=40, what="the retried IPN settles it")
        # More callbacks and an early pass change nothing.
        await payments.sim("POST", f"/sim/transactions/{reference}/callbacks",
                           json={"callbacks": [{}, {}]})
        await payments.client.post("/v1/reconciliations/early", json={"older_than_s": 0},
                                   headers=payments.reconciler)
        assert len(await _receipts(payments, dossier)) == 1
        payment = (await payments.client.get(f"/v1/payments/{reference}",
                                             headers=payments.owner)).json()
        assert payment["status"] == "settled"
        assert (await payments.client.get("/v1/ledger/check",
                                          headers=payments.reconciler)).json()["ok"]
        await wait_for(lambda: _exactly(payments, "payment.settled", 1), what="one event")
        await wait_for(lambda: _exactly(payments, "receipt.issued", 1), what="one receipt event")

    async def test_crash_after_commit_before_publish(self, payments: Payments) -> None:
        dossier = "000.01.17.X-261122-0302"
        await payments.receive(dossier)
        never = asyncio.Event()

        async def stuck_relay(point: str, seqs: list[int]) -> None:
            if point == "before_publish":
                await never.wait()  # the process dies before the relay publishes

        await payments.stop()
        await payments.start(fault_hook=stuck_relay)
        reference = (await request_payment(payments, dossier))["reference"]
        await payments.sim("POST", f"/sim/transactions/{reference}/completion",
                           json={"outcome": "paid", "notify": False})
        sent = await payments.sim("POST", f"/sim/transactions/{reference}/callbacks",
                                  json={"callbacks": [{}]})
        assert sent["sent"][0]["body"]["outcome"] == "settled"
        assert await unpublished(payments.service) >= 3  # requested, settled, receipt, …
        await payments.stop()
        await payments.start()
        sent = await payments.sim("POST", f"/sim/transactions/{reference}/callbacks",
                                  json={"callbacks": [{}]})
        assert sent["sent"][0]["body"]["outcome"] == "duplicate"
        await wait_for(lambda: _exactly(payments, "payment.settled", 1), what="published once")
        await wait_for(lambda: _exactly(payments, "receipt.issued", 1), what="published once")
        assert len(await _receipts(payments, dossier)) == 1


async def _exactly(payments: Payments, suffix: str, n: int) -> bool:
    events = await _events(payments, suffix)
    assert len(events) <= n, f"{len(events)} {suffix} events"
    return len(events) == n
