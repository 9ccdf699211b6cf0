"""HTTP conventions: problem+json for every client error, idempotency, operations endpoints."""

from __future__ import annotations

import asyncio
import json
from unittest.mock import ANY

import pytest

from motcua.db import outbox_table
from motcua.testing import Mesh
from motcua_intake.dossiers.models import Dossier
from tests.e2e.helpers import DOSSIER_EVENTS, agency, dossier_body, start_slice, table_count

PROBLEM = "application/problem+json"


async def _nothing_written(intake) -> None:
    assert await table_count(intake, Dossier.__table__) == 0
    assert await table_count(intake, outbox_table,
                             outbox_table.c.event_type.like(DOSSIER_EVENTS)) == 0


class TestProblems:
    async def test_malformed_json(self, mesh: Mesh) -> None:
        """Not JSON, and JSON text that is not UTF-8 (FastAPI's own answer to that was a
        generic 400 http.bad_request)."""
        intake = (await start_slice(mesh, "intake"))["intake"]
        for content in (b'{"procedure_code": ', b'{"procedure_code": "\xff"}'):
            r = await intake.client.post("/v1/dossiers", content=content,
                                         headers={"content-type": "application/json"})
            assert r.status_code == 400
            assert r.headers["content-type"] == PROBLEM
            assert r.json()["code"] == "request.malformed_json"
        await _nothing_written(intake)

    async def test_unknown_query_parameters_are_refused_by_name(self, mesh: Mesh) -> None:
        intake = (await start_slice(mesh, "intake"))["intake"]
        r = await intake.client.get("/v1/dossiers", params={"statuss": 2, "status": 2,
                                                            "agencyy": "x"})
        assert r.status_code == 422
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["code"] == "request.validation_failed"
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [
            ("query.agencyy", "field.unknown"), ("query.statuss", "field.unknown")]
        # A date-time is ISO 8601, not a number pydantic would read as Unix time.
        r = await intake.client.get("/v1/dossiers", params={"submitted_from": "-1.5e-130"})
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "query.submitted_from"
        # Declared ones, including a dependency's (the cursor of the page), still pass.
        r = await intake.client.get("/v1/dossiers", params={"status": 2, "limit": 5})
        assert r.status_code == 200, r.text

    async def test_nul_characters_are_refused_wherever_they_are_sent(self, mesh: Mesh
                                                                     ) -> None:
        """PostgreSQL cannot store U+0000 in text: refused at the door on both backends
        (it was a 500 on PostgreSQL, and a poison event for a PostgreSQL consumer)."""
        intake = (await start_slice(mesh, "intake"))["intake"]
        body = dossier_body(agency(mesh))
        body["applicant"]["full_name"] = "Nguyễn\u0000An"
        r = await intake.client.post("/v1/dossiers", json=body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == PROBLEM
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [
            ("body", "field.nul_character")]
        r = await intake.client.get("/v1/dossiers", params={"procedure": "1.0\u0000"})
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [
            ("query", "field.nul_character")]
        r = await intake.client.get("/v1/dossiers/X%00Y")
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [
            ("path", "field.nul_character")]
        # Whatever the spelling of the media type, and in a UTF-16 body (json.loads reads
        # one; its raw NUL bytes are refused too).
        text = json.dumps(body | {"applicant": body["applicant"] | {"full_name": "A\u0000"}})
        for content, kind in ((text.encode(), "Application/JSON; charset=utf-8"),
                              (text.encode("utf-16"), "application/json")):
            r = await intake.client.post("/v1/dossiers", content=content,
                                         headers={"content-type": kind})
            assert r.status_code == 422, (kind, r.text)
            assert r.json()["errors"] == [{"field": "body", "code": "field.nul_character",
                                           "message": ANY}], kind
        # A form's text fields (the citizen's tracking form), urlencoded or multipart.
        for encoded in ({"data": {"code": "X\u0000", "factor": "0000"}},
                        {"data": {"code": "X\u0000", "factor": "0000"},
                         "files": {"unused": ("a.txt", b"\x00")}}):
            r = await intake.client.post("/tracking", **encoded)
            assert r.status_code == 422, r.text
            assert r.json()["errors"] == [{"field": "code",  # as FastAPI names form fields
                                           "code": "field.nul_character", "message": ANY}]
        r = await intake.client.post("/tracking", data={"code": "X", "factor": "0000"})
        assert r.status_code == 404, r.text  # the form without one: "not found" page
        await _nothing_written(intake)
        # An escaped backslash before "u0000" is text, not a NUL.
        body["applicant"]["full_name"] = "Nguyễn \\u0000 An"
        r = await intake.client.post("/v1/dossiers", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["applicant"]["full_name"] == "Nguyễn \\u0000 An"

    async def test_wrong_types_and_unknown_fields_list_the_fields(self, mesh: Mesh) -> None:
        intake = (await start_slice(mesh, "intake"))["intake"]
        body = dossier_body(agency(mesh), channel=3, surprise=True)
        body["applicant"]["kind"] = "robot"
        r = await intake.client.post("/v1/dossiers", json=body)
        assert r.status_code == 422
        problem = r.json()
        assert problem["code"] == "request.validation_failed"
        fields = {(e["field"], e["code"]) for e in problem["errors"]}
        assert ("surprise", "field.unknown") in fields
        assert ("channel", "field.not_allowed") in fields
        assert ("applicant.kind", "field.not_allowed") in fields
        assert "Traceback" not in r.text
        await _nothing_written(intake)

    async def test_oversize_body(self, mesh: Mesh) -> None:
        intake = (await start_slice(mesh, "intake"))["intake"]
        r = await intake.client.post("/v1/dossiers", content=b"{" + b" " * 2_000_000 + b"}",
                                     headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert r.json()["code"] == "request.too_large"

        async def chunks():  # no Content-Length: counted while streaming
            for _ in range(40):
                yield b" " * 65536

        r = await intake.client.post("/v1/dossiers", content=chunks(),
                                     headers={"content-type": "application/json"})
        assert r.status_code == 413
        await _nothing_written(intake)

    @pytest.mark.parametrize(("change", "code", "field"), [
        ({"procedure_code": "9.999999"}, "procedure.unknown", "procedure_code"),
        ({"agency_code": "000.99.99.ZZZ"}, "agency.unknown", "agency_code"),
    ])
    async def test_unknown_references(self, mesh: Mesh, change, code, field) -> None:
        intake = (await start_slice(mesh, "intake"))["intake"]
        r = await intake.client.post("/v1/dossiers", json={**dossier_body(agency(mesh)), **change})
        assert r.status_code == 422
        assert r.json()["code"] == code
        assert r.json()["errors"][0]["field"] == field
        await _nothing_written(intake)

    @pytest.mark.parametrize(("kind", "number", "reason"), [
        ("individual", "003095001234", "province.unknown"),
        ("individual", "03809500123a", "format.non_digit"),
        ("individual", "0380950012345", None),
        ("organisation", "038095001234", "applicant.kind_mismatch"),
    ])
    async def test_bad_applicant_id(self, mesh: Mesh, kind, number, reason) -> None:
        intake = (await start_slice(mesh, "intake"))["intake"]
        body = dossier_body(agency(mesh))
        body["applicant"].update(kind=kind, id_number=number)
        r = await intake.client.post("/v1/dossiers", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "applicant.id_invalid"
        assert all(e["field"] == "applicant.id_number" for e in r.json()["errors"])
        if reason:
            assert reason in {e["code"] for e in r.json()["errors"]}
        await _nothing_written(intake)

    async def test_unknown_route_and_dossier(self, mesh: Mesh) -> None:
        intake = (await start_slice(mesh, "intake"))["intake"]
        r = await intake.client.get("/v1/nowhere")
        assert (r.status_code, r.headers["content-type"], r.json()["code"]) == \
            (404, PROBLEM, "http.not_found")
        r = await intake.client.get("/v1/dossiers/000.01.17.H56-260101-0001")
        assert r.json()["code"] == "dossier.not_found"
        r = await intake.client.delete("/v1/dossiers")
        assert r.status_code == 405 and r.json()["code"] == "http.method_not_allowed"


class TestIdempotency:
    async def test_same_key_same_body_replays_the_original(self, mesh: Mesh) -> None:
        intake = (await start_slice(mesh, "intake"))["intake"]
        body = dossier_body(agency(mesh))
        headers = {"Idempotency-Key": "k-123"}
        first = await intake.client.post("/v1/dossiers", json=body, headers=headers)
        second = await intake.client.post("/v1/dossiers", json=body, headers=headers)
        assert first.status_code == second.status_code == 201
        assert second.json() == first.json()
        assert second.headers.get("idempotent-replayed") == "true"
        assert await table_count(intake, Dossier.__table__) == 1
        assert await table_count(intake, outbox_table,
                                 outbox_table.c.event_type.like(DOSSIER_EVENTS)) == 1

    async def test_same_key_different_body_conflicts(self, mesh: Mesh) -> None:
        intake = (await start_slice(mesh, "intake"))["intake"]
        headers = {"Idempotency-Key": "k-456"}
        await intake.client.post("/v1/dossiers", json=dossier_body(agency(mesh)),
                                 headers=headers)
        r = await intake.client.post("/v1/dossiers", json=dossier_body(agency(mesh)),
                                     headers=headers)
        assert r.status_code == 409
        assert r.json()["code"] == "idempotency.key_reused"
        assert await table_count(intake, Dossier.__table__) == 1

    async def test_failed_request_does_not_burn_the_key(self, mesh: Mesh) -> None:
        intake = (await start_slice(mesh, "intake"))["intake"]
        headers = {"Idempotency-Key": "k-789"}
        bad = dossier_body(agency(mesh), procedure_code="9.999999")
        assert (await intake.client.post("/v1/dossiers", json=bad,
                                         headers=headers)).status_code == 422
        good = dossier_body(agency(mesh))
        assert (await intake.client.post("/v1/dossiers", json=good,
                                         headers=headers)).status_code == 201


class TestDossierCodes:
    async def test_concurrent_submissions_get_unique_consecutive_codes(
            self, mesh: Mesh) -> None:
        n = 200
        # All at once, above the default limit of requests in progress (which would
        # refuse part of the burst with 503: docs/architecture.md, "Load shedding").
        mesh.overrides["max_requests_in_flight"] = n
        intake = (await start_slice(mesh, "intake"))["intake"]
        responses = await asyncio.gather(*(
            intake.client.post("/v1/dossiers", json=dossier_body(agency(mesh)))
            for _ in range(n)))
        assert [r.status_code for r in responses] == [201] * n
        codes = [r.json()["code"] for r in responses]
        prefixes = {c.rsplit("-", 1)[0] for c in codes}
        assert len(prefixes) == 1  # one agency, one business day
        assert sorted(int(c.rsplit("-", 1)[1]) for c in codes) == list(range(1, n + 1))


class TestOperations:
    @pytest.mark.parametrize("name", ["intake", "workflow", "payments", "identity-bridge",
                                      "metrics"])
    async def test_health_ready_openapi_docs_metrics(self, mesh: Mesh, name: str) -> None:
        service = await mesh.start(name)
        client = service.client
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"] == "ok"
        openapi = (await client.get("/openapi.json")).json()
        assert openapi["info"]["title"].startswith("Motcua")
        assert (await client.get("/docs")).status_code == 200
        metrics = await client.get("/metrics")
        assert "motcua_outbox_backlog" in metrics.text
        assert "motcua_http_requests_total" in metrics.text


class TestConcurrentIdempotency:
    async def test_same_key_at_once_applies_once(self, mesh: Mesh) -> None:
        intake = (await start_slice(mesh, "intake"))["intake"]
        body = dossier_body(agency(mesh))
        headers = {"Idempotency-Key": "k-race"}
        responses = await asyncio.gather(*(
            intake.client.post("/v1/dossiers", json=body, headers=headers) for _ in range(8)))
        statuses = sorted(r.status_code for r in responses)
        assert set(statuses) <= {201, 409}, statuses
        assert all(r.json()["code"] == "idempotency.in_progress"
                   for r in responses if r.status_code == 409)
        assert await table_count(intake, Dossier.__table__) == 1
        codes = {r.json()["code"] for r in responses if r.status_code == 201}
        assert len(codes) == 1  # every 201 is the same dossier (original or replay)
