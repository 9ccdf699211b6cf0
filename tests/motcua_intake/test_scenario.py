"""The scripted scenario of issue 3, from a clean start, through the REST APIs.

Catalog → submissions on the three channels → reception → refusal → supplement →
withdrawal → rating, with workflow running for real: it opens cases from intake's
events, requests the supplement and completes the case, and intake's tracking follows.
"""

from __future__ import annotations

import hashlib

from motcua.testing import Mesh, wait_for
from tests.e2e.helpers import dossier_body, stream_messages
from tests.motcua_intake.helpers import (
    PDF,
    act,
    centre,
    commune,
    online_body,
    start_intake,
    status_of,
    submit,
    upload_id,
    ward,
)


def _officer(agency: str) -> dict[str, str]:
    return {"id": "can-bo-xu-ly", "role": "specialist", "agency_code": agency}


async def _case(workflow, code: str) -> dict | None:  # type: ignore[no-untyped-def]
    r = await workflow.client.get(f"/v1/cases/{code}")
    return r.json() if r.status_code == 200 else None


async def _case_status(workflow, code: str, status: int) -> bool:  # type: ignore[no-untyped-def]
    case = await _case(workflow, code)
    return case is not None and case["status"] == status


async def _workflow_act(workflow, code: str, body: dict) -> dict:  # type: ignore[no-untyped-def]
    r = await workflow.client.post(f"/v1/cases/{code}/actions", json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def _complete(workflow, code: str, agency: str) -> None:  # type: ignore[no-untyped-def]
    """Hand the case through workflow's steps until it can complete, then complete it.

    Each step is done by the role workflow's process definition names for it.
    """
    complete = {"action": "complete",
                "result": {"name": "Giấy khai sinh", "media_type": "application/pdf",
                           "sha256": hashlib.sha256(b"result").hexdigest()}}
    for _ in range(10):
        r = await _as_the_right_role(workflow, code, complete, agency)
        if r.status_code == 200:
            return
        allowed = r.json().get("allowed", [])
        step = next((a for a in ("approve", "sign", "forward") if a in allowed), None)
        assert step, r.text
        r = await _as_the_right_role(workflow, code, {"action": step}, agency)
        assert r.status_code == 200, r.text
    raise AssertionError("the case never reached a step that completes")


async def _as_the_right_role(workflow, code: str, body: dict, agency: str):  # type: ignore[no-untyped-def]
    for role in ("specialist", "leader", "desk_officer"):
        actor = {"id": f"can-bo-{role}", "role": role, "agency_code": agency}
        r = await workflow.client.post(f"/v1/cases/{code}/actions", json={**body, "actor": actor})
        if r.status_code != 403:
            return r
    return r


class TestScenario:
    async def test_from_catalog_to_rating(self, mesh: Mesh, tmp_path) -> None:
        intake = await start_intake(mesh, attachment_dir=str(tmp_path / "files"))
        workflow = await mesh.start("workflow")

        # 1. the catalog: published procedures, who receives them
        birth = (await intake.client.get("/v1/procedures/1.001193")).json()
        assert birth["status"] == "published"
        assert birth["definition"]["statutory_time"]["cutoff"] == "15:00"

        # 2. submissions on the three channels
        online = await submit(intake, await online_body(intake, mesh),
                              **{"Idempotency-Key": "scenario-online"})
        paper = [{"component_code": c, "source": "paper"}
                 for c in ("to_khai_khai_sinh", "giay_chung_sinh", "giay_to_tuy_than")]
        postal = await submit(intake, dossier_body(commune(mesh), channel="postal",
                                                   reception_point=centre(mesh),
                                                   documents=paper))
        direct = await submit(intake, dossier_body(ward(mesh), receive_now=True,
                                                   actor="mot-cua-1"))
        assert [d["status"] for d in (online, postal, direct)] == [1, 1, 2]

        # 3. reception at the desk (online), 4. refusal (postal)
        received = await act(intake, online["code"], "reception", {"actor": "mot-cua-1"})
        assert received["status"] == 2 and received["due_at"]
        refused = await act(intake, postal["code"], "refusal",
                            {"reasons": ["Hồ sơ nộp sai cơ quan có thẩm quyền"]})
        assert refused["status"] == 3
        receipt = await intake.client.get(f"/v1/dossiers/{online['code']}/receipt.pdf")
        assert receipt.status_code == 200 and receipt.content.startswith(b"%PDF")

        # workflow opened a case for every submission and started the received ones
        for code in (online["code"], postal["code"], direct["code"]):
            await wait_for(lambda c=code: _case(workflow, c), what=f"case {code}")
        await wait_for(lambda: _case_status(workflow, postal["code"], 3), what="refused case")

        # 5. workflow asks the online applicant for a supplement; tracking shows what
        items = ["Giấy chứng sinh bản rõ nét"]
        await _workflow_act(workflow, online["code"], {
            "action": "request_supplement", "items": items, "actor": _officer(ward(mesh))})
        factor = online["applicant"]["id_number_masked"][-4:]

        async def awaiting_supplement():  # type: ignore[no-untyped-def]
            view = (await intake.client.get(f"/v1/tracking/{online['code']}",
                                            params={"factor": factor})).json()
            ready = view["status"] == 5 and any(a.get("request_id") for a in view["awaited"])
            return view if ready else None

        view = await wait_for(awaiting_supplement, what="supplement requested in tracking")
        [awaited] = view["awaited"]
        assert awaited["kind"] == "supplement" and items[0] in awaited["text_vi"]
        clear = await upload_id(intake, PDF + b"%clear", "giay-chung-sinh.pdf")
        supplied = await act(intake, online["code"], "supplements", {
            "documents": [{"component_code": "giay_chung_sinh", "source": "upload",
                           "attachment_ids": [clear]}],
            "supplement_request_id": awaited["request_id"]})
        assert supplied["status"] == 4 and supplied["supplement_count"] == 1
        await wait_for(lambda: _case_status(workflow, online["code"], 4), what="case resumed")

        # 6. the counter applicant withdraws; workflow closes the case
        withdrawn = await act(intake, direct["code"], "withdrawal", {"reason": "Nộp nhầm"})
        assert withdrawn["status"] == 7
        await wait_for(lambda: _case_status(workflow, direct["code"], 7), what="case withdrawn")

        # 7. workflow completes the online case; the applicant rates the service
        await _complete(workflow, online["code"], ward(mesh))
        await wait_for(lambda: _is(intake, online["code"], 9), what="result ready in intake")
        rated = await act(intake, online["code"], "rating", {"score": 5})
        assert rated["rating_score"] == 5

        view = (await intake.client.get(f"/v1/tracking/{online['code']}",
                                        params={"factor": factor})).json()
        assert [t["status"] for t in view["timeline"]][:2] == [1, 2]
        assert view["status"] == 9 and [a["kind"] for a in view["awaited"]] == \
            ["collect_result"]

        # every change was published, in order per dossier
        events = await stream_messages(mesh.nats_url, mesh.province, "intake")
        kinds = [m.subject.rsplit(".", 1)[1] for m in events]
        assert sorted(kinds) == sorted(["submitted"] * 3 + ["received"] * 2 + [
            "refused", "supplemented", "withdrawn", "rated"])


async def _is(intake, code: str, status: int) -> bool:  # type: ignore[no-untyped-def]
    return await status_of(intake, code) == status
