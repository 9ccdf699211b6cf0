"""Nothing accepted is lost, nothing is applied twice."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nats
import pytest

from motcua.consumer import list_dead_letters, replay_dead_letter
from motcua.contracts.intake import DossierSubmittedV1
from motcua.natsserver import NatsServer
from motcua.service import create_service_app, stop_tasks
from motcua.testing import Mesh, wait_for
from motcua_workflow.cases.router import router as cases_router
from motcua_workflow.consumers import handlers as workflow_handlers
from tests.e2e.helpers import (
    DOSSIER_EVENTS,
    agency,
    counts,
    dossier_body,
    inbox_count,
    staff_headers,
    start_slice,
    stream_messages,
    unpublished,
)


async def _submit(mesh: Mesh, intake, n: int) -> list[str]:
    codes = []
    for _ in range(n):
        r = await intake.client.post("/v1/dossiers", json=dossier_body(agency(mesh)))
        assert r.status_code == 201, r.text
        codes.append(r.json()["code"])
    return codes


async def _all_counted(mesh: Mesh, metrics, n: int) -> bool:
    c = await counts(metrics)
    return c["submitted"] == n and c["cases_opened"] == n


class TestNatsOutage:
    async def test_submissions_during_outage_arrive_exactly_once(
            self, make_database, tmp_path: Path) -> None:
        # Its own nats-server, so stopping it disturbs no other test.
        server = NatsServer(tmp_path / "nats").start()
        mesh = Mesh(server.url, make_database)
        try:
            await mesh.provision()
            svc = await start_slice(mesh)
            before = await _submit(mesh, svc["intake"], 5)
            server.stop()
            await wait_for(lambda: not svc["intake"].runtime.bus.connected, what="disconnect")
            during = await _submit(mesh, svc["intake"], 10)  # still accepted
            ready = await svc["intake"].client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["nats"] == "down"
            assert await unpublished(svc["intake"], DOSSIER_EVENTS) >= 1
            server.start()  # same port, same store
            after = await _submit(mesh, svc["intake"], 5)
            total = len(before + during + after)
            await wait_for(lambda: _all_counted(mesh, svc["metrics"], total), timeout=30,
                           what="all dossiers counted")
            assert await unpublished(svc["intake"], DOSSIER_EVENTS) == 0
            submitted = await stream_messages(mesh.nats_url, mesh.province, "intake", "dossier.>")
            assert len(submitted) == total  # published once each
            assert await inbox_count(svc["workflow"], "workflow-intake") == total
            assert await inbox_count(svc["metrics"], "metrics-intake") == total
            cases = [await svc["workflow"].client.get(f"/v1/cases/{c}")
                     for c in before + during + after]
            assert all(r.status_code == 200 for r in cases)
        finally:
            await mesh.close()
            server.stop()


class TestDuplicates:
    async def test_duplicate_delivery_changes_nothing(self, mesh: Mesh) -> None:
        svc = await start_slice(mesh)
        [code] = await _submit(mesh, svc["intake"], 1)
        await wait_for(lambda: _all_counted(mesh, svc["metrics"], 1), what="first count")
        [original] = await stream_messages(mesh.nats_url, mesh.province, "intake", "dossier.>")
        # Re-publish the same event under another message id: JetStream's dedupe cannot
        # catch it, so only the consumers' inboxes stand between it and a double effect.
        nc = await nats.connect(mesh.nats_url)
        try:
            await nc.jetstream().publish(original.subject, original.data,
                                         headers={"Nats-Msg-Id": "dup-1"})
        finally:
            await nc.close()
        wf = next(c for c in svc["workflow"].runtime.consumers if c.name == "workflow-intake")
        mx = next(c for c in svc["metrics"].runtime.consumers if c.name == "metrics-intake")
        await wait_for(lambda: wf.stats.duplicates == 1 and mx.stats.duplicates == 1,
                       what="duplicates seen")
        assert await _all_counted(mesh, svc["metrics"], 1)
        assert await inbox_count(svc["workflow"], "workflow-intake") == 1
        workflow_events = await stream_messages(mesh.nats_url, mesh.province, "workflow")
        assert len(workflow_events) == 2  # case.started + status_changed, once
        assert (await svc["workflow"].client.get(f"/v1/cases/{code}")).status_code == 200


class TestDeadLetters:
    async def test_poison_message_is_dead_lettered_and_replayed_after_fix(
            self, mesh: Mesh) -> None:
        broken = {"on": True}
        real = workflow_handlers(mesh.province)["workflow-intake"]

        async def flaky(event, data, session):
            if broken["on"]:
                raise RuntimeError("downstream rule not deployed yet")
            await real[DossierSubmittedV1.event_type()](event, data, session)

        await start_slice(mesh, "intake", "metrics")
        await mesh.prepare("workflow")
        app = create_service_app(mesh.settings("workflow"), title="wf", description="",
                                 routers=[cases_router], handlers={"workflow-intake": {
                                     DossierSubmittedV1.event_type(): flaky}})
        workflow = await mesh.start("workflow", app=app)
        workflow.client.headers.update(staff_headers(mesh))
        intake = mesh.running["intake"]
        [code] = await _submit(mesh, intake, 1)
        runner = workflow.runtime.consumers[0]
        await wait_for(lambda: runner.stats.dead_lettered == 1, what="dead letter")
        assert runner.stats.failed == 3  # max_deliver in tests

        nc = await nats.connect(mesh.nats_url)
        try:
            js = nc.jetstream()
            [letter] = await list_dead_letters(js, mesh.province)
            assert letter.consumer == "workflow-intake"
            assert letter.subject.endswith(".intake.dossier.submitted")
            assert "downstream rule not deployed yet" in letter.error
            assert letter.deliveries == 3
            assert await inbox_count(workflow, "workflow-intake") == 0

            broken["on"] = False  # the cause is fixed
            await replay_dead_letter(js, mesh.province, letter)
            await wait_for(lambda: inbox_count(workflow, "workflow-intake"), what="replayed")
            assert await list_dead_letters(js, mesh.province) == []
        finally:
            await nc.close()
        case = await workflow.client.get(f"/v1/cases/{code}")
        assert case.status_code == 200
        # Metrics had already applied the event; the replay reached it and changed nothing.
        metrics = mesh.running["metrics"]
        await wait_for(lambda: _all_counted(mesh, metrics, 1), what="metrics")
        assert await inbox_count(metrics, "metrics-intake") == 1

    async def test_malformed_message_goes_straight_to_dead_letters(self, mesh: Mesh) -> None:
        svc = await start_slice(mesh, "workflow")
        nc = await nats.connect(mesh.nats_url)
        try:
            js = nc.jetstream()
            await js.publish(f"motcua.{mesh.province}.intake.dossier.submitted",
                             b"{not json", headers={"Nats-Msg-Id": "garbage-1"})
            runner = svc["workflow"].runtime.consumers[0]
            await wait_for(lambda: runner.stats.dead_lettered == 1, what="dead letter")
            [letter] = await list_dead_letters(js, mesh.province)
            assert letter.error.startswith("envelope.invalid")
            assert letter.deliveries == 1
        finally:
            await nc.close()


class TestGracefulStop:
    async def test_a_stopped_consumer_leaves_no_message_to_its_old_pull(
            self, mesh: Mesh) -> None:
        svc = await start_slice(mesh, "intake", "workflow")
        wf = svc["workflow"]
        runner = next(c for c in wf.runtime.consumers if c.name == "workflow-intake")
        task = next(t for t in wf.runtime.tasks if t.get_name() == f"consumer:{runner.name}")
        js, stream = wf.runtime.bus.js, runner.spec.stream(mesh.province)

        async def info():
            return await js.consumer_info(stream, runner.name)

        await wait_for(lambda: _waiting(info), what="a pull request waiting on the server")
        # Stop the consumer alone: the service's connection stays open, as it does for a
        # moment during any shutdown. The next event must not go to the stopped pull.
        await stop_tasks([task])
        await _submit(mesh, svc["intake"], 1)
        wf.runtime.tasks.append(asyncio.create_task(runner.run(), name="consumer:again"))
        # Longer than ack_wait (30 s): a message handed to the stopped pull would come
        # back as a redelivery, which the assertion below rules out (a redelivery takes a
        # consumer sequence number of its own).
        await wait_for(lambda: inbox_count(wf, runner.name), timeout=45, what="applied")
        assert (await info()).delivered.consumer_seq == 1


async def _waiting(info) -> bool:
    return (await info()).num_waiting > 0


class TestCrashes:
    @pytest.mark.parametrize("stage", ["before_publish", "after_publish"])
    async def test_crash_around_publish_loses_and_duplicates_nothing(
            self, mesh: Mesh, stage: str) -> None:
        """A crash after commit (before publish, or after PubAck before marking)."""
        hung = asyncio.Event()

        async def crash_here(at: str, seqs: list[int]) -> None:
            if at == stage:
                hung.set()
                await asyncio.Event().wait()  # the process "dies" here: never returns

        await start_slice(mesh, "workflow", "metrics")
        intake = await mesh.start("intake", fault_hook=crash_here)
        intake.client.headers.update(staff_headers(mesh))
        await mesh.specs["intake"].seed(mesh.settings("intake"))
        codes = await _submit(mesh, intake, 3)
        await wait_for(hung.is_set, what=f"relay reached {stage}")
        assert await unpublished(intake, DOSSIER_EVENTS) == 3  # committed, not marked
        await mesh.stop("intake")  # the crash: the relay never marks

        intake = await mesh.start("intake")  # restart without the fault
        intake.client.headers.update(staff_headers(mesh))
        await wait_for(lambda: _all_counted(mesh, mesh.running["metrics"], 3),
                       what="all counted after restart")
        assert await unpublished(intake, DOSSIER_EVENTS) == 0
        msgs = await stream_messages(mesh.nats_url, mesh.province, "intake", "dossier.>")
        # after_publish: the re-publish carried the same Nats-Msg-Id and JetStream dropped it.
        assert len(msgs) == 3
        assert sorted(json.loads(m.data)["subject"] for m in msgs) == sorted(codes)
        assert await inbox_count(mesh.running["workflow"], "workflow-intake") == 3
