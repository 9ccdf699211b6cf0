"""Status 6: a pay-before-processing assessment stops the clock until it is settled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from motcua.testing import Mesh, wait_for
from tests.motcua_workflow.helpers import (
    Intake,
    ManualClock,
    Payments,
    act,
    agency,
    at,
    inbox_count,
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
            await act(wf, code, {"action": "forward"}, officer(mesh, a, "processor"))
            await wait_case(wf, code, status=4)
            clock.set(at(2026, 3, 3, 9))
            await payments.assessed(code, a, occurred_at=at(2026, 3, 3, 9))
            case = await wait_case(wf, code, status=6)
            assert case["due_at"] is None
            blocked = await act(wf, code, {"action": "send_back"},
                                officer(mesh, a, "approver"), status=409)
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


class TestPaymentDuringSupplement:
    """A pay-first assessment that arrives while the clock is stopped for a supplement.

    Reception Mon 02/03 08:00, 5 working days: due Mon 09/03 08:00. Supplement requested
    Tue 03/03 09:00; the fee is assessed (pay first) Tue 03/03 10:00, during that pause.
    The applicant's time is counted once: the payment pause starts when the supplement
    arrives, if the fee is still unpaid then.
    """

    async def _supplement_pause_with_assessment(self, mesh: Mesh, intake: Intake,
                                                payments: Payments) -> tuple[Any, ...]:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        a = agency(mesh)
        code = intake.code(a)
        await intake.receive(code, a, at(2026, 3, 2, 8))
        await wait_case(wf, code, status=2)
        clock.set(at(2026, 3, 3, 9))
        await act(wf, code, {"action": "request_supplement", "items": ["tờ khai"]},
                  officer(mesh, a, "processor"))
        clock.set(at(2026, 3, 3, 10))
        await payments.assessed(code, a, occurred_at=at(2026, 3, 3, 10))
        await wait_for(lambda: _handled(wf, 1), what="assessment handled")
        case = await wait_case(wf, code)
        # Already paused: the assessment changes neither the status nor the ledger yet.
        assert case["status"] == 5
        assert [h["kind"] for h in (await _deadline(wf, code))["history"]] == ["start",
                                                                              "pause"]
        return wf, clock, a, code

    async def test_supplement_first_then_settlement(self, mesh: Mesh) -> None:
        async with Intake(mesh) as intake, Payments(mesh) as payments:
            wf, clock, a, code = await self._supplement_pause_with_assessment(mesh, intake,
                                                                              payments)
            # Thu 05/03 09:00: supplemented (16 working hours paused), fee still unpaid.
            clock.set(at(2026, 3, 5, 9))
            await intake.supplemented(code, a, at(2026, 3, 5, 9))
            case = await wait_case(wf, code, status=6)
            assert case["due_at"] is None
            # Fri 06/03 09:00: paid, 8 more working hours paused.
            clock.set(at(2026, 3, 6, 9))
            await payments.settled(code, a, at(2026, 3, 6, 9))
            case = await wait_case(wf, code, status=4)
        # 24 working hours paused in all, once: Mon 09/03 08:00 → Thu 12/03 08:00.
        assert datetime.fromisoformat(case["due_at"]) == at(2026, 3, 12, 8)
        deadline = await _deadline(wf, code)
        assert [(h["kind"], h["reason"], h["paused_minutes"]) for h in deadline["history"]] == [
            ("start", "received", None), ("pause", "supplement requested", None),
            ("resume", "supplemented", 16 * 60), ("pause", "awaiting_payment", None),
            ("resume", "payment_settled", 8 * 60)]
        assert deadline["history"][2]["at"] == deadline["history"][3]["at"]
        assert deadline["paused_minutes_total"] == 24 * 60
        assert await _statuses(wf, code) == [1, 2, 5, 6, 4]
        # The step's task was reopened when the supplement came, and the officer goes on.
        tasks = (await wf.client.get(f"/v1/cases/{code}/tasks")).json()
        assert [(t["step_key"], t["state"]) for t in tasks] == [("process", "done"),
                                                                ("process", "open")]
        await act(wf, code, {"action": "forward"}, officer(mesh, a, "processor"))

    async def test_settlement_during_the_supplement_pause(self, mesh: Mesh) -> None:
        async with Intake(mesh) as intake, Payments(mesh) as payments:
            wf, clock, a, code = await self._supplement_pause_with_assessment(mesh, intake,
                                                                              payments)
            # Wed 04/03 09:00: paid while the supplement is still awaited.
            clock.set(at(2026, 3, 4, 9))
            await payments.settled(code, a, at(2026, 3, 4, 9))
            await wait_for(lambda: _handled(wf, 2), what="settlement handled")
            assert (await wait_case(wf, code))["status"] == 5
            clock.set(at(2026, 3, 5, 9))
            await intake.supplemented(code, a, at(2026, 3, 5, 9))
            case = await wait_case(wf, code, status=4)
        # Only the supplement's 16 working hours: Mon 09/03 08:00 → Wed 11/03 08:00.
        assert datetime.fromisoformat(case["due_at"]) == at(2026, 3, 11, 8)
        deadline = await _deadline(wf, code)
        assert [h["kind"] for h in deadline["history"]] == ["start", "pause", "resume"]
        assert deadline["paused_minutes_total"] == 16 * 60
        assert await _statuses(wf, code) == [1, 2, 5, 4]

    async def test_settlement_dated_in_the_pause_delivered_after(self, mesh: Mesh) -> None:
        async with Intake(mesh) as intake, Payments(mesh) as payments:
            wf, clock, a, code = await self._supplement_pause_with_assessment(mesh, intake,
                                                                              payments)
            clock.set(at(2026, 3, 5, 9))
            await intake.supplemented(code, a, at(2026, 3, 5, 9))
            await wait_case(wf, code, status=6)
            # Paid Wed 04/03 09:00 (before the supplement), told to workflow Thu 10:00.
            clock.set(at(2026, 3, 5, 10))
            await payments.settled(code, a, at(2026, 3, 4, 9))
            case = await wait_case(wf, code, status=4)
        # Nothing was owed after the supplement: no payment time is added back.
        assert datetime.fromisoformat(case["due_at"]) == at(2026, 3, 11, 8)
        deadline = await _deadline(wf, code)
        assert deadline["history"][-1]["paused_minutes"] == 0
        assert deadline["paused_minutes_total"] == 16 * 60
