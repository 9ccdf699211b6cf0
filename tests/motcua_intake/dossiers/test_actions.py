"""Desk decisions and citizen actions through the API, with their events and rules."""

from __future__ import annotations

import json
from datetime import datetime

from motcua.calendar import TIMEZONE
from motcua.contracts.intake import DossierReceivedV1
from motcua.testing import Mesh, wait_for
from tests.e2e.helpers import dossier_body
from tests.motcua_intake.helpers import (
    act,
    citizen,
    desk,
    dossier_events,
    problem,
    publish_case_status,
    status_of,
    submit,
    upload_id,
    ward,
    written,
)


class TestReception:
    async def test_receive_fixes_the_appointment_and_records_the_event(
            self, mesh: Mesh, intake) -> None:
        clerk = desk(mesh)
        body = dossier_body(ward(mesh), procedure_code="1.004222", documents=[])
        first = await intake.client.post("/v1/dossiers", json=body, headers=clerk)
        body["documents"] = [{"component_code": m["code"], "source": "paper"}
                             for m in first.json().get("missing", [])]
        code = (await submit(intake, body, clerk))["code"]
        got = await act(intake, code, "reception", who=clerk, **{"Idempotency-Key": "r-1"})
        assert got["status"] == 2 and got["version"] == 2
        due = datetime.fromisoformat(got["due_at"]).astimezone(TIMEZONE)
        received = datetime.fromisoformat(got["received_at"])
        assert due > received
        assert got["due_explanation"]["vi"].startswith("Tiếp nhận lúc")
        # the same key replays; a second reception is refused
        again = await act(intake, code, "reception", who=clerk, **{"Idempotency-Key": "r-1"})
        assert again == got
        problem(await intake.client.post(f"/v1/dossiers/{code}/reception", json={},
                                         headers=clerk), 409, "dossier.wrong_status")

        submitted, received_event = await dossier_events(mesh, 2)
        assert submitted.type.endswith("dossier.submitted.v1") and submitted.sequence == 1
        assert received_event.sequence == 2
        data = DossierReceivedV1.model_validate(received_event.data)
        assert data.due_at == datetime.fromisoformat(got["due_at"])
        assert data.statutory_time.amount == 7 and data.statutory_time.unit == "working_days"
        # 1.004222 charges 20,000 VND at the desk (10,000 online): the direct line only
        assert [(f.code, f.amount_vnd) for f in data.fee_lines] == \
            [(f.code, 20000) for f in data.fee_lines]
        # the receptionist is the token's subject, never a field of the body
        assert data.received_by == f"officer-receptionist@{ward(mesh)}"
        assert "038095" not in json.dumps(received_event.data)

    async def test_the_actor_comes_from_the_token_not_the_body(self, mesh: Mesh,
                                                               intake) -> None:
        clerk = desk(mesh)
        code = (await submit(intake, dossier_body(ward(mesh)), clerk))["code"]
        r = await intake.client.post(f"/v1/dossiers/{code}/reception",
                                     json={"actor": "someone-else"}, headers=clerk)
        body = problem(r, 422, "request.validation_failed")
        assert body["errors"][0]["field"] == "actor"

    async def test_refusal_with_reasons(self, mesh: Mesh, intake) -> None:
        clerk = desk(mesh)
        body = dossier_body(ward(mesh))
        code = (await submit(intake, body, clerk))["code"]
        problem(await intake.client.post(f"/v1/dossiers/{code}/refusal",
                                         json={"reasons": ["  "]}, headers=clerk), 422,
                "request.validation_failed")
        got = await act(intake, code, "refusal", {"reasons": ["Hồ sơ không thuộc thẩm quyền"]},
                        who=clerk)
        assert got["status"] == 3 and got["refusal_reasons"] == ["Hồ sơ không thuộc thẩm quyền"]
        problem(await intake.client.post(f"/v1/dossiers/{code}/reception", json={},
                                         headers=clerk), 409, "dossier.wrong_status")
        problem(await intake.client.post(f"/v1/dossiers/{code}/withdrawal", json={},
                                         headers=citizen(mesh, body)), 409,
                "dossier.wrong_status")
        events = await dossier_events(mesh, 2)
        assert events[1].type.endswith("dossier.refused.v1")
        assert events[1].data["reasons"] == ["Hồ sơ không thuộc thẩm quyền"]
        assert events[1].data["refused_by"] == f"officer-receptionist@{ward(mesh)}"

    async def test_unknown_dossier(self, mesh: Mesh, intake) -> None:
        for action, who in (("reception", desk(mesh)), ("withdrawal", desk(mesh)),
                            ("rating", citizen(mesh, "038095000001"))):
            problem(await intake.client.post(f"/v1/dossiers/000.01.17.X-260101-0001/{action}",
                                             json={"score": 5} if action == "rating" else {},
                                             headers=who),
                    404, "dossier.not_found")


