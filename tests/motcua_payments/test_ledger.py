"""The ledger check finds what does not add up."""

from __future__ import annotations

from sqlalchemy import select, update

from motcua.db import utcnow
from motcua_payments.fees.models import Assessment
from motcua_payments.payments.models import Payment
from motcua_payments.receipts.models import Receipt
from tests.motcua_payments.conftest import Payments


class TestLedger:
    async def test_violations_are_reported_per_dossier(self, payments: Payments) -> None:
        for dossier in ("D-LEDGER-1", "D-LEDGER-2", "D-LEDGER-3"):
            await payments.receive(dossier)
            r = await payments.client.post("/v1/counter-payments", json={
                "dossier_code": dossier, "method": "transfer", "amount_vnd": 50_000,
                "transfer_reference": "FT123"}, headers=payments.desk)
            assert r.status_code == 201, r.text
        assert (await payments.client.get("/v1/ledger/check",
                                          headers=payments.reconciler)).json()["ok"]
        async with payments.service.runtime.sessions() as session, session.begin():
            # 1: its receipt vanished; 2: totals drifted; 3: paid twice, nothing owed back.
            await session.execute(update(Receipt).where(Receipt.dossier_code == "D-LEDGER-1")
                                  .values(status="cancelled", cancel_reason="test"))
            await session.execute(update(Assessment).where(
                Assessment.dossier_code == "D-LEDGER-2").values(settled_vnd=40_000))
            original = (await session.scalars(
                select(Payment).where(Payment.dossier_code == "D-LEDGER-3"))).one()
            session.add(Payment(
                id="dup-payment", reference="MCDUP", assessment_id=original.assessment_id,
                dossier_code="D-LEDGER-3", agency_code=original.agency_code, method="cash",
                amount_vnd=50_000, status="settled", requested_at=utcnow(), version=1))
        report = (await payments.client.get("/v1/ledger/check",
                                            headers=payments.reconciler)).json()
        assert report["ok"] is False and report["checked"] == 3
        found = {v["dossier_code"]: set(v["violations"]) for v in report["violations"]}
        assert found == {
            "D-LEDGER-1": {"ledger.payment_receipt_count"},
            "D-LEDGER-2": {"ledger.totals_drift"},
            "D-LEDGER-3": {"ledger.overcollected", "ledger.payment_receipt_count",
                           "ledger.totals_drift"},
        }
        one = (await payments.client.get("/v1/ledger/check", params={"dossier_code": "D-LEDGER-2"},
                                         headers=payments.auditor)).json()
        assert one["checked"] == 1 and not one["ok"]
