"""Early reconciliation settles what callbacks missed; the daily statement finds every
discrepancy injected into the simulator's statement."""

from __future__ import annotations

import asyncio

from motcua.testing import wait_for
from tests.e2e.helpers import stream_messages
from tests.motcua_payments.conftest import Payments
from tests.motcua_payments.test_callbacks import request_payment

DAY, DAY_ISO = "20261120", "2026-11-20"


class TestReconciliation:
    async def test_statement_discrepancies_are_all_found(self, payments: Payments) -> None:
        refs = {}
        for name in "ABCDE":
            dossier = f"000.01.17.X-261120-000{'ABCDE'.index(name) + 1}"
            await payments.receive(dossier)
            refs[name] = (await request_payment(payments, dossier))["reference"]
        for i, name in enumerate("ABCD"):
            await payments.sim("POST", f"/sim/transactions/{refs[name]}/completion",
                               json={"outcome": "paid", "notify": False,
                                     "paid_at": f"{DAY}10000{i}"})
        # No callback came: the early job QUERYs. Two replicas at once settle each once.
        results = await asyncio.gather(*[
            payments.client.post("/v1/reconciliations/early", json={"older_than_s": 0},
                                 headers=payments.reconciler)
            for _ in range(2)])
        assert all(r.status_code == 200 for r in results), [r.text for r in results]
        assert sum(r.json()["settled"] for r in results) == 4
        for name in "ABCD":
            p = (await payments.client.get(f"/v1/payments/{refs[name]}",
                                           headers=payments.owner)).json()
            assert p["status"] == "settled" and p["settled_via"] == "reconciliation"
        # E is paid at the gateway after our last look: it is missing on our side.
        await payments.sim("POST", f"/sim/transactions/{refs['E']}/completion",
                           json={"outcome": "paid", "notify": False, "paid_at": f"{DAY}110000"})
        await payments.sim("PUT", f"/sim/statements/{DAY}/tampering", json={
            "drop": [refs["A"]],
            "alter": {refs["B"]: {"SoTien": 49_000}, refs["C"]: {"MaGiaoDich": "GD-OTHER"}},
            "add": [{"MaThamChieu": "MCPHANTOM", "MaGiaoDich": "GD-PHANTOM", "SoTien": 70_000,
                     "ThoiGianGD": f"{DAY}120000"}]})

        r = await payments.client.post("/v1/reconciliations/statements", json={"date": DAY_ISO},
                                       headers=payments.reconciler)
        assert r.status_code == 200, r.text
        report = r.json()
        found = {(i["category"], i["reference"]) for i in report["items"]}
        assert found == {("matched", refs["D"]), ("missing_theirs", refs["A"]),
                         ("mismatched", refs["B"]), ("mismatched", refs["C"]),
                         ("missing_ours", refs["E"]), ("missing_ours", "MCPHANTOM")}
        assert (report["matched"], report["missing_ours"], report["missing_theirs"],
                report["mismatched"]) == (1, 2, 1, 2)
        by_ref = {i["reference"]: i for i in report["items"]}
        assert by_ref[refs["B"]]["their_amount_vnd"] == 49_000
        assert by_ref[refs["B"]]["our_amount_vnd"] == 50_000
        assert by_ref[refs["C"]]["their_transaction_id"] == "GD-OTHER"

        # Asking again answers the same run; concurrent reruns never both run it.
        again = (await payments.client.post("/v1/reconciliations/statements",
                                             json={"date": DAY_ISO},
                                             headers=payments.reconciler)).json()
        assert again["id"] == report["id"] and again["attempts"] == 1
        reruns = await asyncio.gather(*[payments.client.post(
            "/v1/reconciliations/statements", json={"date": DAY_ISO, "rerun": True},
            headers=payments.reconciler) for _ in range(2)])
        assert {r.status_code for r in reruns} <= {200, 409}
        assert 200 in {r.status_code for r in reruns}
        final = (await payments.client.get(f"/v1/reconciliations/statements/{DAY_ISO}",
                                           headers=payments.reconciler)).json()
        assert final["status"] == "completed" and len(final["items"]) == 6

        async def completed_events() -> bool:
            msgs = await stream_messages(payments.mesh.nats_url, payments.mesh.province,
                                         "payments", "reconciliation.completed")
            return len(msgs) >= 2

        await wait_for(completed_events, what="reconciliation.completed events")

    async def test_unreconciled_day_is_a_problem(self, payments: Payments) -> None:
        r = await payments.client.get("/v1/reconciliations/statements/2026-01-01",
                                      headers=payments.reconciler)
        assert r.status_code == 404
        assert r.json()["code"] == "reconciliation.not_found"


class TestReconciliationLoop:
    async def test_loop_settles_pending_and_reconciles_yesterday(self,
                                                                 payments: Payments) -> None:
        from datetime import timedelta

        from motcua.db import utcnow
        from motcua_payments.gateway.wire import BUSINESS_TZ

        await payments.stop()
        payments.mesh.overrides.update(early_reconcile_after_s=0, reconcile_poll_s=0.1,
                                       daily_reconcile_at="00:00")
        await payments.start(reconcile=True)
        await payments.receive("D-LOOP-1")
        reference = (await request_payment(payments, "D-LOOP-1"))["reference"]
        await payments.sim("POST", f"/sim/transactions/{reference}/completion",
                           json={"outcome": "paid", "notify": False})

        async def settled() -> bool:
            r = await payments.client.get(f"/v1/payments/{reference}", headers=payments.owner)
            return r.json()["status"] == "settled"

        await wait_for(settled, what="the loop's early QUERY settles it")
        yesterday = (utcnow().astimezone(BUSINESS_TZ) - timedelta(days=1)).date()

        async def reconciled() -> bool:
            r = await payments.client.get(f"/v1/reconciliations/statements/{yesterday}",
                                          headers=payments.reconciler)
            return r.status_code == 200 and r.json()["status"] == "completed"

        await wait_for(reconciled, what="yesterday's statement reconciled by the loop")
