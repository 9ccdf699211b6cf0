"""Status 6: a pay-before-processing assessment stops the clock until it is settled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from motcua.testing import Mesh, wait_for
from tests.e2e.helpers import inbox_count
from tests.motcua_workflow.helpers import (
    Intake,
    ManualClock,
    Payments,
    act,
    agency,
    at,
    officer,
    outbox_events,
    start_workflow,
    wait_case,
)


async def _statuses(wf: Any, code: str) -> list[int]:
    return [e.data["status"] for e in await outbox_events(wf, code)
            if e.type.endswith("status_changed.v1")]


async def _deadline(wf: Any, code: str) -> dict[str, Any]:
    response = await wf.client.get(f"/v1/cases/{code}/deadline")
    assert response.status_code == 200, response.text
    return response.json()


async def _handled(wf: Any, n: int) -> bool:
    return await inbox_count(wf, "workflow-payments") >= n


class TestPaymentHold:
    async def test_pay_before_pauses_at_6_and_settlement_resumes(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        a = agency(mesh)
        async with Intake(mesh) as intake, Payments(mesh) as payments:
            code = intake.code(a)
            # Mon 02/03 08:00, 5 working days: due Mon 09/03 08:00.
            await intake.receive(code, a, at(2026, 3, 2, 8))
            case = await wait_case(wf, code, status=2)
            assert datetime.fromisoformat(case["due_at"]) == at(2026, 3, 9, 8)
            await act(wf, code, {"action": "forward", "actor": officer(a, "specialist")})
            await wait_case(wf, code, status=4)
            clock.set(at(2026, 3, 3, 9))
            await payments.assessed(code, a, occurred_at=at(2026, 3, 3, 9))
            case = await wait_case(wf, code, status=6)
            assert case["due_at"] is None
            blocked = await act(wf, code, {"action": "send_back",
                                           "actor": officer(a, "leader")}, status=409)
            assert blocked["code"] == "case.paused"
            # Wed 04/03 09:00: paid; 8 working hours were paused, so due Tue 10/03 08:00.
            clock.set(at(2026, 3, 4, 10))
            await payments.settled(code, a, at(2026, 3, 4, 9))
            case = await wait_case(wf, code, status=4)
            # A second settlement (a retry under a new id) changes nothing.
            await payments.settled(code, a, at(2026, 3, 4, 10))
            await wait_for(lambda: _handled(wf, 3), what="second settlement handled")
        assert datetime.fromisoformat(case["due_at"]) == at(2026, 3, 10, 8)
        deadline = await _deadline(wf, code)
        assert [h["kind"] for h in deadline["history"]] == ["start", "pause", "resume"]
        assert deadline["history"][1]["reason"] == "awaiting_payment"
        assert deadline["history"][-1]["paused_minutes"] == 8 * 60
        assert await _statuses(wf, code) == [1, 2, 4, 6, 4]

    async def test_assessment_before_reception_applies_at_reception(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        a = agency(mesh)
        async with Intake(mesh) as intake, Payments(mesh) as payments:
            code = intake.code(a)
            await payments.assessed(code, a)
            await wait_for(lambda: _handled(wf, 1), what="assessment handled")
            await intake.receive(code, a, at(2026, 3, 2, 8))
            await wait_case(wf, code, status=6)
            clock.set(at(2026, 3, 3, 8))
            await payments.settled(code, a, at(2026, 3, 3, 8))
            case = await wait_case(wf, code, status=2)
        # A full working day paused: due Tue 10/03 08:00 instead of Mon 09/03.
        assert datetime.fromisoformat(case["due_at"]) == at(2026, 3, 10, 8)
        assert await _statuses(wf, code) == [1, 2, 6, 2]

    async def test_settlement_before_assessment_never_waits(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        a = agency(mesh)
        async with Intake(mesh) as intake, Payments(mesh) as payments:
            code = intake.code(a)
            await intake.receive(code, a, at(2026, 3, 2, 8))
            await wait_case(wf, code, status=2)
            clock.set(at(2026, 3, 2, 10))
            # Published in the wrong order (version 2 first).
            payments.sequences[code] = 1
            await payments.settled(code, a, at(2026, 3, 2, 9))
            payments.sequences[code] = 0
            await payments.assessed(code, a)
            await wait_for(lambda: _handled(wf, 2), what="both payment events handled")
            case = await wait_case(wf, code)
        assert case["status"] == 2
        assert datetime.fromisoformat(case["due_at"]) == at(2026, 3, 9, 8)
        assert [h["kind"] for h in (await _deadline(wf, code))["history"]] == ["start"]

    async def test_pay_after_and_waived_change_nothing(self, mesh: Mesh) -> None:
        wf = await start_workflow(mesh, ManualClock(at(2026, 3, 2, 8)))
        a = agency(mesh)
        async with Intake(mesh) as intake, Payments(mesh) as payments:
            after, waived = intake.code(a), intake.code(a)
            for code in (after, waived):
                await intake.receive(code, a, at(2026, 3, 2, 8))
                await wait_case(wf, code, status=2)
            await payments.assessed(after, a, pay_before=False)
            await payments.assessed(waived, a, payable_vnd=0)
            await wait_for(lambda: _handled(wf, 2), what="assessments handled")
        for code in (after, waived):
            case = await wait_case(wf, code)
            assert case["status"] == 2
            assert datetime.fromisoformat(case["due_at"]) == at(2026, 3, 9, 8)
            assert await _statuses(wf, code) == [1, 2]
