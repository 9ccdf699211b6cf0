"""What an officer may not do, each answered as problem+json with a stable code."""

from __future__ import annotations

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
    when,
)


class TestRefusedActions:
    async def test_each_rule_has_its_code(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        a, b = agency(mesh, 1), agency(mesh, 2)
        processor = officer(mesh, a, "processor")
        async with Intake(mesh) as intake:
            code = intake.code(a)
            await intake.submit(code, a)
            await wait_case(wf, code, status=1)
            early = await act(wf, code, {"action": "forward"}, processor, status=409)
            assert early["code"] == "case.not_received"
            await intake.receive(code, a, at(2026, 3, 2, 8))
            case = await wait_case(wf, code, status=2)

        async def refused(body: dict, who: dict, status: int, code_: str) -> dict:
            problem = await act(wf, code, body, who, status=status)
            assert problem["code"] == code_, problem
            return problem

        # Another agency's officer, and this agency's approver at the processor's step.
        await refused({"action": "forward"}, officer(mesh, b, "processor"), 403,
                      "auth.agency_forbidden")
        await refused({"action": "forward"}, officer(mesh, a, "approver"), 403,
                      "auth.agency_forbidden")
        problem = await refused({"action": "complete"}, processor, 409,
                                "case.action_not_allowed")
        assert "forward" in problem["allowed"]
        await refused({"action": "forward", "to_step": "nope"}, processor, 422,
                      "case.step_unknown")
        await refused({"action": "transfer", "to_agency_code": a}, processor, 422,
                      "case.transfer_same_agency")
        await refused({"action": "forward", "expected_version": case["version"] + 5},
                      processor, 409, "case.version_conflict")
        missing = await wf.client.post("/v1/cases/NOPE-1/actions", json={"action": "forward"},
                                       headers=processor)
        assert missing.status_code == 404 and missing.json()["code"] == "case.not_found"
        invalid = await wf.client.post(f"/v1/cases/{code}/actions",
                                       json={"action": "teleport"}, headers=processor)
        assert invalid.status_code == 422
        assert invalid.json()["code"] == "request.validation_failed"
        # The acting officer is the token's subject: a body naming one is refused.
        named = await wf.client.post(f"/v1/cases/{code}/actions", headers=processor, json={
            "action": "forward", "actor": {"id": "someone-else", "role": "processor",
                                           "agency_code": a}})
        assert named.status_code == 422
        assert named.json()["errors"][0]["field"] == "forward.actor"

        await act(wf, code, {"action": "forward", "to_step": "result"}, processor)
        desk = officer(mesh, a, "receptionist", name="d1")
        await refused({"action": "return_result", "channel": "direct"}, desk, 409,
                      "case.not_finished")
        await act(wf, code, {"action": "send_back", "to_step": "process"}, desk)
        # The first step does not allow send_back in the default process.
        await refused({"action": "send_back"}, processor, 409, "case.action_not_allowed")
        log = (await wf.client.get(f"/v1/cases/{code}/process-log")).json()
        assert [(e["action"], e["actor_id"], e["actor_role"], e["agency_code"])
                for e in log[-2:]] == [("forward", "o1@" + a, "processor", a),
                                       ("send_back", "d1@" + a, "receptionist", a)]

    async def test_apology_and_extension_rules(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        a = agency(mesh)
        approver = officer(mesh, a, "approver", name="l1")
        async with Intake(mesh) as intake:
            code = intake.code(a)
            await intake.receive(code, a, at(2026, 3, 2, 8))  # due Mon 09/03 08:00
            await wait_case(wf, code, status=2)

        desk = await wf.client.post(f"/v1/cases/{code}/apology", json={"reason": "x"},
                                    headers=officer(mesh, a, "receptionist"))
        assert desk.status_code == 403 and desk.json()["code"] == "auth.agency_forbidden"
        no_reason = await wf.client.post(f"/v1/cases/{code}/extension", json={},
                                         headers=approver)
        assert no_reason.status_code == 422
        assert no_reason.json()["code"] == "case.extension_reason_required"
        drafted = await wf.client.post(f"/v1/cases/{code}/apology", headers=approver, json={
            "reason": "Chờ kết quả xác minh của cơ quan khác"})
        assert drafted.status_code == 201, drafted.text
        assert when(drafted.json()["proposed_due_at"]) == at(2026, 3, 12, 8)
        assert drafted.json()["drafted_by"] == "l1@" + a
        twice = await wf.client.post(f"/v1/cases/{code}/apology", headers=approver,
                                     json={"reason": "again"})
        assert twice.status_code == 409 and twice.json()["code"] == "case.apology_already_drafted"
        earlier = await wf.client.post(f"/v1/cases/{code}/extension", headers=approver, json={
            "new_due_at": "2026-03-06T17:00:00+07:00"})
        assert earlier.status_code == 422
        assert earlier.json()["code"] == "case.extension_not_later"

        await act(wf, code, {"action": "request_supplement", "items": ["giấy tờ"]},
                  officer(mesh, a, "processor"))
        paused = await wf.client.post(f"/v1/cases/{code}/extension", json={}, headers=approver)
        assert paused.status_code == 409 and paused.json()["code"] == "case.paused"
