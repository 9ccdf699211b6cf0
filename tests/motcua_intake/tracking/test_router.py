"""Public tracking: second factor, no personal data, rate limits, the citizen page."""

from __future__ import annotations

import json

from motcua.testing import Mesh
from tests.e2e.helpers import dossier_body
from tests.motcua_intake.helpers import act, desk, problem, start_intake, submit, ward


class TestTracking:
    async def test_timeline_by_code_and_factor(self, mesh: Mesh, intake) -> None:
        body = dossier_body(ward(mesh), receive_now=True)
        body["applicant"]["phone"] = "0912345678"
        code = (await submit(intake, body, desk(mesh)))["code"]
        id_factor = body["applicant"]["id_number"][-4:]
        for factor in (id_factor, "5678"):
            r = await intake.client.get(f"/v1/tracking/{code}", params={"factor": factor})
            assert r.status_code == 200, r.text
        view = r.json()
        assert view["status"] == 2 and view["due_at"]
        assert [t["status"] for t in view["timeline"]] == [1, 2]
        assert view["timeline"][1]["note_vi"].startswith("Hẹn trả kết quả")
        text = json.dumps(view, ensure_ascii=False)
        for personal in (body["applicant"]["id_number"], "Nguyễn Văn An", "0912345678"):
            assert personal not in text

        # a wrong factor and an unknown code answer alike
        wrong = problem(await intake.client.get(f"/v1/tracking/{code}",
                                                params={"factor": "0000"}), 404,
                        "tracking.not_found")
        unknown = problem(await intake.client.get("/v1/tracking/000.01.17.X-260101-0001",
                                                  params={"factor": id_factor}), 404,
                          "tracking.not_found")
        assert wrong["detail"] == unknown["detail"]
        problem(await intake.client.get(f"/v1/tracking/{code}", params={"factor": "12a4"}),
                422, "request.validation_failed")

    async def test_awaited_and_refusal(self, mesh: Mesh, intake) -> None:
        body = dossier_body(ward(mesh))
        code = (await submit(intake, body, desk(mesh)))["code"]
        factor = body["applicant"]["id_number"][-4:]
        view = (await intake.client.get(f"/v1/tracking/{code}", params={"factor": factor})).json()
        assert [a["kind"] for a in view["awaited"]] == ["reception"]
        await act(intake, code, "refusal", {"reasons": ["Thiếu tờ khai"]}, who=desk(mesh))
        view = (await intake.client.get(f"/v1/tracking/{code}", params={"factor": factor})).json()
        assert view["status"] == 3 and view["awaited"] == []
        assert view["timeline"][-1]["note_vi"] == "Thiếu tờ khai"

    async def test_the_citizen_page(self, mesh: Mesh, intake) -> None:
        body = dossier_body(ward(mesh), receive_now=True)
        code = (await submit(intake, body, desk(mesh)))["code"]
        form = await intake.client.get("/tracking", params={"code": code})
        assert form.status_code == 200 and f'value="{code}"' in form.text
        assert 'method="post"' in form.text
        page = await intake.client.post("/tracking", data={
            "code": code, "factor": body["applicant"]["id_number"][-4:]})
        assert page.status_code == 200
        assert "Được tiếp nhận" in page.text and "Ngày hẹn trả" in page.text
        assert "Nguyễn Văn An" not in page.text
        miss = await intake.client.post("/tracking", data={"code": code, "factor": "0000"})
        assert miss.status_code == 404 and "Không tìm thấy" in miss.text
        escaped = await intake.client.get("/tracking", params={"code": '"><script>x</script>'})
        assert "<script>x" not in escaped.text


class TestRateLimits:
    async def test_per_client_bucket_and_per_code_lock(self, mesh: Mesh, tmp_path) -> None:
        intake = await start_intake(mesh, tracking_burst=3, tracking_per_minute=0.001,
                                    tracking_max_failures=2,
                                    attachment_dir=str(tmp_path / "a"))
        body = dossier_body(ward(mesh))
        code = (await submit(intake, body, desk(mesh)))["code"]
        statuses = [(await intake.client.get(f"/v1/tracking/{code}",
                                             params={"factor": "0000"})).status_code
                    for _ in range(4)]
        # two misses lock the code; the bucket (3) runs dry on the fourth request
        assert statuses == [404, 404, 429, 429]
        limited = await intake.client.get(f"/v1/tracking/{code}", params={
            "factor": body["applicant"]["id_number"][-4:]})
        problem(limited, 429, "tracking.rate_limited")
        assert int(limited.headers["retry-after"]) >= 1
