"""Desk decisions and citizen actions through the API, with their events and rules."""

from __future__ import annotations

import json
from datetime import datetime

from motcua.calendar import TIMEZONE
from motcua.contracts.intake import DossierReceivedV1
from motcua.events import Envelope
from motcua.testing import Mesh, wait_for
from tests.e2e.helpers import dossier_body, stream_messages
from tests.motcua_intake.helpers import (
    act,
    problem,
    publish_case_status,
    status_of,
    submit,
    upload_id,
    ward,
    written,
)


async def _events(mesh: Mesh, n: int) -> list[Envelope]:
    async def enough():  # type: ignore[no-untyped-def]
        msgs = await stream_messages(mesh.nats_url, mesh.province, "intake")
        return msgs if len(msgs) >= n else None

    return [Envelope.from_bytes(m.data) for m in await wait_for(enough, what=f"{n} events")]


class TestReception:
    async def test_receive_fixes_the_appointment_and_records_the_event(
            self, mesh: Mesh, intake) -> None:
        body = dossier_body(ward(mesh), procedure_code="1.004222", documents=[])
        first = await intake.client.post("/v1/dossiers", json=body)
        body["documents"] = [{"component_code": m["code"], "source": "paper"}
                             for m in first.json().get("missing", [])]
        code = (await submit(intake, body))["code"]
        got = await act(intake, code, "reception", {"actor": "can-bo-1"},
                        **{"Idempotency-Key": "r-1"})
        assert got["status"] == 2 and got["version"] == 2
        due = datetime.fromisoformat(got["due_at"]).astimezone(TIMEZONE)
        received = datetime.fromisoformat(got["received_at"])
        assert due > received
        assert got["due_explanation"]["vi"].startswith("Tiếp nhận lúc")
        # the same key replays; a second reception is refused
        again = await act(intake, code, "reception", {"actor": "can-bo-1"},
                          **{"Idempotency-Key": "r-1"})
        assert again == got
        problem(await intake.client.post(f"/v1/dossiers/{code}/reception", json={}), 409,
                "dossier.wrong_status")

        submitted, received_event = await _events(mesh, 2)
        assert submitted.type.endswith("dossier.submitted.v1") and submitted.sequence == 1
        assert received_event.sequence == 2
        data = DossierReceivedV1.model_validate(received_event.data)
        assert data.due_at == datetime.fromisoformat(got["due_at"])
        assert data.statutory_time.amount == 7 and data.statutory_time.unit == "working_days"
        # 1.004222 charges 20,000 VND at the desk (10,000 online): the direct line only
        assert [(f.code, f.amount_vnd) for f in data.fee_lines] == \
            [(f.code, 20000) for f in data.fee_lines]
        assert data.received_by == "can-bo-1"
        assert "038095" not in json.dumps(received_event.data)

    async def test_refusal_with_reasons(self, mesh: Mesh, intake) -> None:
        code = (await submit(intake, dossier_body(ward(mesh))))["code"]
        problem(await intake.client.post(f"/v1/dossiers/{code}/refusal",
                                         json={"reasons": ["  "]}), 422,
                "request.validation_failed")
        got = await act(intake, code, "refusal",
                        {"reasons": ["Hồ sơ không thuộc thẩm quyền"], "actor": "cb"})
        assert got["status"] == 3 and got["refusal_reasons"] == ["Hồ sơ không thuộc thẩm quyền"]
        problem(await intake.client.post(f"/v1/dossiers/{code}/reception", json={}), 409,
                "dossier.wrong_status")
        problem(await intake.client.post(f"/v1/dossiers/{code}/withdrawal", json={}), 409,
                "dossier.wrong_status")
        events = await _events(mesh, 2)
        assert events[1].type.endswith("dossier.refused.v1")
        assert events[1].data["reasons"] == ["Hồ sơ không thuộc thẩm quyền"]

    async def test_unknown_dossier(self, mesh: Mesh, intake) -> None:
        for action in ("reception", "withdrawal", "rating"):
            problem(await intake.client.post(f"/v1/dossiers/000.01.17.X-260101-0001/{action}",
                                             json={"score": 5} if action == "rating" else {}),
                    404, "dossier.not_found")


