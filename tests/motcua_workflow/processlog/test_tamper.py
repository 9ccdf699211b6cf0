"""The stored process log detects a modified or deleted entry."""

from __future__ import annotations

from sqlalchemy import delete, update

from motcua.testing import Mesh
from motcua_workflow.processlog.models import ProcessLogEntry
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


async def _case_with_log(mesh: Mesh):
    clock = ManualClock(at(2026, 3, 2, 8))
    wf = await start_workflow(mesh, clock)
    a = agency(mesh)
    async with Intake(mesh) as intake:
        code = intake.code(a)
        await intake.submit(code, a)
        await intake.receive(code, a, at(2026, 3, 2, 8))
        await wait_case(wf, code, status=2)
    specialist = officer(mesh, a, "processor")
    await act(wf, code, {"action": "forward"}, specialist)
    await act(wf, code, {"action": "send_back"}, officer(mesh, a, "approver"))
    await act(wf, code, {"action": "forward"}, specialist)
    return wf, code


async def _verify(wf, code: str) -> dict:
    response = await wf.client.get(f"/v1/cases/{code}/process-log/verification")
    assert response.status_code == 200
    return response.json()


class TestTamperEvidence:
    async def test_an_untouched_log_verifies(self, mesh: Mesh) -> None:
        wf, code = await _case_with_log(mesh)
        result = await _verify(wf, code)
        assert result["valid"] is True and result["length"] == 5
        assert result["head"] == result["recorded_head"]

    async def test_a_modified_entry_is_detected(self, mesh: Mesh) -> None:
        wf, code = await _case_with_log(mesh)
        async with wf.runtime.sessions() as session, session.begin():
            await session.execute(update(ProcessLogEntry).where(
                ProcessLogEntry.dossier_code == code, ProcessLogEntry.seq == 3)
                .values(actor_id="someone-else"))
        result = await _verify(wf, code)
        assert result["valid"] is False
        assert result["problems"][0] == {"seq": 3, "problem":
                                         "content does not match its hash (entry modified)"}

    async def test_a_deleted_entry_is_detected(self, mesh: Mesh) -> None:
        wf, code = await _case_with_log(mesh)
        async with wf.runtime.sessions() as session, session.begin():
            await session.execute(delete(ProcessLogEntry).where(
                ProcessLogEntry.dossier_code == code, ProcessLogEntry.seq == 2))
        result = await _verify(wf, code)
        assert result["valid"] is False
        assert result["problems"][0]["seq"] == 2

    async def test_deleting_the_newest_entry_is_detected(self, mesh: Mesh) -> None:
        wf, code = await _case_with_log(mesh)
        async with wf.runtime.sessions() as session, session.begin():
            await session.execute(delete(ProcessLogEntry).where(
                ProcessLogEntry.dossier_code == code, ProcessLogEntry.seq == 5))
        result = await _verify(wf, code)
        assert result["valid"] is False and result["length"] == 4
