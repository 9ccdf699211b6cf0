"""A dossier's whole life through REST and events: reception, a supplement pause, a
transfer to the province and back, lateness predicted, an apology with one extension
(a second one refused), the result, its return — and a process log that verifies."""

from __future__ import annotations

from datetime import datetime

from motcua.testing import Mesh, wait_for
from tests.motcua_workflow.helpers import (
    DEFINITIONS_ADMIN,
    Intake,
    ManualClock,
    act,
    agency,
    at,
    officer,
    outbox_events,
    start_workflow,
    types,
    wait_case,
)

DEFINITION_YAML = """
procedure_code: "1.004884"
name: Đăng ký lại khai sinh (quy trình liên thông thử nghiệm)
statutory_time: {amount: 5, unit: working_days}
extension: {amount: 3, unit: working_days}
steps:
  - key: process
    name_vi: Thụ lý hồ sơ
    role: processor
    budget_hours: 16
    actions: [forward, request_supplement, transfer, refuse]
  - key: approve
    name_vi: Phê duyệt
    role: approver
    budget_hours: 8
    actions: [approve, sign, send_back]
  - key: result
    name_vi: Trả kết quả
    role: receptionist
    budget_hours: 8
    actions: [complete, return_result, transfer, send_back]
"""


def instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class TestLifecycle:
    async def test_supplement_transfer_apology_extension_result(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        commune, province = agency(mesh, 1), agency(mesh, 0)
        specialist = officer(mesh, commune, "processor", name="s1")

        imported = await wf.client.post("/v1/process-definitions/import",
                                        content=DEFINITION_YAML.encode(),
                                        headers={"content-type": "application/yaml",
                                                 **mesh.mint.service(*DEFINITIONS_ADMIN)})
        assert imported.status_code == 200, imported.text
        assert imported.json()[0]["version"] == 1

        async with Intake(mesh) as intake:
            code = intake.code(commune)
            await intake.submit(code, commune)
            case = await wait_case(wf, code, status=1)
            assert case["definition"] == {"procedure_code": "1.004884", "version": 1}

            # Reception Mon 02/03/2026 08:00, 5 working days → Mon 09/03 08:00.
            await intake.receive(code, commune, at(2026, 3, 2, 8), due_at=at(2026, 3, 9, 8))
            case = await wait_case(wf, code, status=2)
            assert instant(case["due_at"]) == at(2026, 3, 9, 8)
            assert case["current_step"] == "process"

            inbox = (await wf.client.get("/v1/tasks", params={"agency": commune})).json()
            assert [(t["step_key"], t["role"]) for t in inbox["items"]] == [
                ("process", "processor")]
            task_id = inbox["items"][0]["id"]
            claimed = await wf.client.post(f"/v1/tasks/{task_id}/claim", headers=specialist)
            assert claimed.json()["assignee_id"] == "s1@" + commune
            other = officer(mesh, commune, "processor", name="s2")
            refused = await act(wf, code, {"action": "forward"}, other, status=409)
            assert refused["code"] == "task.claimed_by_other"

            # Tue 03/03 09:00: a supplement request stops the clock (status 5).
            clock.set(at(2026, 3, 3, 9))
            case = await act(wf, code, {"action": "request_supplement",
                                        "items": ["Bản sao giấy tờ tùy thân"]},
                             specialist, key="supp-1")
            assert case["status"] == 5 and case["due_at"] is None
            paused = await act(wf, code, {"action": "forward"}, specialist, status=409)
            assert paused["code"] == "case.paused"

            # Thu 05/03 09:00: the supplement arrives; 16 working hours were paused.
            clock.set(at(2026, 3, 5, 9))
            await intake.supplemented(code, commune, at(2026, 3, 5, 9))
            case = await wait_case(wf, code, status=4)
            assert instant(case["due_at"]) == at(2026, 3, 11, 8)
            deadline = (await wf.client.get(f"/v1/cases/{code}/deadline")).json()
            assert [h["kind"] for h in deadline["history"]] == ["start", "pause", "resume"]
            assert deadline["history"][-1]["paused_minutes"] == 16 * 60

        # Transfer to the province level; the commune cannot act until it is acknowledged.
        case = await act(wf, code, {"action": "transfer",
                                    "to_agency_code": province, "to_level": "province",
                                    "reason": "Thuộc thẩm quyền cấp tỉnh"}, specialist)
        assert case["current_agency_code"] == province
        waiting = await act(wf, code, {"action": "forward"}, specialist, status=409)
        assert waiting["code"] == "case.awaiting_acknowledgement"
        # The commune, which sent it, may not acknowledge for the province.
        sender = await act(wf, code, {"action": "acknowledge"}, specialist, status=403)
        assert sender["code"] == "auth.agency_forbidden"
        clock.set(at(2026, 3, 5, 10))
        p_specialist = officer(mesh, province, "processor", name="p1")
        await act(wf, code, {"action": "acknowledge"}, p_specialist)
        # Acknowledged: the commune still sees the case, but no longer acts on it.
        assert (await wf.client.get(f"/v1/cases/{code}", headers=specialist)).status_code == 200
        gone = await act(wf, code, {"action": "forward"}, specialist, status=403)
        assert gone["code"] == "auth.agency_forbidden"

        # Mon 09/03 10:00: "due soon" fires; 16 h of steps remain and only 14 h are left
        # before Wed 11/03 08:00, so the apology is drafted (at least a day before).
        clock.set(at(2026, 3, 9, 10))
        apology = await wait_for(lambda: _apology(wf, code), what="apology drafted")
        assert apology["drafted_by"] == "system:workflow"
        assert instant(apology["original_due_at"]) == at(2026, 3, 11, 8)
        assert instant(apology["proposed_due_at"]) == at(2026, 3, 16, 8)
        assert instant(apology["notice_deadline"]) == at(2026, 3, 10, 8)
        assert code in apology["text_vi"]

        await act(wf, code, {"action": "forward"}, p_specialist)
        leader = officer(mesh, province, "approver", name="l1")
        extended = await wf.client.post(f"/v1/cases/{code}/extension", json={},
                                        headers={"Idempotency-Key": "ext-1", **leader})
        assert extended.status_code == 200, extended.text
        assert instant(extended.json()["new_due_at"]) == at(2026, 3, 16, 8)
        assert extended.json()["notice_in_time"] is True
        # The same request again is a replay, not a second extension ...
        replay = await wf.client.post(f"/v1/cases/{code}/extension", json={},
                                      headers={"Idempotency-Key": "ext-1", **leader})
        assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
        # ... and any other attempt to move the appointment again is refused.
        again = await wf.client.post(f"/v1/cases/{code}/extension", headers=leader, json={
            "new_due_at": "2026-03-20T17:00:00+07:00", "reason": "again"})
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        assert again.json()["code"] == "case.extension_already_used"

        case = await act(wf, code, {"action": "approve"}, leader)
        assert case["current_step"] == "result" and case["extended"] is True
        assert instant(case["due_at"]) == at(2026, 3, 16, 8)
        assert instant(case["statutory_due_at"]) == at(2026, 3, 11, 8)

        # Thu 12/03: the province sends the result back to the commune desk, which
        # completes (status 9) and returns it (status 10).
        clock.set(at(2026, 3, 12, 9))
        p_desk = officer(mesh, province, "receptionist", name="pd")
        await act(wf, code, {"action": "transfer", "to_agency_code": commune,
                             "to_level": "commune", "reason": "Trả kết quả tại xã"}, p_desk)
        desk = officer(mesh, commune, "receptionist", name="d1")
        await act(wf, code, {"action": "acknowledge"}, desk)
        result = {"name": "giay-khai-sinh.pdf", "media_type": "application/pdf",
                  "sha256": "a" * 64, "size_bytes": 12345, "reference": "s3://results/1"}
        case = await act(wf, code, {"action": "complete", "result": result}, desk)
        assert case["status"] == 9
        # Finished Thu 12/03 after the statutory Wed 11/03: late (the extension does not
        # make it on time).
        assert case["classification"] == "late"
        case = await act(wf, code, {"action": "return_result", "channel": "direct"}, desk)
        assert case["status"] == 10 and case["returned_at"] is not None
        closed = await act(wf, code, {"action": "forward"}, desk, status=409)
        assert closed["code"] == "case.closed"

        # The control slip verifies, and every step is in it.
        verification = (await wf.client.get(f"/v1/cases/{code}/process-log/verification")).json()
        assert verification["valid"] is True
        entries = (await wf.client.get(f"/v1/cases/{code}/process-log")).json()
        actions = [e["action"] for e in entries]
        # Alerts from the timers interleave as the clock moves; the rest is the officers'.
        assert [a for a in actions if a not in ("due_soon", "overdue")] == [
            "submitted", "received", "supplement_requested", "supplemented", "transferred",
            "acknowledged", "apology_drafted", "forward", "extended", "approve",
            "transferred", "acknowledged", "completed", "result_returned"]
        assert actions.index("due_soon") == actions.index("apology_drafted") - 1
        assert entries[4]["detail"]["to_level"] == "province"

        # Events: national status codes in order, the case version as sequence, the
        # log head on each, and the result reference for the citizen data store.
        events = await outbox_events(wf, code)
        statuses = [e.data["status"] for e in events if e.type.endswith("status_changed.v1")]
        assert statuses == [1, 2, 5, 4, 9, 10]
        sequences = [e.sequence for e in events]
        assert sequences == sorted(sequences)
        assert {"started", "supplement_requested", "transferred", "transfer_acknowledged",
                "handed_over",
                "due_soon", "apology_drafted", "extended", "completed",
                "result_returned"} <= set(types(events))
        handovers = [(e.data["from_step"], e.data["to_step"], e.data["actor_role"],
                      e.data["actor_agency_code"]) for e in events
                     if e.type.endswith("handed_over.v1")]
        assert handovers == [("process", "approve", "processor", province),
                             ("approve", "result", "approver", province)]
        completed = next(e for e in events if e.type.endswith("completed.v1"))
        assert completed.data["result"]["sha256"] == "a" * 64
        assert completed.data["classification"] == "late"
        assert events[-1].data["process_log_hash"] == verification["head"]


async def _apology(wf, code: str):
    response = await wf.client.get(f"/v1/cases/{code}/apology")
    return response.json() if response.status_code == 200 else None
