"""Intake's events drive the case: any order, duplicates, refusals and withdrawals."""

from __future__ import annotations

from datetime import datetime

from motcua.auth import owner_ref
from motcua.contracts.intake import DossierReceivedV1
from motcua.testing import Mesh, wait_for
from tests.e2e.helpers import dossier_body, start_slice
from tests.motcua_workflow.helpers import (
    Intake,
    ManualClock,
    act,
    agency,
    at,
    inbox_count,
    officer,
    outbox_events,
    start_workflow,
    types,
    wait_case,
)


class TestIntakeEvents:
    async def test_reception_refused_closes_with_status_3(self, mesh: Mesh) -> None:
        wf = await start_workflow(mesh, ManualClock(at(2026, 3, 2, 8)))
        async with Intake(mesh) as intake:
            code = intake.code(agency(mesh))
            await intake.submit(code, agency(mesh))
            await intake.refused(code, agency(mesh))
            case = await wait_case(wf, code, status=3)
        assert case["closed_at"] is not None and case["classification"] is None
        statuses = [e.data["status"] for e in await outbox_events(wf, code)
                    if e.type.endswith("status_changed.v1")]
        assert statuses == [1, 3]

    async def test_received_before_submitted_opens_the_case_once(self, mesh: Mesh) -> None:
        wf = await start_workflow(mesh, ManualClock(at(2026, 3, 2, 8)))
        async with Intake(mesh) as intake:
            code = intake.code(agency(mesh))
            await intake.receive(code, agency(mesh), at(2026, 3, 2, 8))
            await wait_case(wf, code, status=2)
            await intake.submit(code, agency(mesh))
            await wait_for(lambda: _inbox_at_least(wf, 2), what="both events handled")
        case = await wait_case(wf, code, status=2)
        assert datetime.fromisoformat(case["due_at"]) == at(2026, 3, 9, 8)
        events = await outbox_events(wf, code)
        assert [e.type.split(".")[-2] for e in events].count("started") == 1

    async def test_a_redelivered_or_replayed_event_changes_nothing(self, mesh: Mesh) -> None:
        wf = await start_workflow(mesh, ManualClock(at(2026, 3, 2, 8)))
        async with Intake(mesh) as intake:
            code = intake.code(agency(mesh))
            await intake.submit(code, agency(mesh))
            received = await intake.receive(code, agency(mesh), at(2026, 3, 2, 8))
            await wait_case(wf, code, status=2)
            before = len(await outbox_events(wf, code))
            # A DLQ replay: the same envelope under a fresh Nats-Msg-Id (the inbox skips it).
            await intake.nc.jetstream().publish(
                DossierReceivedV1.subject(mesh.province), received.to_bytes(),
                headers={"Nats-Msg-Id": f"replay.{received.id}"})
            # A second reception event for the same dossier with its own id (an intake
            # retry): handled, but the case is already received, so nothing changes.
            received.id = received.id[:-4] + "ffff"
            await intake.publish(_received_data(received), envelope=received)
            await wait_for(lambda: _inbox_at_least(wf, 3), what="retry handled")
        assert len(await outbox_events(wf, code)) == before
        tasks = (await wf.client.get(f"/v1/cases/{code}/tasks")).json()
        assert len(tasks) == 1

    async def test_withdrawal_while_paused_stops_the_clock_and_closes(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        a = agency(mesh)
        async with Intake(mesh) as intake:
            code = intake.code(a)
            await intake.receive(code, a, at(2026, 3, 2, 8))
            await wait_case(wf, code, status=2)
            clock.set(at(2026, 3, 3, 9))
            await act(wf, code, {"action": "request_supplement", "items": ["tờ khai"]},
                      officer(mesh, a, "processor"))
            clock.set(at(2026, 3, 4, 9))
            await intake.withdrawn(code, a)
            case = await wait_case(wf, code, status=7)
        deadline = (await wf.client.get(f"/v1/cases/{code}/deadline")).json()
        assert [h["kind"] for h in deadline["history"]] == ["start", "pause", "resume"]
        assert case["classification"] == "early"
        open_tasks = (await wf.client.get("/v1/tasks", params={"agency": a})).json()
        assert open_tasks["items"] == []

    async def test_a_supplement_for_a_case_not_paused_is_ignored(self, mesh: Mesh) -> None:
        wf = await start_workflow(mesh, ManualClock(at(2026, 3, 2, 8)))
        a = agency(mesh)
        async with Intake(mesh) as intake:
            code = intake.code(a)
            await intake.receive(code, a, at(2026, 3, 2, 8))
            await wait_case(wf, code, status=2)
            await intake.supplemented(code, a, at(2026, 3, 2, 9))
            await wait_for(lambda: _inbox_at_least(wf, 2), what="supplement handled")
        assert (await wait_case(wf, code))["status"] == 2

    async def test_intake_submission_opens_a_case_bound_to_the_default(self, mesh: Mesh) -> None:
        svc = await start_slice(mesh, "intake")
        wf = await start_workflow(mesh, ManualClock(at(2026, 3, 2, 8)))
        desk = mesh.mint.officer(agency(mesh), "receptionist")
        response = await svc["intake"].client.post(
            "/v1/dossiers", json=dossier_body(agency(mesh)), headers=desk)
        assert response.status_code == 201, response.text
        case = await wait_case(wf, response.json()["code"], status=1)
        assert case["definition"] == {"procedure_code": "1.001193", "version": 1}
        definition = (await wf.client.get("/v1/process-definitions/1.001193")).json()
        assert definition["source"] == "default"
        assert [s["budget_hours"] for s in definition["definition"]["steps"]] == [5, 2, 1]


class TestOwnerReference:
    async def test_every_case_event_carries_the_owner_reference(self, mesh: Mesh) -> None:
        wf = await start_workflow(mesh, ManualClock(at(2026, 3, 2, 8)))
        a = agency(mesh)
        key = wf.settings.resolved_owner_ref_key()
        ref, corrected = owner_ref("038095001234", key), owner_ref("038095004321", key)
        async with Intake(mesh) as intake:
            code, late = intake.code(a), intake.code(a)
            await intake.submit(code, a, owner_ref=ref)
            # Reception without a reference keeps the submission's.
            await intake.receive(code, a, at(2026, 3, 2, 8))
            await wait_case(wf, code, status=2)
            # A submission without one; reception names (and corrects) the owner.
            await intake.submit(late, a)
            await wait_case(wf, late, status=1)
            await intake.receive(late, a, at(2026, 3, 2, 8), owner_ref=corrected)
            await wait_case(wf, late, status=2)
        for action, role in (("forward", "processor"), ("approve", "approver")):
            await act(wf, code, {"action": action}, officer(mesh, a, role))
        result = {"name": "giay-khai-sinh.pdf", "media_type": "application/pdf",
                  "sha256": "b" * 64, "reference": "s3://results/2"}
        await act(wf, code, {"action": "complete", "result": result},
                  officer(mesh, a, "receptionist"))

        events = await outbox_events(wf, code)
        assert {"started", "status_changed", "handed_over", "completed"} <= set(types(events))
        assert {e.data["owner_ref"] for e in events} == {ref}
        later = await outbox_events(wf, late)
        assert [(types([e])[0], e.data["status"], e.data["owner_ref"]) for e in later
                if e.type.endswith("status_changed.v1")] == [("status_changed", 1, None),
                                                             ("status_changed", 2, corrected)]
        # The owner reads the deadline with the reference reception gave.
        mine = await wf.client.get(f"/v1/cases/{late}/deadline",
                                   headers=mesh.mint.citizen("038095004321"))
        assert mine.status_code == 200, mine.text


async def _inbox_at_least(wf, n: int) -> bool:
    return await inbox_count(wf, "workflow-intake") >= n


def _received_data(envelope) -> DossierReceivedV1:
    return DossierReceivedV1.model_validate(envelope.data)
