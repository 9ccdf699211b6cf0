"""The case list (GET /v1/cases): filters, pages, and each officer's agencies only."""

from __future__ import annotations

from typing import Any

from motcua.testing import Mesh
from tests.motcua_workflow.helpers import (
    Intake,
    ManualClock,
    act,
    agency,
    at,
    officer,
    start_workflow,
    wait_case,
)


async def _codes(wf: Any, headers: dict[str, str] | None = None, **params: Any) -> list[str]:
    response = await wf.client.get("/v1/cases", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    return [c["dossier_code"] for c in response.json()["items"]]


class TestCaseList:
    async def test_filters_pages_and_agencies(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        a, b, province = agency(mesh, 1), agency(mesh, 2), agency(mesh, 0)
        async with Intake(mesh) as intake:
            # Opened a minute apart, in this order.
            due_9, due_3, at_b, moved, waiting = (intake.code(a), intake.code(a),
                                                  intake.code(b), intake.code(a),
                                                  intake.code(a))
            plan = [(due_9, a, 5, "1.004884"), (due_3, a, 1, "1.001193"),
                    (at_b, b, 5, "1.004884"), (moved, a, 5, "1.004884")]
            for minute, (code, where, days, procedure) in enumerate(plan, start=1):
                clock.set(at(2026, 3, 2, 8, minute))
                await intake.receive(code, where, at(2026, 3, 2, 8), amount=days,
                                     procedure=procedure)
                await wait_case(wf, code, status=2)
            clock.set(at(2026, 3, 2, 8, 5))
            await intake.submit(waiting, a)
            await wait_case(wf, waiting, status=1)
        # One case goes to the province (status 4); it then involves both agencies.
        await act(wf, moved, {"action": "transfer", "to_agency_code": province,
                              "to_level": "province"}, officer(mesh, a, "processor"))
        everything = [due_9, due_3, at_b, moved, waiting]

        # A mesh service with cases.read: every case, oldest first, page by page.
        assert await _codes(wf) == everything
        seen, cursor = [], None
        while True:
            page = (await wf.client.get("/v1/cases", params={
                "limit": 2, **({"cursor": cursor} if cursor else {})})).json()
            seen += [c["dossier_code"] for c in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == everything

        # Agency: receiving, holding now, or on a transfer leg.
        assert await _codes(wf, agency=a) == [due_9, due_3, moved, waiting]
        assert await _codes(wf, agency=province) == [moved]
        assert await _codes(wf, agency=b) == [at_b]
        # National status, procedure.
        assert await _codes(wf, status=1) == [waiting]
        assert await _codes(wf, status=4) == [moved]
        assert await _codes(wf, status=2) == [due_9, due_3, at_b]
        assert await _codes(wf, procedure="1.001193") == [due_3]
        # Tue 03/03 09:00: the one-day case (due Tue 03/03 08:00) is overdue.
        clock.set(at(2026, 3, 3, 9))
        assert await _codes(wf, overdue="true") == [due_3]
        assert await _codes(wf, overdue="false") == [due_9, at_b, moved, waiting]
        # Appointment range: due_after ≤ due_at < due_before.
        assert await _codes(wf, due_before="2026-03-05T00:00:00+07:00") == [due_3]
        assert await _codes(wf, due_after="2026-03-09T08:00:00+07:00",
                            due_before="2026-03-09T08:00:01+07:00") == [due_9, at_b, moved]
        assert await _codes(wf, agency=a, overdue="false", status=2) == [due_9]

        # Officers: the cases involving their agencies, whatever their role there.
        province_officer = officer(mesh, province, "auditor")
        assert await _codes(wf, province_officer) == [moved]
        both = mesh.mint.officer({a: ["processor"], b: ["approver"]})
        assert await _codes(wf, both, status=2) == [due_9, due_3, at_b]
        listed = (await wf.client.get("/v1/cases", headers=province_officer)).json()["items"][0]
        assert (listed["agency_code"], listed["current_agency_code"], listed["status"]) == (
            a, province, 4)

        # Bad filters are problems with a stable code.
        for params, code in (({"status": 11}, "request.validation_failed"),
                             ({"due_before": "2026-03-05T00:00:00"}, "request.validation_failed"),
                             ({"cursor": "bm90IGEgY3Vyc29y"}, "pagination.cursor_invalid")):
            response = await wf.client.get("/v1/cases", params=params)
            assert response.status_code == 422, response.text
            assert response.json()["code"] == code
