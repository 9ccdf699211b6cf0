"""Two workflow replicas on one PostgreSQL database never process the same thing twice:
intake's events (competing consumers + inbox), durable timers (cases claimed with
``FOR UPDATE SKIP LOCKED``) and officers' actions (row lock, Idempotency-Key, version)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from motcua.testing import Mesh, wait_for
from tests.motcua_workflow.helpers import (
    Intake,
    ManualClock,
    agency,
    at,
    officer,
    outbox_events,
    start_replica,
    start_workflow,
    types,
    wait_case,
)

DOSSIERS = 12


@pytest.fixture(autouse=True)
def _postgres_only(backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite serves one process per database file")


class TestReplicas:
    async def test_events_and_timers_are_handled_once(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        one = await start_workflow(mesh, clock)
        two = await start_replica(mesh, "workflow-2", clock)
        a = agency(mesh)
        async with Intake(mesh) as intake:
            codes = [intake.code(a) for _ in range(DOSSIERS)]
            for code in codes:
                await intake.submit(code, a)
                await intake.receive(code, a, at(2026, 3, 2, 8))
            for code in codes:
                await wait_case(one, code, status=2)
        handled = [c.stats.processed for r in (one, two) for c in r.runtime.consumers]
        assert sum(handled) == 2 * DOSSIERS

        # In the due-soon window, then past every due date: both replicas' timers
        # compete for the same cases each time.
        for moment, kind in ((at(2026, 3, 6, 9), "due_soon"), (at(2026, 3, 10, 9), "overdue")):
            clock.set(moment)

            async def fired(kind: str = kind) -> bool:
                return Counter(types(await outbox_events(one)))[kind] >= DOSSIERS

            await wait_for(fired, what=f"every case {kind}")
        events = await outbox_events(one)
        per_case = Counter((e.subject, types([e])[0]) for e in events)
        for code in codes:
            assert per_case[(code, "started")] == 1
            assert per_case[(code, "due_soon")] == 1
            assert per_case[(code, "overdue")] == 1
            assert per_case[(code, "apology_drafted")] == 1

    async def test_one_action_sent_to_both_replicas_applies_once(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        one = await start_workflow(mesh, clock)
        two = await start_replica(mesh, "workflow-2", clock)
        a = agency(mesh)
        async with Intake(mesh) as intake:
            code = intake.code(a)
            await intake.receive(code, a, at(2026, 3, 2, 8))
            case = await wait_case(one, code, status=2)
        body = {"action": "forward"}
        processor = officer(mesh, a, "processor")

        # The same request (one Idempotency-Key) retried against both replicas at once.
        answers = await asyncio.gather(*[
            r.client.post(f"/v1/cases/{code}/actions", json=body,
                          headers={"Idempotency-Key": "same-click", **processor})
            for r in (one, two)])
        assert sorted(r.status_code for r in answers) in ([200, 200], [200, 409])
        if all(r.status_code == 200 for r in answers):
            assert any(r.headers.get("idempotent-replayed") == "true" for r in answers)
        else:
            conflict = next(r for r in answers if r.status_code == 409)
            assert conflict.json()["code"] == "idempotency.in_progress"

        # Two officers acting on the same version: one wins, the other is told it changed.
        version = (await wait_case(one, code, current_step="approve"))["version"]
        leader = officer(mesh, a, "approver")
        answers = await asyncio.gather(*[
            r.client.post(f"/v1/cases/{code}/actions", headers=leader, json={
                "action": "approve", "expected_version": version})
            for r in (one, two)])
        assert sorted(r.status_code for r in answers) == [200, 409]
        assert next(r for r in answers if r.status_code == 409).json()["code"] == \
            "case.version_conflict"

        log = (await one.client.get(f"/v1/cases/{code}/process-log")).json()
        actions = [e["action"] for e in log]
        assert actions.count("forward") == 1 and actions.count("approve") == 1
        assert (await one.client.get(f"/v1/cases/{code}/process-log/verification")
                ).json()["valid"] is True
        assert case["version"] < version