class TestCitizenActions:
    async def test_supplement_then_rating_follow_workflow(self, mesh: Mesh, intake) -> None:
        code = (await submit(intake, dossier_body(ward(mesh), receive_now=True)))["code"]
        # nothing was requested yet
        problem(await intake.client.post(f"/v1/dossiers/{code}/supplements", json={
            "documents": [{"component_code": "giay_chung_sinh", "source": "paper"}]}), 409,
            "dossier.wrong_status")
        problem(await intake.client.post(f"/v1/dossiers/{code}/rating", json={"score": 5}),
                409, "dossier.wrong_status")

        await publish_case_status(mesh, code, ward(mesh), 5, sequence=3)
        await wait_for(lambda: _is(intake, code, 5), what="supplement requested")
        detail = (await intake.client.get(f"/v1/dossiers/{code}")).json()
        assert [a["kind"] for a in detail["awaited"]] == ["supplement"]

        before = await written(intake)
        bad = await intake.client.post(f"/v1/dossiers/{code}/supplements", json={
            "documents": [{"component_code": "giay_chung_sinh", "source": "upload",
                           "attachment_ids": ["nope"]}]})
        problem(bad, 422, "dossier.documents_invalid")
        assert await written(intake) == before

        file_id = await upload_id(intake)
        got = await act(intake, code, "supplements", {
            "documents": [{"component_code": "giay_chung_sinh", "source": "upload",
                           "attachment_ids": [file_id]}],
            "supplement_request_id": "sr-1"})
        assert got["status"] == 4 and got["supplement_count"] == 1 and got["awaited"] == []

        # a stale workflow event (older sequence) changes nothing
        await publish_case_status(mesh, code, ward(mesh), 5, sequence=3)
        await publish_case_status(mesh, code, ward(mesh), 9, sequence=5)
        await wait_for(lambda: _is(intake, code, 9), what="processed")
        got = await act(intake, code, "rating", {"score": 4, "comment": "Nhanh"})
        assert got["rating_score"] == 4
        problem(await intake.client.post(f"/v1/dossiers/{code}/rating", json={"score": 1}),
                409, "dossier.already_rated")
        types = [e.type.split(".")[-2] for e in await _events(mesh, 4)]
        assert types == ["submitted", "received", "supplemented", "rated"]

    async def test_withdrawal(self, mesh: Mesh, intake) -> None:
        code = (await submit(intake, dossier_body(ward(mesh))))["code"]
        got = await act(intake, code, "withdrawal", {"reason": "Nộp nhầm thủ tục"})
        assert got["status"] == 7 and got["withdrawn_at"]
        problem(await intake.client.post(f"/v1/dossiers/{code}/withdrawal", json={}), 409,
                "dossier.wrong_status")
        # workflow's later statuses never reopen a withdrawn dossier
        await publish_case_status(mesh, code, ward(mesh), 4, sequence=9)
        history = await wait_for(lambda: _history_kinds(intake, code), what="history")
        assert history == ["submitted", "withdrawn"]
        assert await status_of(intake, code) == 7

    async def test_rating_is_validated(self, mesh: Mesh, intake) -> None:
        r = await intake.client.post("/v1/dossiers/x/rating", json={"score": 6})
        body = problem(r, 422, "request.validation_failed")
        assert body["errors"][0]["field"] == "score"


async def _is(intake, code: str, status: int) -> bool:  # type: ignore[no-untyped-def]
    return await status_of(intake, code) == status


async def _history_kinds(intake, code: str) -> list[str]:  # type: ignore[no-untyped-def]
    r = await intake.client.get(f"/v1/dossiers/{code}/history")
    return [h["kind"] for h in r.json()]
