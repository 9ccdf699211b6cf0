"""The scripted scenario of issue 3, from a clean start, through the REST APIs.

Catalog → submissions on the three channels → reception → refusal → supplement →
withdrawal → rating, with workflow running for real: it opens cases from intake's
events, requests the supplement and completes the case, and intake's tracking follows.
Every call carries the token of the person who would make it: the applicants, the
receptionists of the desks, the ward's officers in workflow.
"""

from __future__ import annotations

import hashlib

from motcua.testing import Mesh, wait_for
from tests.e2e.helpers import dossier_body, stream_messages
from tests.motcua_intake.helpers import (
    PDF,
    act,
    centre,
    citizen,
    commune,
    desk,
    online_body,
    service,
    start_intake,
    status_of,
    submit,
    upload_id,
    ward,
)


async def _case(workflow, mesh, code: str) -> dict | None:  # type: ignore[no-untyped-def]
    r = await workflow.client.get(f"/v1/cases/{code}", headers=service(mesh, "cases.read"))
    return r.json() if r.status_code == 200 else None


async def _case_status(workflow, mesh, code: str, status: int) -> bool:  # type: ignore[no-untyped-def]
    case = await _case(workflow, mesh, code)
    return case is not None and case["status"] == status


async def _workflow_act(workflow, code: str, body: dict, who) -> dict:  # type: ignore[no-untyped-def]
    r = await workflow.client.post(f"/v1/cases/{code}/actions", json=body, headers=who)
    assert r.status_code == 200, r.text
    return r.json()


async def _complete(workflow, code: str, who) -> None:  # type: ignore[no-untyped-def]
    """Hand the case through workflow's steps until it can complete, then complete it
    (``who`` holds every role the steps of workflow's process definition name)."""
    complete = {"action": "complete",
                "result": {"name": "Giấy khai sinh", "media_type": "application/pdf",
                           "sha256": hashlib.sha256(b"result").hexdigest()}}
    for _ in range(10):
        r = await workflow.client.post(f"/v1/cases/{code}/actions", json=complete, headers=who)
        if r.status_code == 200:
            return
        allowed = r.json().get("allowed", [])
        step = next((a for a in ("approve", "sign", "forward") if a in allowed), None)
        assert step, r.text
        await _workflow_act(workflow, code, {"action": step}, who)
    raise AssertionError("the case never reached a step that completes")


