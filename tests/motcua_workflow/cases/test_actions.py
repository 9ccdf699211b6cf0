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
        specialist = officer(a, "specialist")
        async with Intake(mesh) as intake:
            code = intake.code(a)
            await intake.submit(code, a)
            await wait_case(wf, code, status=1)
            early = await act(wf, code, {"action": "forward", "actor": specialist}, status=409)
            assert early["code"] == "case.not_received"
            await intake.receive(code, a, at(2026, 3, 2, 8))
            case = await wait_case(wf, code, status=2)

        async def refused(body: dict, status: int, code_: str) -> dict:
            problem = await act(wf, code, body, status=status)
            assert problem["code"] == code_, problem
            return problem

        await refused({"action": "forward", "actor": officer(b, "specialist")}, 409,
                      "case.held_by_other_agency")
        await refused({"action": "forward", "actor": officer(a, "leader")}, 403,
                      "case.role_not_allowed")
        problem = await refused({"action": "complete", "actor": specialist}, 409,
                                "case.action_not_allowed")
        assert "forward" in problem["allowed"]
        await refused({"action": "forward", "actor": specialist, "to_step": "nope"}, 422,
                      "case.step_unknown")
        await refused({"action": "transfer", "actor": specialist, "to_agency_code": a}, 422,
                      "case.transfer_same_agency")
        await refused({"action": "forward", "actor": specialist,
                       "expected_version": case["version"] + 5}, 409, "case.version_conflict")
        missing = await wf.client.post("/v1/cases/NOPE-1/actions",
                                       json={"action": "forward", "actor": specialist})
        assert missing.status_code == 404 and missing.json()["code"] == "case.not_found"
        invalid = await wf.client.post(f"/v1/cases/{code}/actions",
                                       json={"action": "teleport", "actor": specialist})
        assert invalid.status_code == 422
        assert invalid.json()["code"] == "request.validation_failed"

        await act(wf, code, {"action": "forward", "actor": specialist, "to_step": "result"})
        desk = officer(a, "desk_officer")
        await refused({"action": "return_result", "actor": desk, "channel": "direct"}, 409,
                      "case.not_finished")
        await act(wf, code, {"action": "send_back", "actor": desk, "to_step": "process"})
        # The first step does not allow send_back in the default process.
        await refused({"action": "send_back", "actor": specialist}, 409,
                      "case.action_not_allowed")

    async def test_apology_and_extension_rules(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        a = agency(mesh)
        leader = officer(a, "leader")
        async with Intake(mesh) as intake:
            code = intake.code(a)
            await intake.receive(code, a, at(2026, 3, 2, 8))  # due Mon 09/03 08:00
            await wait_case(wf, code, status=2)

        no_reason = await wf.client.post(f"/v1/cases/{code}/extension", json={"actor": leader})
        assert no_reason.status_code == 422
        assert no_reason.json()["code"] == "case.extension_reason_required"
        drafted = await wf.client.post(f"/v1/cases/{code}/apology", json={
            "actor": leader, "reason": "Chờ kết quả xác minh của cơ quan khác"})
        assert drafted.status_code == 201, drafted.text
        assert when(drafted.json()["proposed_due_at"]) == at(2026, 3, 12, 8)
        twice = await wf.client.post(f"/v1/cases/{code}/apology", json={
            "actor": leader, "reason": "again"})
        assert twice.status_code == 409 and twice.json()["code"] == "case.apology_already_drafted"
        earlier = await wf.client.post(f"/v1/cases/{code}/extension", json={
            "actor": leader, "new_due_at": "2026-03-06T17:00:00+07:00"})
        assert earlier.status_code == 422
        assert earlier.json()["code"] == "case.extension_not_later"

        await act(wf, code, {"action": "request_supplement", "actor": officer(a, "specialist"),
                             "items": ["giấy tờ"]})
        paused = await wf.client.post(f"/v1/cases/{code}/extension", json={"actor": leader})
        assert paused.status_code == 409 and paused.json()["code"] == "case.paused"