class TestCitizenActions:
    async def test_supplement_then_rating_follow_workflow(self, mesh: Mesh, intake) -> None:
        body = dossier_body(ward(mesh), receive_now=True)
        code = (await submit(intake, body, desk(mesh)))["code"]
        applicant = citizen(mesh, body)
        # nothing was requested yet
        problem(await intake.client.post(f"/v1/dossiers/{code}/supplements", json={
            "documents": [{"component_code": "giay_chung_sinh", "source": "paper"}]},
            headers=applicant), 409, "dossier.wrong_status")
        problem(await intake.client.post(f"/v1/dossiers/{code}/rating", json={"score": 5},
                                         headers=applicant), 409, "dossier.wrong_status")

        await publish_case_status(mesh, code, ward(mesh), 5, sequence=3)
        await wait_for(lambda: _is(intake, code, 5, applicant), what="supplement requested")
        detail = (await intake.client.get(f"/v1/dossiers/{code}", headers=applicant)).json()
        assert [a["kind"] for a in detail["awaited"]] == ["supplement"]

        before = await written(intake)
        bad = await intake.client.post(f"/v1/dossiers/{code}/supplements", json={
            "documents": [{"component_code": "giay_chung_sinh", "source": "upload",
                           "attachment_ids": ["nope"]}]}, headers=applicant)
        problem(bad, 422, "dossier.documents_invalid")
        assert await written(intake) == before

        file_id = await upload_id(intake, who=applicant)
        got = await act(intake, code, "supplements", {
            "documents": [{"component_code": "giay_chung_sinh", "source": "upload",
                           "attachment_ids": [file_id]}],
            "supplement_request_id": "sr-1"}, who=applicant)
        assert got["status"] == 4 and got["supplement_count"] == 1 and got["awaited"] == []

        # a stale workflow event (older sequence) changes nothing
        await publish_case_status(mesh, code, ward(mesh), 5, sequence=3)
        await publish_case_status(mesh, code, ward(mesh), 9, sequence=5)
        await wait_for(lambda: _is(intake, code, 9, applicant), what="processed")
        got = await act(intake, code, "rating", {"score": 4, "comment": "Nhanh"}, who=applicant)
        assert got["rating_score"] == 4
        problem(await intake.client.post(f"/v1/dossiers/{code}/rating", json={"score": 1},
                                         headers=applicant), 409, "dossier.already_rated")
        types = [e.type.split(".")[-2] for e in await dossier_events(mesh, 4)]
        assert types == ["submitted", "received", "supplemented", "rated"]

    async def test_withdrawal(self, mesh: Mesh, intake) -> None:
        body = dossier_body(ward(mesh))
        code = (await submit(intake, body, desk(mesh)))["code"]
        applicant = citizen(mesh, body)
        got = await act(intake, code, "withdrawal", {"reason": "Nộp nhầm thủ tục"},
                        who=applicant)
        assert got["status"] == 7 and got["withdrawn_at"]
        problem(await intake.client.post(f"/v1/dossiers/{code}/withdrawal", json={},
                                         headers=applicant), 409, "dossier.wrong_status")
        # workflow's later statuses never reopen a withdrawn dossier
        await publish_case_status(mesh, code, ward(mesh), 4, sequence=9)
        history = await wait_for(lambda: _history_kinds(intake, code, applicant),
                                 what="history")
        assert history == ["submitted", "withdrawn"]
        assert await status_of(intake, code, applicant) == 7

    async def test_a_receptionist_withdraws_on_the_applicants_behalf(self, mesh: Mesh,
                                                                      intake) -> None:
        clerk = desk(mesh)
        code = (await submit(intake, dossier_body(ward(mesh)), clerk))["code"]
        got = await act(intake, code, "withdrawal", {"reason": "Công dân đề nghị tại quầy"},
                        who=clerk)
        assert got["status"] == 7

    async def test_rating_is_validated(self, mesh: Mesh, intake) -> None:
        r = await intake.client.post("/v1/dossiers/x/rating", json={"score": 6},
                                     headers=citizen(mesh, "038095000001"))
        body = problem(r, 422, "request.validation_failed")
        assert body["errors"][0]["field"] == "score"


async def _is(intake, code: str, status: int, who) -> bool:  # type: ignore[no-untyped-def]
    return await status_of(intake, code, who) == status


async def _history_kinds(intake, code: str, who) -> list[str]:  # type: ignore[no-untyped-def]
    r = await intake.client.get(f"/v1/dossiers/{code}/history", headers=who)
    return [h["kind"] for h in r.json()]
