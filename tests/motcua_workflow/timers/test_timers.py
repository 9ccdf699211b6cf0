"""Durable timers: due soon, overdue, unacknowledged transfers; they run from the database
and survive a restart."""

from __future__ import annotations

from sqlalchemy import select

from motcua.testing import Mesh, wait_for
from motcua_workflow.cases.models import Case
from tests.e2e.helpers import stream_messages
from tests.motcua_workflow.helpers import (
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
    when,
)


async def _events_of(wf, code: str, name: str) -> list:
    return [e for e in await outbox_events(wf, code) if types([e])[0] == name]


class TestAlerts:
    async def test_due_soon_then_overdue_fire_once_each(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        a = agency(mesh)
        async with Intake(mesh) as intake:
            code = intake.code(a)
            await intake.receive(code, a, at(2026, 3, 2, 8))  # due Mon 09/03 08:00
            await wait_case(wf, code, status=2)
        # Thu 05/03 09:00: 2 days before the due date, nothing is due yet.
        clock.set(at(2026, 3, 5, 9))
        assert await _events_of(wf, code, "due_soon") == []
        # Fri 06/03 09:00 is within 16 working hours of the due: due soon. Only 7 h are
        # left, and the default process still needs its approve (10 h) and result (6 h)
        # steps: predicted late, so the apology slip is drafted.
        clock.set(at(2026, 3, 6, 9))
        soon = await wait_for(lambda: _events_of(wf, code, "due_soon"), what="due soon")
        assert when(soon[0].data["due_at"]) == at(2026, 3, 9, 8)
        assert soon[0].data["predicted_late"] is True
        assert (await wf.client.get(f"/v1/cases/{code}/apology")).status_code == 200
        clock.set(at(2026, 3, 9, 9))
        overdue = await wait_for(lambda: _events_of(wf, code, "overdue"), what="overdue")
        counts = (await wf.client.get("/v1/tasks/counts", params={"agency": a})).json()
        assert counts["overdue"] == 1 and counts["open"] == 1
        # Nothing is pending any more, so later polls cannot repeat the alerts.
        clock.set(at(2026, 3, 10, 9))
        assert await _next_check(wf, code) is None
        assert len(await _events_of(wf, code, "due_soon")) == 1
        assert len(await _events_of(wf, code, "overdue")) == len(overdue) == 1

    async def test_unpredicted_lateness_drafts_no_apology(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        a = agency(mesh)
        async with Intake(mesh) as intake:
            code = intake.code(a)
            await intake.receive(code, a, at(2026, 3, 2, 8))
            await wait_case(wf, code, status=2)
        # The case moves fast: at the last step with its whole budget left.
        await act(wf, code, {"action": "forward"}, officer(mesh, a, "processor"))
        await act(wf, code, {"action": "approve"}, officer(mesh, a, "approver"))
        clock.set(at(2026, 3, 6, 9))
        soon = await wait_for(lambda: _events_of(wf, code, "due_soon"), what="due soon")
        assert soon[0].data["predicted_late"] is False
        assert (await wf.client.get(f"/v1/cases/{code}/apology")).status_code == 404

    async def test_an_unacknowledged_transfer_raises_an_alert(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        a, province = agency(mesh), agency(mesh, 0)
        async with Intake(mesh) as intake:
            code = intake.code(a)
            await intake.receive(code, a, at(2026, 3, 2, 8))
            await wait_case(wf, code, status=2)
        clock.set(at(2026, 3, 2, 10))
        await act(wf, code, {"action": "transfer", "to_agency_code": province,
                             "to_level": "province"}, officer(mesh, a, "processor"))
        # Two working hours: 10:00 → 11:30 and 13:30 → 14:00. At 13:59 nothing yet.
        clock.set(at(2026, 3, 2, 13, 59))
        inbox = (await wf.client.get("/v1/tasks", params={"agency": province})).json()
        assert inbox["items"][0]["kind"] == "acknowledge"
        assert when(inbox["items"][0]["due_at"]) == at(2026, 3, 2, 14)
        clock.set(at(2026, 3, 2, 14, 1))
        alert = await wait_for(lambda: _events_of(wf, code, "acknowledgement_overdue"),
                               what="acknowledgement alert")
        assert alert[0].data["to_agency_code"] == province
        counts = (await wf.client.get("/v1/tasks/counts", params={"agency": province})).json()
        assert counts["overdue"] == 1
        # Acknowledging late is still possible and logged as late.
        await act(wf, code, {"action": "acknowledge"}, officer(mesh, province, "receptionist"))
        log = (await wf.client.get(f"/v1/cases/{code}/process-log")).json()
        assert log[-1]["action"] == "acknowledged" and log[-1]["detail"]["late"] is True


class TestRestart:
    async def test_a_restart_in_the_middle_loses_nothing(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        a = agency(mesh)
        async with Intake(mesh) as intake:
            first = intake.code(a)
            await intake.submit(first, a)
            await intake.receive(first, a, at(2026, 3, 2, 8))
            await wait_case(wf, first, status=2)
            await act(wf, first, {"action": "request_supplement", "items": ["tờ khai"]},
                      officer(mesh, a, "processor"))
            await mesh.stop("workflow")

            # While workflow is down: the supplement arrives, a new dossier is received,
            # and time passes beyond the first dossier's due date.
            second = intake.code(a)
            await intake.supplemented(first, a, at(2026, 3, 2, 10))
            await intake.submit(second, a)
            await intake.receive(second, a, at(2026, 3, 3, 8))
            clock.set(at(2026, 3, 12, 9))

            wf = await start_workflow(mesh, clock)
            await wait_case(wf, first, status=4)
            await wait_case(wf, second, status=2)
        await wait_for(lambda: _events_of(wf, first, "overdue"), what="first overdue")
        await wait_for(lambda: _events_of(wf, second, "overdue"), what="second overdue")

        # Every event reached NATS exactly once (the stream de-duplicates by event id).
        async def published() -> list:
            msgs = await stream_messages(mesh.nats_url, mesh.province, "workflow")
            return msgs if len(msgs) == len(await outbox_events(wf)) else []

        msgs = await wait_for(published, what="outbox drained")
        ids = [m.headers["Nats-Msg-Id"] for m in msgs]
        assert len(ids) == len(set(ids))
        started = [m for m in msgs if m.subject.endswith(".case.started")]
        assert len(started) == 2


async def _next_check(wf, code: str):
    async with wf.runtime.sessions() as session:
        return await session.scalar(select(Case.next_check_at).where(Case.dossier_code == code))