class TestScenario:
    async def test_from_catalog_to_rating(self, mesh: Mesh, tmp_path) -> None:
        intake = await start_intake(mesh, attachment_dir=str(tmp_path / "files"))
        workflow = await mesh.start("workflow")

        # 1. the catalog: published procedures, who receives them
        birth = (await intake.client.get("/v1/procedures/1.001193")).json()
        assert birth["status"] == "published"
        assert birth["definition"]["statutory_time"]["cutoff"] == "15:00"

        # 2. submissions on the three channels: online by the applicant, by post at the
        # provincial centre, at the ward's counter (received at once)
        online_in = await online_body(intake, mesh)
        applicant = citizen(mesh, online_in)
        online = await submit(intake, online_in, applicant,
                              **{"Idempotency-Key": "scenario-online"})
        paper = [{"component_code": c, "source": "paper"}
                 for c in ("to_khai_khai_sinh", "giay_chung_sinh", "giay_to_tuy_than")]
        postal = await submit(intake, dossier_body(commune(mesh), channel="postal",
                                                   reception_point=centre(mesh),
                                                   documents=paper), desk(mesh, centre(mesh)))
        direct_in = dossier_body(ward(mesh), receive_now=True)
        direct = await submit(intake, direct_in, desk(mesh))
        assert [d["status"] for d in (online, postal, direct)] == [1, 1, 2]

        # 3. reception at the ward's desk (online), 4. refusal at the centre (postal)
        received = await act(intake, online["code"], "reception", who=desk(mesh))
        assert received["status"] == 2 and received["due_at"]
        refused = await act(intake, postal["code"], "refusal",
                            {"reasons": ["Hồ sơ nộp sai cơ quan có thẩm quyền"]},
                            who=desk(mesh, centre(mesh)))
        assert refused["status"] == 3
        receipt = await intake.client.get(f"/v1/dossiers/{online['code']}/receipt.pdf",
                                          headers=applicant)
        assert receipt.status_code == 200 and receipt.content.startswith(b"%PDF")

        # workflow opened a case for every submission and started the received ones
        for code in (online["code"], postal["code"], direct["code"]):
            await wait_for(lambda c=code: _case(workflow, mesh, c), what=f"case {code}")
        await wait_for(lambda: _case_status(workflow, mesh, postal["code"], 3),
                       what="refused case")

        # 5. the ward's officer asks the online applicant for a supplement; tracking shows
        ward_officer = mesh.mint.officer(ward(mesh), subject="can-bo-phuong")  # every role
        items = ["Giấy chứng sinh bản rõ nét"]
        await _workflow_act(workflow, online["code"], {
            "action": "request_supplement", "items": items}, ward_officer)
        factor = online["applicant"]["id_number_masked"][-4:]

        async def awaiting_supplement():  # type: ignore[no-untyped-def]
            view = (await intake.client.get(f"/v1/tracking/{online['code']}",
                                            params={"factor": factor})).json()
            ready = view["status"] == 5 and any(a.get("request_id") for a in view["awaited"])
            return view if ready else None

        view = await wait_for(awaiting_supplement, what="supplement requested in tracking")
        [awaited] = view["awaited"]
        assert awaited["kind"] == "supplement" and items[0] in awaited["text_vi"]
        clear = await upload_id(intake, PDF + b"%clear", "giay-chung-sinh.pdf", who=applicant)
        supplied = await act(intake, online["code"], "supplements", {
            "documents": [{"component_code": "giay_chung_sinh", "source": "upload",
                           "attachment_ids": [clear]}],
            "supplement_request_id": awaited["request_id"]}, who=applicant)
        assert supplied["status"] == 4 and supplied["supplement_count"] == 1
        await wait_for(lambda: _case_status(workflow, mesh, online["code"], 4),
                       what="case resumed")

        # 6. the counter applicant withdraws online; workflow closes the case
        withdrawn = await act(intake, direct["code"], "withdrawal", {"reason": "Nộp nhầm"},
                              who=citizen(mesh, direct_in))
        assert withdrawn["status"] == 7
        await wait_for(lambda: _case_status(workflow, mesh, direct["code"], 7),
                       what="case withdrawn")

        # 7. workflow completes the online case; the applicant rates the service
        await _complete(workflow, online["code"], ward_officer)
        await wait_for(lambda: _is(intake, online["code"], 9, applicant),
                       what="result ready in intake")
        rated = await act(intake, online["code"], "rating", {"score": 5}, who=applicant)
        assert rated["rating_score"] == 5

        view = (await intake.client.get(f"/v1/tracking/{online['code']}",
                                        params={"factor": factor})).json()
        assert [t["status"] for t in view["timeline"]][:2] == [1, 2]
        assert view["status"] == 9 and [a["kind"] for a in view["awaited"]] == \
            ["collect_result"]

        # every change was published, in order per dossier, after the seed's catalog
        events = await stream_messages(mesh.nats_url, mesh.province, "intake")
        kinds = [m.subject.split(".", 3)[3] for m in events]
        assert kinds[:35] == ["procedure.published"] * 35
        assert sorted(kinds[35:]) == sorted(
            ["dossier.submitted"] * 3 + ["dossier.received"] * 2 + [
                "dossier.refused", "dossier.supplemented", "dossier.withdrawn",
                "dossier.rated"])


async def _is(intake, code: str, status: int, who) -> bool:  # type: ignore[no-untyped-def]
    return await status_of(intake, code, who) == status
