"""Who may call what (docs/payments.md): every route declares its callers, citizens see
only their own dossiers, officers only their agencies with the right role there, services
by scope, and the gateway callbacks and receipt verification stay public."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select

from motcua.auth import access_of, api_routes, owner_ref, undeclared_routes
from motcua.contracts.intake import DossierReceivedV1
from motcua.db import utcnow
from motcua.testing import wait_for
from motcua_payments.fees.models import Assessment
from motcua_payments.main import create_app
from motcua_payments.payments.models import Payment
from tests.e2e.helpers import stream_messages
from tests.motcua_payments.conftest import OWNER_PID, Payments
from tests.motcua_payments.test_callbacks import request_payment

OTHER_PID = "001190009876"


def _problem(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code, r.json()


def _agency_b(payments: Payments) -> str:
    return f"000.02.17.{payments.mesh.province}"


async def _counter(payments: Payments, dossier: str, desk: dict[str, str]) -> dict[str, Any]:
    r = await payments.client.post("/v1/counter-payments", json={
        "dossier_code": dossier, "method": "cash", "amount_vnd": 50_000}, headers=desk)
    assert r.status_code == 201, r.text
    return r.json()


class TestDeclarations:
    def test_every_route_declares_its_callers(self) -> None:
        app = create_app()
        assert undeclared_routes(app) == []
        public = sorted(f"{','.join(sorted(r.methods))} {r.path}" for r in api_routes(app)
                        if access_of(r) == "public")
        assert public == ["GET /v1/gateway/return", "GET /v1/receipts/verification/{code}",
                          "POST /v1/gateway/ipn"]


class TestAuthentication:
    async def test_every_protected_route_answers_401_without_a_valid_token(
            self, payments: Payments) -> None:
        protected = [r for r in api_routes(payments.service.app)
                     if access_of(r) == "protected"]
        assert len(protected) >= 18
        expired = payments.mesh.mint.bearer(payments.mesh.mint.token(
            "officer", ttl_s=-300, agencies={payments.agency: ["auditor"]}))
        for route in protected:
            path = re.sub(r"\{[^}]+\}", "2026-11-20", route.path)
            for method in route.methods:
                r = await payments.client.request(method, path)
                _problem(r, 401, "auth.token_missing")
                assert r.headers["www-authenticate"].startswith("Bearer")
                r = await payments.client.request(method, path,
                                                  headers={"authorization": "Bearer nope"})
                _problem(r, 401, "auth.token_invalid")
                r = await payments.client.request(method, path, headers=expired)
                _problem(r, 401, "auth.token_expired")

    async def test_gateway_callbacks_and_receipt_verification_stay_public(
            self, payments: Payments) -> None:
        dossier = "000.01.17.X-261122-0901"
        await payments.receive(dossier)
        receipt = (await _counter(payments, dossier, payments.desk))["receipt"]
        # No token at all: the callbacks are judged by their checksum, not refused as 401.
        r = await payments.client.post("/v1/gateway/ipn", content=b"not json")
        _problem(r, 400, "callback.malformed")
        r = await payments.client.get("/v1/gateway/return", params={
            "MaLenh": "RETURN", "PhienBan": "1.0.6", "MaDoiTac": f"MC{payments.mesh.province}",
            "MaThamChieu": "MCNOPE", "MaGiaoDich": "X", "SoTien": "1", "MaLoi": "00",
            "ThoiGianGD": "20261122101010", "MaXacThuc": "0" * 64})
        _problem(r, 403, "callback.checksum_invalid")
        # The QR code: public and minimal (no dossier, payer, payment or officer).
        r = await payments.client.get(f"/v1/receipts/verification/{receipt['verification_code']}")
        assert r.status_code == 200
        shown = r.json()
        assert shown["number_text"] == receipt["number_text"]
        assert shown["amount_vnd"] == 50_000 and shown["status"] == "issued"
        assert set(shown) == {"kind", "agency_code", "template", "symbol", "number_text",
                              "amount_vnd", "issued_at", "status", "cancelled_at"}
        r = await payments.client.get("/v1/receipts/verification/" + "0" * 32)
        _problem(r, 404, "receipt.not_found")


class TestCitizens:
    async def test_the_owner_sees_and_pays_another_citizen_gets_404(
            self, payments: Payments) -> None:
        dossier = "000.01.17.X-261122-0902"
        await payments.receive(dossier)
        owner = payments.owner
        other = payments.mesh.mint.citizen(OTHER_PID, subject="acct-other")
        r = await payments.client.get(f"/v1/assessments/{dossier}", headers=owner)
        assert r.status_code == 200 and r.json()["outstanding_vnd"] == 50_000
        # Another citizen gets exactly what an unknown dossier gets.
        mine = await payments.client.get(f"/v1/assessments/{dossier}", headers=other)
        unknown = await payments.client.get("/v1/assessments/000.01.17.X-261122-9999",
                                            headers=other)
        _problem(mine, 404, "assessment.not_found")
        _problem(unknown, 404, "assessment.not_found")
        r = await payments.client.post("/v1/payments", json={"dossier_code": dossier},
                                       headers=other)
        _problem(r, 404, "assessment.not_found")

        payment = await request_payment(payments, dossier)  # the owner
        assert payment["status"] == "pending"
        reference = payment["reference"]
        async with payments.service.runtime.sessions() as session:
            actor = await session.scalar(select(Payment.actor).where(
                Payment.reference == reference))
        assert actor == payments.subjects["owner"]
        r = await payments.client.get(f"/v1/payments/{reference}", headers=owner)
        assert r.status_code == 200 and r.json()["reference"] == reference
        assert [p["reference"] for p in (await payments.client.get(
            "/v1/payments", params={"dossier_code": dossier}, headers=owner)).json()] == \
            [reference]
        _problem(await payments.client.get(f"/v1/payments/{reference}", headers=other),
                 404, "payment.not_found")
        assert (await payments.client.get("/v1/payments", params={"dossier_code": dossier},
                                          headers=other)).json() == []
        _problem(await payments.client.get(f"/v1/payments/{reference}/gateway-bill",
                                           headers=other), 404, "payment.not_found")
        r = await payments.client.post(f"/v1/payments/{reference}/cancellation",
                                       json={"reason": "không phải của tôi"}, headers=other)
        _problem(r, 404, "payment.not_found")
        # The owner cancels; the acting person on record and in the event is the token's.
        r = await payments.client.post(f"/v1/payments/{reference}/cancellation",
                                       json={"reason": "nộp tại quầy"}, headers=owner)
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        [event] = await stream_messages(payments.mesh.nats_url, payments.mesh.province,
                                        "payments", "payment.cancelled")
        assert json.loads(event.data)["data"]["actor"] == payments.subjects["owner"]

        receipt = (await _counter(payments, dossier, payments.desk))["receipt"]
        for path in (f"/v1/receipts/{receipt['id']}", f"/v1/receipts/{receipt['id']}/pdf"):
            assert (await payments.client.get(path, headers=owner)).status_code == 200
            _problem(await payments.client.get(path, headers=other), 404, "receipt.not_found")
        assert [x["id"] for x in (await payments.client.get(
            "/v1/receipts", params={"dossier_code": dossier}, headers=owner)).json()] == \
            [receipt["id"]]
        assert (await payments.client.get("/v1/receipts", params={"dossier_code": dossier},
                                          headers=other)).json() == []
        # Citizens do not act as the desk, cancel receipts or see refunds and audits.
        for method, path, body in [
                ("POST", "/v1/counter-payments",
                 {"dossier_code": dossier, "method": "cash", "amount_vnd": 1}),
                ("POST", f"/v1/receipts/{receipt['id']}/cancellation", {"reason": "x"}),
                ("GET", f"/v1/refunds?dossier_code={dossier}", None),
                ("GET", "/v1/ledger/check", None),
                ("GET", "/v1/gateway/callbacks", None),
                ("POST", "/v1/reconciliations/early", {})]:
            r = await payments.client.request(method, path, json=body, headers=owner)
            _problem(r, 403, "auth.forbidden")

    async def test_an_organisations_dossier_is_no_citizens(self, payments: Payments) -> None:
        dossier = "000.01.17.X-261122-0903"
        await payments.receive(dossier, owner_pid=None)
        r = await payments.client.get(f"/v1/assessments/{dossier}", headers=payments.owner)
        _problem(r, 404, "assessment.not_found")
        r = await payments.client.get(f"/v1/assessments/{dossier}", headers=payments.desk)
        assert r.status_code == 200


class TestOwnerRef:
    async def test_owner_ref_is_stored_from_the_event_never_the_number(
            self, payments: Payments) -> None:
        await payments.receive("D-OWNER-1")
        key = payments.service.settings.resolved_owner_ref_key()
        async with payments.service.runtime.sessions() as session:
            stored = await session.scalar(select(Assessment.owner_ref).where(
                Assessment.dossier_code == "D-OWNER-1"))
        assert stored == owner_ref(OWNER_PID, key) and OWNER_PID not in stored

        # A dossier first received without it gets it from a later reception event.
        await payments.receive("D-OWNER-2", owner_pid=None)
        assert (await payments.client.get("/v1/assessments/D-OWNER-2",
                                          headers=payments.owner)).status_code == 404
        now = utcnow()
        await payments.publish(DossierReceivedV1(
            dossier_code="D-OWNER-2", agency_code=payments.agency, procedure_code="1.001193",
            status=2, occurred_at=now, channel="online", received_at=now, due_at=now,
            statutory_time={"amount": 3, "unit": "working_days"},
            owner_ref=payments.owner_ref()), key="D-OWNER-2")

        async def visible() -> bool:
            r = await payments.client.get("/v1/assessments/D-OWNER-2", headers=payments.owner)
            return r.status_code == 200

        await wait_for(visible, what="owner reference stored from the replayed event")


class TestOfficers:
    async def test_officers_act_only_in_their_agency_with_the_right_role(
            self, payments: Payments) -> None:
        mint = payments.mesh.mint
        a, b = payments.agency, _agency_b(payments)
        dossier_b = f"{b}-261122-0001"
        await payments.receive(dossier_b, agency=b)
        desk_b = mint.officer(b, "receptionist", subject="desk-b")
        paid = await _counter(payments, dossier_b, desk_b)
        receipt_b, reference_b = paid["receipt"]["id"], paid["payment"]["reference"]
        async with payments.service.runtime.sessions() as session:
            actor = await session.scalar(select(Payment.actor).where(
                Payment.reference == reference_b))
        assert actor == "desk-b"

        # Every role in agency A, none in B: 403 auth.agency_forbidden on B's records.
        officer_a = mint.officer(a)
        for method, path, body in [
                ("GET", f"/v1/assessments/{dossier_b}", None),
                ("GET", f"/v1/payments?dossier_code={dossier_b}", None),
                ("GET", f"/v1/payments/{reference_b}", None),
                ("POST", f"/v1/payments/{reference_b}/cancellation", {"reason": "x"}),
                ("POST", "/v1/payments", {"dossier_code": dossier_b}),
                ("POST", "/v1/counter-payments",
                 {"dossier_code": dossier_b, "method": "cash", "amount_vnd": 50_000}),
                ("GET", f"/v1/receipts?dossier_code={dossier_b}", None),
                ("GET", f"/v1/receipts/{receipt_b}", None),
                ("GET", f"/v1/receipts/{receipt_b}/pdf", None),
                ("POST", f"/v1/receipts/{receipt_b}/cancellation", {"reason": "x"}),
                ("GET", f"/v1/refunds?dossier_code={dossier_b}", None),
                ("GET", f"/v1/ledger/check?dossier_code={dossier_b}", None),
                ("GET", f"/v1/ledger/check?agency_code={b}", None),
                ("GET", f"/v1/gateway/callbacks?agency_code={b}", None)]:
            r = await payments.client.request(method, path, json=body, headers=officer_a)
            _problem(r, 403, "auth.agency_forbidden")
        # The right role, but in the other agency: approver in A, receptionist only in B.
        split = mint.officer({a: ["receptionist"], b: ["approver", "auditor"]})
        r = await payments.client.post("/v1/counter-payments", json={
            "dossier_code": dossier_b, "method": "cash", "amount_vnd": 50_000}, headers=split)
        _problem(r, 403, "auth.agency_forbidden")
        # Wrong role anywhere: 403 auth.forbidden.
        for caller, method, path, body in [
                (mint.officer(b, "processor"), "POST", "/v1/counter-payments",
                 {"dossier_code": dossier_b, "method": "cash", "amount_vnd": 50_000}),
                (mint.officer(b, "processor", "auditor"), "POST", "/v1/payments",
                 {"dossier_code": dossier_b}),
                (desk_b, "POST", f"/v1/receipts/{receipt_b}/cancellation", {"reason": "x"}),
                (mint.officer(b, "auditor"), "POST", f"/v1/payments/{reference_b}/cancellation",
                 {"reason": "x"}),
                (desk_b, "GET", "/v1/ledger/check", None),
                (desk_b, "GET", "/v1/gateway/callbacks", None),
                (payments.reader, "POST", "/v1/counter-payments",
                 {"dossier_code": dossier_b, "method": "cash", "amount_vnd": 50_000}),
                (payments.reader, "GET", "/v1/ledger/check", None),
                (payments.reconciler, "GET", f"/v1/assessments/{dossier_b}", None),
                (mint.service("metrics"), "GET", f"/v1/receipts/{receipt_b}", None)]:
            r = await payments.client.request(method, path, json=body, headers=caller)
            _problem(r, 403, "auth.forbidden")

        # B's officers with the right roles may: cancel the receipt (approver) …
        r = await payments.client.post(f"/v1/receipts/{receipt_b}/cancellation",
                                       json={"reason": "sai số tiền"},
                                       headers=mint.officer(b, "approver", subject="appr-b"))
        assert r.status_code == 200 and r.json()["cancelled"]["cancelled_by"] == "appr-b"
        # … read it (any role of the issuing agency), and services with payments.read too.
        for caller in (mint.officer(b, "processor"), payments.reader):
            assert (await payments.client.get(f"/v1/receipts/{receipt_b}",
                                              headers=caller)).status_code == 200
            assert (await payments.client.get(f"/v1/assessments/{dossier_b}",
                                              headers=caller)).status_code == 200

    async def test_a_receptionist_starts_an_online_payment_for_the_citizen(
            self, payments: Payments) -> None:
        dossier = "000.01.17.X-261122-0904"
        await payments.receive(dossier)
        payment = await request_payment(payments, dossier, caller=payments.desk)
        assert payment["payment_url"].startswith(payments.simulator.url + "/pay/")
        async with payments.service.runtime.sessions() as session:
            actor = await session.scalar(select(Payment.actor).where(
                Payment.reference == payment["reference"]))
        assert actor == payments.subjects["desk"]
        # The citizen sees it as theirs.
        r = await payments.client.get(f"/v1/payments/{payment['reference']}",
                                      headers=payments.owner)
        assert r.status_code == 200 and r.json()["status"] == "pending"

    async def test_refunds_are_completed_by_an_approver_of_the_agency(
            self, payments: Payments) -> None:
        mint = payments.mesh.mint
        b = _agency_b(payments)
        dossier = f"{b}-261122-0002"
        await payments.receive(dossier, agency=b)
        await _counter(payments, dossier, mint.officer(b, "receptionist"))
        await payments.withdraw(dossier, agency=b)
        reader_b = mint.officer(b, "processor")

        async def owed() -> list[dict[str, Any]]:
            return (await payments.client.get("/v1/refunds", params={"dossier_code": dossier},
                                              headers=reader_b)).json()

        [refund] = await wait_for(owed, what="refund owed")
        path = f"/v1/refunds/{refund['id']}"
        assert (await payments.client.get(path, headers=payments.reader)).status_code == 200
        _problem(await payments.client.get(path, headers=payments.approver), 403,
                 "auth.agency_forbidden")  # approver of agency A
        _problem(await payments.client.post(f"{path}/completion", json={"method": "cash"},
                                            headers=payments.approver),
                 403, "auth.agency_forbidden")
        _problem(await payments.client.post(f"{path}/completion", json={"method": "cash"},
                                            headers=mint.officer(b, "receptionist")),
                 403, "auth.forbidden")
        _problem(await payments.client.get(path, headers=payments.owner), 403, "auth.forbidden")
        r = await payments.client.post(f"{path}/completion", json={"method": "cash"},
                                       headers=mint.officer(b, "approver", subject="appr-b"))
        assert r.status_code == 200 and r.json()["refund"]["completed_by"] == "appr-b"


class TestAudit:
    async def test_audit_views_are_filtered_to_the_auditors_agencies(
            self, payments: Payments) -> None:
        mint = payments.mesh.mint
        a, b = payments.agency, _agency_b(payments)
        await payments.receive("D-AUDIT-A")
        await payments.receive(f"{b}-261122-0003", agency=b)
        online_a = await request_payment(payments, "D-AUDIT-A")
        # A genuine-looking but forged IPN for A's payment: recorded against A's reference.
        r = await payments.client.post("/v1/gateway/ipn", json={
            "MaLenh": "IPN", "PhienBan": "1.0.6", "MaDoiTac": f"MC{payments.mesh.province}",
            "MaThamChieu": online_a["reference"], "MaGiaoDich": "X", "SoTien": 50_000,
            "MaLoi": "00", "ThoiGianGD": "20261122101010", "MaXacThuc": "0" * 64})
        _problem(r, 403, "callback.checksum_invalid")
        await payments.client.post("/v1/gateway/ipn", content=b"{")  # no agency at all

        ledger_a = (await payments.client.get("/v1/ledger/check",
                                              headers=payments.auditor)).json()
        assert ledger_a["checked"] == 1  # only agency A's dossier
        ledger_all = (await payments.client.get("/v1/ledger/check",
                                                headers=payments.reconciler)).json()
        assert ledger_all["checked"] == 2
        both = mint.officer({a: ["auditor"], b: ["agency_admin"]})
        assert (await payments.client.get("/v1/ledger/check", headers=both)).json()[
            "checked"] == 2
        assert (await payments.client.get("/v1/ledger/check", params={"agency_code": b},
                                          headers=both)).json()["checked"] == 1

        seen_a = (await payments.client.get("/v1/gateway/callbacks",
                                            headers=payments.auditor)).json()
        assert [c["reference"] for c in seen_a] == [online_a["reference"]]
        assert (await payments.client.get("/v1/gateway/callbacks",
                                          headers=mint.officer(b, "agency_admin"))).json() == []
        assert len((await payments.client.get("/v1/gateway/callbacks",
                                               headers=payments.reconciler)).json()) == 2

    async def test_reconciliation_is_province_wide(self, payments: Payments) -> None:
        mint = payments.mesh.mint
        finance = f"000.00.11.{payments.mesh.province}"
        early = ("POST", "/v1/reconciliations/early", {"older_than_s": 0})
        report = ("GET", "/v1/reconciliations/statements/2026-01-01", None)
        for method, path, body in (early, report):
            # An agency's auditor may not reconcile the province's collections account …
            r = await payments.client.request(method, path, json=body, headers=payments.auditor)
            _problem(r, 403, "auth.agency_forbidden")
            # … nor a reader service.
            r = await payments.client.request(method, path, json=body, headers=payments.reader)
            _problem(r, 403, "auth.forbidden")
        r = await payments.client.post("/v1/reconciliations/early", json={"older_than_s": 0},
                                       headers=payments.reconciler)
        assert r.status_code == 200 and r.json()["checked"] == 0
        await payments.stop()
        payments.mesh.overrides["oversight_agencies"] = [finance]
        await payments.start()
        overseer = mint.officer(finance, "auditor")
        r = await payments.client.post("/v1/reconciliations/early", json={"older_than_s": 0},
                                       headers=overseer)
        assert r.status_code == 200
        r = await payments.client.get("/v1/reconciliations/statements/2026-01-01",
                                      headers=overseer)
        _problem(r, 404, "reconciliation.not_found")  # allowed; nothing reconciled that day
        # A receptionist of the oversight agency is still not an auditor.
        r = await payments.client.post("/v1/reconciliations/early", json={"older_than_s": 0},
                                       headers=mint.officer(finance, "receptionist"))
        _problem(r, 403, "auth.forbidden")
