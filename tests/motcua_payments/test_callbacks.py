"""Callbacks are never trusted alone: one settlement and one receipt however many arrive."""

from __future__ import annotations

from typing import Any

from motcua.testing import wait_for
from tests.e2e.helpers import stream_messages
from tests.motcua_payments.conftest import Payments


async def request_payment(payments: Payments, dossier: str, *,
                          caller: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    """POST /v1/payments for a dossier as its owner (or ``caller``); assert 201."""
    r = await payments.client.post("/v1/payments", json={"dossier_code": dossier, **body},
                                   headers={**(caller or payments.owner),
                                            "Idempotency-Key": f"pay-{dossier}"})
    assert r.status_code == 201, r.text
    return r.json()


async def settled_events(payments: Payments) -> list[Any]:
    """payment.settled messages in the payments stream."""
    return await stream_messages(payments.mesh.nats_url, payments.mesh.province, "payments",
                                 "payment.settled")


class TestCallbackScenario:
    async def test_misbehaving_callbacks_end_with_one_receipt(self, payments: Payments) -> None:
        dossier = "000.01.17.X-261122-0001"
        assessment = await payments.receive(dossier)
        assert assessment["outstanding_vnd"] == 50_000
        assert assessment["pay_before_processing"] is True
        payment = await request_payment(payments, dossier)
        reference = payment["reference"]
        assert payment["payment_url"].startswith(payments.simulator.url + "/pay/")
        assert payment["status"] == "pending"

        # The citizen pays; the IPN is held back so the misbehaviour comes first.
        await payments.sim("POST", f"/sim/transactions/{reference}/completion",
                           json={"outcome": "paid", "notify": False})
        plan = [
            {"forge": True},                     # forged checksum
            {"amount_delta": 1_000},             # amount differs from the payment
            {"result": "failed"},                # out of order: a failure before the success
            {},                                  # genuine
            {},                                  # duplicate
            {},                                  # duplicate
            {"result": "failed"},                # out of order: a failure after the success
            {"transaction_id": "GD-FAKE"},       # wrong transaction id after settlement
        ]
        sent = (await payments.sim("POST", f"/sim/transactions/{reference}/callbacks",
                                   json={"callbacks": plan}))["sent"]
        statuses = [s["status"] for s in sent]
        assert statuses[0] == 403 and sent[0]["body"]["code"] == "callback.checksum_invalid"
        assert statuses[1] == 422 and sent[1]["body"]["code"] == "callback.amount_mismatch"
        # QUERY says paid, so even the early "failure" settles it.
        assert statuses[2] == 200 and sent[2]["body"]["outcome"] == "settled"
        assert [s["body"]["outcome"] for s in sent[3:7]] == ["duplicate", "duplicate",
                                                            "duplicate", "stale"]
        assert statuses[7] == 200
        # Late: one more after everything, sent in the background.
        await payments.sim("POST", f"/sim/transactions/{reference}/callbacks",
                           json={"callbacks": [{"delay_s": 0.2}], "wait": False})

        async def late_arrived() -> bool:
            r = await payments.client.get("/v1/gateway/callbacks",
                                          params={"reference": reference},
                                          headers=payments.auditor)
            return len(r.json()) == len(plan) + 1

        await wait_for(late_arrived, what="late callback")

        receipts = (await payments.client.get("/v1/receipts", params={"dossier_code": dossier},
                                              headers=payments.owner)).json()
        assert len(receipts) == 1 and receipts[0]["status"] == "issued"
        paid = (await payments.client.get(f"/v1/payments/{reference}",
                                          headers=payments.owner)).json()
        assert paid["status"] == "settled" and paid["online"] is True
        assert paid["gateway_transaction_id"]
        after = await payments.assessment(dossier)
        assert after["status"] == "settled" and after["paid_online"] is True
        assert after["outstanding_vnd"] == 0
        outcomes = sorted(c["outcome"] for c in (await payments.client.get(
            "/v1/gateway/callbacks", params={"reference": reference},
            headers=payments.reconciler)).json())
        assert outcomes == sorted(["forged", "amount_mismatch", "settled", "duplicate",
                                   "duplicate", "duplicate", "stale", "duplicate", "duplicate"])
        ledger = (await payments.client.get("/v1/ledger/check",
                                            headers=payments.reconciler)).json()
        assert ledger["ok"], ledger
        await wait_for(lambda: _count(payments, 1), what="one payment.settled event")

    async def test_forged_and_unknown_are_problems_and_recorded(self, payments: Payments) -> None:
        r = await payments.client.post("/v1/gateway/ipn", content=b"not json")
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "callback.malformed"
        r = await payments.client.post("/v1/gateway/ipn", json={
            "MaLenh": "IPN", "PhienBan": "1.0.6", "MaDoiTac": f"MC{payments.mesh.province}",
            "MaThamChieu": "MCNOPE", "MaGiaoDich": "X", "SoTien": 1, "MaLoi": "00",
            "ThoiGianGD": "20261122101010", "MaXacThuc": "0" * 64})
        assert r.status_code == 403 and r.json()["code"] == "callback.checksum_invalid"
        recorded = (await payments.client.get("/v1/gateway/callbacks",
                                              headers=payments.reconciler)).json()
        assert {c["outcome"] for c in recorded} == {"malformed", "forged"}
        # Neither names a payment of any agency: an agency's auditor does not see them.
        assert (await payments.client.get("/v1/gateway/callbacks",
                                          headers=payments.auditor)).json() == []


async def _count(payments: Payments, n: int) -> bool:
    return len(await settled_events(payments)) == n
