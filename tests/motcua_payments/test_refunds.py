"""Withdrawal or refusal after payment produces a refund, with its receipt and event."""

from __future__ import annotations

import json

from motcua.contracts.intake import DossierRefusedV1
from motcua.db import utcnow
from motcua.testing import wait_for
from tests.e2e.helpers import stream_messages
from tests.motcua_payments.conftest import Payments
from tests.motcua_payments.test_callbacks import request_payment


async def refunds_of(payments: Payments, dossier: str) -> list[dict]:
    return (await payments.client.get("/v1/refunds", params={"dossier_code": dossier},
                                      headers=payments.desk)).json()


def _agency(payments: Payments) -> str:
    return payments.agency


class TestRefunds:
    async def test_withdrawal_after_cash_payment_refunds_it(self, payments: Payments) -> None:
        dossier = "000.01.17.X-261122-0101"
        await payments.receive(dossier)
        r = await payments.client.post("/v1/counter-payments", json={
            "dossier_code": dossier, "method": "cash", "amount_vnd": 50_000,
            "payer_name": "Nguyễn Văn An"}, headers={**payments.desk, "Idempotency-Key": "cash-1"})
        assert r.status_code == 201, r.text
        counter = r.json()
        assert counter["payment"]["status"] == "settled"
        assert counter["payment"]["online"] is False
        assert counter["receipt"]["number_text"] == "0000001"
        replay = await payments.client.post("/v1/counter-payments", json={
            "dossier_code": dossier, "method": "cash", "amount_vnd": 50_000,
            "payer_name": "Nguyễn Văn An"}, headers={**payments.desk, "Idempotency-Key": "cash-1"})
        assert replay.headers.get("Idempotent-Replayed") == "true"
        assert replay.json() == counter
        assessment = await payments.assessment(dossier)
        assert assessment["status"] == "settled" and assessment["paid_online"] is False

        await payments.withdraw(dossier, reason="không còn nhu cầu")

        async def owed() -> list[dict]:
            return await refunds_of(payments, dossier)

        [refund] = await wait_for(owed, what="refund owed")
        assert refund["status"] == "pending" and refund["amount_vnd"] == 50_000
        assert refund["reason"] == "withdrawn"
        ledger = (await payments.client.get("/v1/ledger/check",
                                            headers=payments.reconciler)).json()
        assert ledger["ok"], ledger  # a pending refund is not a violation

        r = await payments.client.post(f"/v1/refunds/{refund['id']}/completion", json={
            "method": "cash"}, headers={**payments.approver, "Idempotency-Key": "refund-1"})
        assert r.status_code == 200, r.text
        done = r.json()
        assert done["refund"]["status"] == "completed"
        assert done["refund"]["completed_by"] == payments.subjects["approver"]
        assert done["receipt"]["kind"] == "refund" and done["receipt"]["symbol"].startswith("HT")
        again = await payments.client.post(f"/v1/refunds/{refund['id']}/completion", json={
            "method": "transfer"}, headers=payments.approver)
        assert again.status_code == 409 and again.json()["code"] == "refund.not_pending"
        after = await payments.assessment(dossier)
        assert after["status"] == "released" and after["refunded_vnd"] == 50_000
        ledger = (await payments.client.get("/v1/ledger/check",
                                            headers=payments.reconciler)).json()
        assert ledger == {"checked": 1, "ok": True, "violations": []}

        async def refunded_event() -> list:
            return await stream_messages(payments.mesh.nats_url, payments.mesh.province,
                                         "payments", "payment.refunded")

        [message] = await wait_for(refunded_event, what="payment.refunded")
        data = json.loads(message.data)["data"]
        assert data["amount_vnd"] == 50_000 and data["reason"] == "withdrawn"
        settled = await stream_messages(payments.mesh.nats_url, payments.mesh.province,
                                        "payments", "payment.settled")
        cash = json.loads(settled[0].data)["data"]
        assert cash["paid_online"] is False and cash["online_payment_code"] == 0

    async def test_refusal_after_online_payment_and_late_payment_after_withdrawal(
            self, payments: Payments) -> None:
        paid, pending = "000.01.17.X-261122-0201", "000.01.17.X-261122-0202"
        for dossier in (paid, pending):
            await payments.receive(dossier)
        online = await request_payment(payments, paid)
        await payments.sim("POST", f"/sim/transactions/{online['reference']}/completion",
                           json={"outcome": "paid", "notify": False})
        sent = await payments.sim("POST", f"/sim/transactions/{online['reference']}/callbacks",
                                  json={"callbacks": [{}]})
        assert sent["sent"][0]["body"]["outcome"] == "settled"
        await payments.publish(DossierRefusedV1(
            dossier_code=paid, agency_code=_agency(payments), procedure_code="1.001193",
            status=3, occurred_at=utcnow(), reasons=["thiếu giấy tờ"]), key=paid)
        [refund] = await wait_for(lambda: refunds_of(payments, paid), what="refund")
        assert refund["reason"] == "refused" and refund["amount_vnd"] == 50_000

        # Withdrawn while a payment request is open: it is cancelled and nothing is owed …
        late = await request_payment(payments, pending)
        await payments.withdraw(pending)

        async def cancelled() -> bool:
            r = await payments.client.get(f"/v1/payments/{late['reference']}",
                                          headers=payments.owner)
            return r.json()["status"] == "cancelled"

        await wait_for(cancelled, what="pending request cancelled")
        assert await refunds_of(payments, pending) == []
        # … but if the citizen still pays at the gateway, the money is settled and owed back.
        await payments.sim("POST", f"/sim/transactions/{late['reference']}/completion",
                           json={"outcome": "paid", "notify": False})
        sent = await payments.sim("POST", f"/sim/transactions/{late['reference']}/callbacks",
                                  json={"callbacks": [{}]})
        assert sent["sent"][0]["body"]["outcome"] == "settled"
        [owed] = await refunds_of(payments, pending)
        assert owed["reason"] == "withdrawn" and owed["amount_vnd"] == 50_000
        ledger = (await payments.client.get("/v1/ledger/check",
                                            headers=payments.reconciler)).json()
        assert ledger["ok"], ledger
