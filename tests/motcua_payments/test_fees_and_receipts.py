"""Fee assessment, payment requests' problems, receipts (series, PDF, QR, cancellation)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import httpx
from pypdf import PdfReader

from motcua.contracts.intake import FeeLine
from motcua_payments.receipts import service as receipts
from tests.e2e.helpers import stream_messages
from tests.motcua_payments.conftest import Payments
from tests.motcua_payments.test_callbacks import request_payment


def line(code: str, kind: str, amount: int | None, collect: str) -> FeeLine:
    return FeeLine(code=code, kind=kind, label_vi=f"Phí {code}", amount_vnd=amount,
                   collect=collect)  # type: ignore[arg-type]


class TestAssessment:
    async def test_exemptions_waivers_and_collection_time(self, payments: Payments) -> None:
        lines = [line("LP", "fee", 50_000, "before"), line("P1", "charge", 30_000, "after"),
                 line("P2", "charge", 10_000, "waived"), line("P3", "charge", None, "after")]
        poor = await payments.receive("D-EXEMPT-1", fees=lines, exemptions=["poor_household"])
        assert (poor["total_vnd"], poor["exempted_vnd"], poor["payable_vnd"]) == \
            (90_000, 80_000, 0)
        assert poor["status"] == "waived" and poor["collect"] == "none"
        assert poor["pay_before_processing"] is False and poor["unpriced_lines"] == 1
        assert poor["exemptions_applied"] == ["poor_household"]
        disabled = await payments.receive("D-EXEMPT-2", fees=lines,
                                          exemptions=["person_with_disability", "unknown"])
        assert disabled["payable_vnd"] == 30_000 and disabled["collect"] == "after"
        assert [x["exemption"] for x in disabled["lines"]] == [
            "person_with_disability", None, None, None]
        full = await payments.receive("D-EXEMPT-3", fees=lines)
        assert full["payable_vnd"] == 80_000 and full["collect"] == "before"
        assert full["pay_before_processing"] is True
        assessed = await stream_messages(payments.mesh.nats_url, payments.mesh.province,
                                         "payments", "assessment.assessed")
        by_dossier = {json.loads(m.data)["data"]["dossier_code"]: json.loads(m.data)["data"]
                      for m in assessed}
        assert by_dossier["D-EXEMPT-3"]["pay_before_processing"] is True
        assert by_dossier["D-EXEMPT-1"]["collect"] == "none"

    async def test_payment_request_problems(self, payments: Payments) -> None:
        owner = payments.owner
        r = await payments.client.post("/v1/payments", json={"dossier_code": "NOPE"},
                                       headers=owner)
        assert r.status_code == 404 and r.json()["code"] == "assessment.not_found"
        assert r.headers["content-type"].startswith("application/problem+json")
        await payments.receive("D-PROB-1")
        r = await payments.client.post("/v1/payments", json={"dossier_code": "D-PROB-1",
                                                             "amount_vnd": 49_999},
                                       headers=owner)
        assert r.status_code == 422 and r.json()["code"] == "payment.amount_mismatch"
        assert r.json()["errors"][0]["field"] == "amount_vnd"
        r = await payments.client.post("/v1/payments", json={"dossier_code": "D-PROB-1",
                                                             "amount_vnd": 500.5},
                                       headers=owner)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "amount_vnd"
        r = await payments.client.post("/v1/payments", json={"dossier_code": "D-PROB-1",
                                                             "surprise": 1}, headers=owner)
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "field.unknown"
        first = await request_payment(payments, "D-PROB-1")
        again = await payments.client.post("/v1/payments", json={"dossier_code": "D-PROB-1"},
                                           headers={**owner, "Idempotency-Key": "pay-D-PROB-1"})
        assert again.status_code == 201 and again.json()["reference"] == first["reference"]
        assert again.headers["Idempotent-Replayed"] == "true"
        other = await payments.client.post("/v1/payments", json={"dossier_code": "D-PROB-1"},
                                           headers=owner)
        assert other.status_code == 409 and other.json()["code"] == "payment.already_pending"
        assert other.json()["reference"] == first["reference"]
        # The acting person comes from the token: a body "actor" is refused.
        r = await payments.client.post(f"/v1/payments/{first['reference']}/cancellation",
                                       json={"reason": "x", "actor": "officer-1"},
                                       headers=owner)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "actor"
        r = await payments.client.post(f"/v1/payments/{first['reference']}/cancellation",
                                       json={"reason": "đổi phương thức"}, headers=owner)
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        r = await payments.client.post(f"/v1/payments/{first['reference']}/cancellation",
                                       json={"reason": "lần nữa"}, headers=payments.desk)
        assert r.status_code == 409 and r.json()["code"] == "payment.not_cancellable"
        r = await payments.client.post("/v1/counter-payments", json={
            "dossier_code": "D-PROB-1", "method": "cheque", "amount_vnd": 50_000},
            headers=payments.desk)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "method"
        # Nothing was half-written by the refused requests.
        payments_of = (await payments.client.get("/v1/payments",
                                                 params={"dossier_code": "D-PROB-1"},
                                                 headers=owner)).json()
        assert [p["status"] for p in payments_of] == ["cancelled"]

    async def test_gateway_down_writes_nothing(self, payments: Payments) -> None:
        await payments.receive("D-DOWN-1")
        ctx = payments.service.app.state.payments
        gateway = ctx.gateway.inner  # the national platform's adapter, behind its guard
        real = gateway._http
        gateway._http = httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=1)
        try:
            r = await payments.client.post("/v1/payments", json={"dossier_code": "D-DOWN-1"},
                                           headers=payments.owner)
        finally:
            await gateway._http.aclose()
            gateway._http = real
        assert r.status_code == 502 and r.json()["code"] == "gateway.unavailable"
        assert (await payments.client.get("/v1/payments", params={"dossier_code": "D-DOWN-1"},
                                          headers=payments.owner)).json() == []
        assert (await request_payment(payments, "D-DOWN-1"))["status"] == "pending"


class TestReceipts:
    async def test_page_payment_receipt_pdf_qr_and_cancellation(self,
                                                                payments: Payments) -> None:
        dossier = "000.01.17.X-261122-0401"
        await payments.receive(dossier)
        payment = await request_payment(payments, dossier, payer_name="Trần Thị Bích Ngọc")
        async with httpx.AsyncClient(timeout=30, follow_redirects=False) as browser:
            page = await browser.get(payment["payment_url"])
            assert page.status_code == 200 and "50.000 VND" in page.text
            back = await browser.post(payment["payment_url"], data={"action": "pay"})
            assert back.status_code == 303
            returned = await browser.get(back.headers["location"])  # the browser return
        assert returned.status_code == 200, returned.text
        assert returned.json()["outcome"] in {"settled", "duplicate"}
        [receipt] = (await payments.client.get("/v1/receipts", params={"dossier_code": dossier},
                                               headers=payments.owner)).json()
        assert receipt["symbol"] == f"BL{datetime.now(UTC).year % 100:02d}E"
        r = await payments.client.get(f"/v1/receipts/{receipt['id']}/pdf",
                                      headers=payments.owner)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        text = PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
        for words in ("BIÊN LAI THU PHÍ, LỆ PHÍ", "Trần Thị Bích Ngọc", "Lệ phí đăng ký khai sinh",
                      "50.000 đồng", receipt["number_text"]):
            assert words in text, words
        verified = await payments.client.get(  # public: the QR code, no token
            f"/v1/receipts/verification/{receipt['verification_code']}")
        assert verified.status_code == 200
        printed = {k: receipt[k] for k in ("symbol", "number_text", "amount_vnd", "status",
                                           "agency_code", "template")}
        assert {k: verified.json()[k] for k in printed} == printed
        bill = await payments.client.get(f"/v1/payments/{payment['reference']}/gateway-bill",
                                         headers=payments.owner)
        assert bill.status_code == 200 and bill.content.startswith(b"%PDF")

        r = await payments.client.post(f"/v1/receipts/{receipt['id']}/cancellation", json={
            "reason": "sai tên người nộp", "replace": True}, headers=payments.approver)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["cancelled"]["status"] == "cancelled"
        assert body["cancelled"]["cancelled_by"] == payments.subjects["approver"]
        assert body["replacement"]["number_text"] == "0000002"
        assert body["replacement"]["replaces_id"] == receipt["id"]
        r = await payments.client.post(f"/v1/receipts/{receipt['id']}/cancellation", json={
            "reason": "again"}, headers=payments.approver)
        assert r.status_code == 409 and r.json()["code"] == "receipt.already_cancelled"
        verified = await payments.client.get(
            f"/v1/receipts/verification/{receipt['verification_code']}")
        assert verified.json()["status"] == "cancelled"
        assert (await payments.client.get("/v1/ledger/check",
                                          headers=payments.reconciler)).json()["ok"]

    async def test_series_per_agency_resets_each_year(self, payments: Payments) -> None:
        await payments.receive("D-SERIES-1")
        ctx = payments.service.app.state.payments
        async with payments.service.runtime.sessions() as session, session.begin():
            from motcua_payments.fees.service import get_by_dossier

            assessment = await get_by_dossier(session, "D-SERIES-1")
            numbers = []
            for year in (2026, 2026, 2027, 2026):
                r = await receipts.issue(session, ctx, kind="payment", assessment=assessment,
                                         amount_vnd=1, method="cash", lines=[],
                                         at=datetime(year, 6, 1, tzinfo=UTC))
                numbers.append((r.symbol, r.number))
        assert numbers == [("BL26E", 1), ("BL26E", 2), ("BL27E", 1), ("BL26E", 3)]
