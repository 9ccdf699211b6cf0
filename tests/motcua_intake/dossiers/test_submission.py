"""Submission on the three channels, routing by the catalog, and refused inputs."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from motcua.contracts.intake import DossierReceivedV1, DossierSubmittedV1
from motcua.db import outbox_table, side_engine
from motcua.events import Envelope
from motcua.testing import Mesh, wait_for
from motcua_intake.dossiers.models import DossierHistory
from tests.e2e.helpers import dossier_body, unpublished
from tests.motcua_intake.helpers import (
    PDF,
    centre,
    citizen,
    commune,
    desk,
    online_body,
    problem,
    staff,
    start_intake,
    submit,
    submitter,
    upload_id,
    ward,
    written,
)

NOTHING = {"dossiers": 0, "documents": 0, "history": 0, "outbox": 0, "attached": 0}


class TestChannels:
    async def test_three_channels(self, mesh: Mesh, intake) -> None:
        body = await online_body(intake, mesh)
        online = await submit(intake, body, citizen(mesh, body))
        assert online["status"] == 1 and online["channel"] == "online"
        assert online["code"].startswith(f"{ward(mesh)}-") and online["code"].endswith("-0001")

        # Postal, arriving at the provincial centre for a commune procedure (phi địa giới):
        # numbered by the centre, decided by the commune named.
        paper = [{"component_code": c, "source": "paper"}
                 for c in ("to_khai_khai_sinh", "giay_chung_sinh", "giay_to_tuy_than")]
        postal = await submit(intake, dossier_body(commune(mesh), channel="postal",
                                                   reception_point=centre(mesh),
                                                   documents=paper), desk(mesh, centre(mesh)))
        assert postal["code"].startswith(f"{centre(mesh)}-")
        assert (postal["agency_code"], postal["reception_point"]) == \
            (commune(mesh), centre(mesh))
        assert postal["status"] == 1

        # At the counter, received in one step: submitted then received, appointment fixed.
        direct = await submit(intake, dossier_body(ward(mesh), receive_now=True), desk(mesh))
        assert direct["status"] == 2 and direct["due_at"] and direct["received_at"]
        assert direct["statutory_time"] == {"amount": 1, "unit": "working_days",
                                            "cutoff": "15:00"}
        assert direct["code"].endswith("-0002")  # the ward's second dossier today

        counts = await written(intake)
        assert counts["dossiers"] == 3 and counts["outbox"] == 4 and counts["attached"] == 2

        detail = (await intake.client.get(f"/v1/dossiers/{online['code']}",
                                          headers=staff(mesh))).json()
        assert [d["source"] for d in detail["documents"]] == ["upload", "upload", "data_store"]

    async def test_received_in_one_step_keeps_the_order_of_lines_and_events(
            self, mesh: Mesh, intake) -> None:
        # The submission writes its rows itself (db.insert_new): the timeline and the
        # outbox still say "submitted" (status 1) before "received" (status 2).
        code = (await submit(intake, dossier_body(ward(mesh), receive_now=True),
                             desk(mesh)))["code"]
        async with intake.runtime.sessions() as session:
            lines = (await session.execute(
                select(DossierHistory.kind, DossierHistory.status)
                .where(DossierHistory.dossier_code == code).order_by(DossierHistory.id))).all()
            events = (await session.execute(
                select(outbox_table.c.event_type, outbox_table.c.payload)
                .where(outbox_table.c.aggregate_key == code)
                .order_by(outbox_table.c.seq))).all()
        assert [tuple(line) for line in lines] == [("submitted", 1), ("received", 2)]
        assert [e.event_type for e in events] == [DossierSubmittedV1.event_type(),
                                                  DossierReceivedV1.event_type()]
        assert [Envelope.from_bytes(e.payload).sequence for e in events] == [1, 2]

    async def test_routed_to_the_only_competent_agency(self, mesh: Mesh, intake) -> None:
        # Criminal record certificate (3.000333) is decided by the provincial centre only:
        # a commune desk receives it without naming the agency.
        body = dossier_body(None, procedure_code="3.000333", reception_point=ward(mesh),
                            documents=[{"component_code": c, "source": "paper"} for c in
                                       ("to_khai_yeu_cau_cap_lltp", "giay_to_tuy_than")])
        body.pop("agency_code")
        got = await submit(intake, body, desk(mesh))
        assert got["agency_code"] == centre(mesh)
        assert got["code"].startswith(f"{ward(mesh)}-")

    async def test_several_competent_agencies_need_a_choice(self, mesh: Mesh, intake) -> None:
        body = dossier_body(None, reception_point=centre(mesh))
        body.pop("agency_code")
        p = problem(await intake.client.post("/v1/dossiers", json=body,
                                             headers=desk(mesh, centre(mesh))), 422,
                    "dossier.agency_required")
        assert p["agencies"] == sorted([ward(mesh), commune(mesh)])
        assert await written(intake) == NOTHING

    async def test_bundle_carries_its_members(self, mesh: Mesh, intake) -> None:
        body = dossier_body(ward(mesh), procedure_code="3.000722", channel="online",
                            reception_point=None)
        applicant = citizen(mesh, body)
        a = await upload_id(intake, who=applicant)
        b = await upload_id(intake, PDF, "cs.pdf", who=applicant)
        body["documents"] = [{"component_code": "to_khai_lien_thong", "source": "upload",
                              "attachment_ids": [a]},
                             {"component_code": "giay_chung_sinh", "source": "upload",
                              "attachment_ids": [b]}]
        r = await intake.client.post("/v1/dossiers", json=body, headers=applicant)
        if r.status_code == 422:  # the seed may list more required components
            missing = [e["message"].split(":")[0] for e in r.json()["errors"]]
            pytest.fail(f"bundle needs more components: {missing}")
        assert r.status_code == 201, r.text


class TestCodeFormat:
    async def test_centralised_format_by_configuration(self, mesh: Mesh, tmp_path) -> None:
        intake = await start_intake(mesh, code_format="centralised", system_owner_code="07",
                                    attachment_dir=str(tmp_path))
        code = (await submit(intake, dossier_body(ward(mesh)), desk(mesh)))["code"]
        assert code.startswith(f"{mesh.province}.17.01.000-") and code.endswith("-070001")


class TestRefusedInputs:
    async def test_missing_components_are_listed_exactly(self, mesh: Mesh, intake) -> None:
        body = dossier_body(ward(mesh), documents=[
            {"component_code": "to_khai_khai_sinh", "source": "paper"}])
        p = problem(await intake.client.post("/v1/dossiers", json=body, headers=desk(mesh)),
                    422, "dossier.components_missing")
        assert [m["code"] for m in p["missing"]] == ["giay_chung_sinh", "giay_to_tuy_than"]
        assert {e["field"] for e in p["errors"]} == {"documents"}
        assert len(p["errors"]) == 2
        assert await written(intake) == NOTHING

    async def test_documents_that_cannot_be_accepted(self, mesh: Mesh, intake) -> None:
        first = await online_body(intake, mesh)
        applicant = citizen(mesh, first)
        await submit(intake, first, applicant)
        used = first["documents"][0]["attachment_ids"][0]
        # someone else's upload is as unknown to this citizen as an id that does not exist
        theirs = await upload_id(intake, who=desk(mesh))
        before = await written(intake)
        body = dossier_body(ward(mesh), channel="online", reception_point=None,
                            applicant=first["applicant"], documents=[
            {"component_code": "to_khai_khai_sinh", "source": "paper"},  # not online
            {"component_code": "giay_chung_sinh", "source": "data_store",
             "data_store_ref": "x"},  # not reusable
            {"component_code": "giay_to_tuy_than", "source": "upload",
             "attachment_ids": [used, "0190d6d5-0000-7000-8000-000000000000", theirs]},
            {"component_code": "khong_co", "source": "paper"}])
        p = problem(await intake.client.post("/v1/dossiers", json=body, headers=applicant),
                    422, "dossier.documents_invalid")
        assert {(e["field"], e["code"]) for e in p["errors"]} == {
            ("documents.0.source", "source.not_allowed"),
            ("documents.1.source", "source.not_allowed"),
            ("documents.2.attachment_ids.0", "attachment.in_use"),
            ("documents.2.attachment_ids.1", "attachment.unknown"),
            ("documents.2.attachment_ids.2", "attachment.unknown"),
            ("documents.3.component_code", "component.unknown"),
        }
        assert await written(intake) == before

    BAD = [
        ({"procedure_code": "9.999999"}, 422, "procedure.unknown", "procedure_code"),
        ({"agency_code": "000.99.99.ZZZ"}, 422, "agency.unknown", "agency_code"),
        ({"reception_point": "000.99.99.ZZZ"}, 422, "agency.unknown", "reception_point"),
        # a ministry-assigned procedure is received only at the provincial centre
        ({"procedure_code": "3.000347", "agency_code": None, "documents": []}, 422,
         "procedure.not_received_here", "reception_point"),
        # a commune procedure is not decided by the provincial centre
        ({"agency_code": "000.00.17.{p}"}, 422, "procedure.not_at_agency", "agency_code"),
        # no statutory time published yet (2.001035 certification of transactions)
        ({"procedure_code": "2.001035", "documents": []}, 422, "procedure.not_configured",
         "procedure_code"),
        ({"reception_point": None}, 422, "request.validation_failed", "reception_point"),
        ({"channel": "online", "reception_point": None, "receive_now": True}, 422,
         "request.validation_failed", "receive_now"),
        ({"exemptions_claimed": ["poor_household"]}, 422, "dossier.exemption_unknown",
         "exemptions_claimed.0"),
        ({"applicant": {"kind": "individual", "id_number": "038495001234",
                        "full_name": "A"}}, 422, "applicant.id_invalid", "applicant.id_number"),
        ({"applicant": {"kind": "individual", "id_number": "038395000123",
                        "full_name": "A"}}, 422, "applicant.id_invalid", "applicant.id_number"),
    ]

    async def test_bad_submissions_write_nothing(self, mesh: Mesh, intake) -> None:
        # One service for every case (each refused request must leave the tables empty).
        for change, status, code, field in self.BAD:
            change = {k: v.format(p=mesh.province) if isinstance(v, str) else v
                      for k, v in change.items()}
            body = {**dossier_body(ward(mesh)), **change}
            p = problem(await intake.client.post("/v1/dossiers", json=body,
                                                 headers=submitter(mesh, body)),
                        status, code)
            assert field in {e["field"] for e in p["errors"]}, (change, p)
            assert await written(intake) == NOTHING, change

    async def test_organisation_by_tax_code(self, mesh: Mesh, intake) -> None:
        body = dossier_body(centre(mesh), procedure_code="2.001583", documents=[],
                            reception_point=centre(mesh),
                            applicant={"kind": "organisation", "id_number": "0100109106",
                                       "full_name": "Công ty TNHH Mẫu"})
        clerk = submitter(mesh, body)
        r = await intake.client.post("/v1/dossiers", json=body, headers=clerk)
        if r.status_code == 422 and r.json()["code"] == "dossier.components_missing":
            body["documents"] = [{"component_code": m["code"], "source": "paper"}
                                 for m in r.json()["missing"]]
            r = await intake.client.post("/v1/dossiers", json=body, headers=clerk)
        assert r.status_code == 201, r.text
        assert r.json()["applicant"]["kind"] == "organisation"


class TestDatabaseConnectionLost:
    """Pools do not ping before each checkout: after a database restart the first
    statement on an old connection fails, and the request answers 503 instead."""

    async def test_lost_connections_answer_503_then_the_service_recovers(
            self, mesh: Mesh, backend: str, request: pytest.FixtureRequest) -> None:
        if backend == "sqlite":
            pytest.skip("an SQLite connection is a file, not a link that can drop")
        # The relay polls once a minute, so only the requests below use the pools after
        # the connections are gone (a relay's failure would refresh them first).
        mesh.overrides["relay_idle_poll_s"] = 60
        intake = await mesh.start("intake")
        await mesh.specs["intake"].seed(mesh.settings("intake"))
        body = dossier_body(ward(mesh))
        await submit(intake, body, submitter(mesh, body))
        # Every server process serving intake's database goes away, as in a restart: the
        # pooled connections, the relay's leader connection and the side pool's.
        ended = await request.getfixturevalue("postgres").end_sessions(mesh.urls["intake"])
        assert ended >= 2

        # One submission retried with its Idempotency-Key until it is accepted.
        body = dossier_body(ward(mesh))
        headers = {**submitter(mesh, body), "Idempotency-Key": "after-the-restart"}
        answers = []
        while not answers or answers[-1] != 201:
            r = await intake.client.post("/v1/dossiers", json=body, headers=headers)
            if r.status_code != 201:
                problem(r, 503, "database.unavailable")
                assert r.headers["retry-after"] == "1"
            answers.append(r.status_code)
            # Each pool (the requests', the side pool of counters and relay) fails once:
            # a failure marks every older connection of its pool for replacement.
            assert len(answers) <= 3, answers
        assert answers[0] == 503
        after = await written(intake)
        assert after["dossiers"] == 2 and after["outbox"] == 2

        async def published() -> bool:
            return await unpublished(intake, "%.intake.dossier.%") == 0

        # The relay, woken by the commit, takes its leadership again and publishes.
        await wait_for(published, what="the relay publishing after the connections were lost")

    async def test_a_connection_lost_during_the_commit_is_an_unknown_outcome(
            self, mesh: Mesh, intake) -> None:
        armed = [True]

        def lose_the_commit(session: Session) -> None:
            # Only the submission's commit (it records an outbox row), once.
            if armed[0] and session.info.get("outbox_pending"):
                armed[0] = False
                raise DBAPIError("COMMIT", None, ConnectionResetError("connection lost"),
                                 connection_invalidated=True)

        event.listen(Session, "before_commit", lose_the_commit)
        try:
            body = dossier_body(ward(mesh))
            headers = {**submitter(mesh, body), "Idempotency-Key": "lost-commit"}
            r = await intake.client.post("/v1/dossiers", json=body, headers=headers)
            problem(r, 503, "database.outcome_unknown")
            assert "retry-after" not in r.headers  # a blind retry could apply it twice
            assert not armed[0]
            # The advice: retry with the same key (here the commit had not happened).
            again = await intake.client.post("/v1/dossiers", json=body, headers=headers)
            assert again.status_code == 201, again.text
        finally:
            event.remove(Session, "before_commit", lose_the_commit)
        assert (await written(intake))["dossiers"] == 1


class TestOverload:
    """A request waits for a pooled database connection at most
    ``database_request_wait_s``, then answers 503 service.busy: nothing applied, and the
    retry with its Idempotency-Key is accepted once a connection is free. Work no client
    waits for (consumers, the relay) keeps waiting as long as before."""

    @staticmethod
    async def _use_up(held: contextlib.AsyncExitStack, engine: Any, *, side: bool = False
                      ) -> None:
        """Take every connection of one of the service's pools that the service does not
        keep for good (on PostgreSQL the relay's leadership keeps one of the requests'
        pool); one the relay or a consumer has for a moment is waited for."""
        pool_engine = side_engine(engine) if side else engine
        kept = 1 if not side and engine.dialect.name == "postgresql" else 0
        for _ in range(pool_engine.sync_engine.pool.size() - kept):
            await held.enter_async_context(pool_engine.connect())

    @pytest.mark.parametrize("pool", ["requests", "side"])
    async def test_a_used_up_pool_refuses_a_request_instead_of_queueing_it(
            self, mesh: Mesh, backend: str, pool: str) -> None:
        if pool == "side" and backend == "sqlite":
            pytest.skip("SQLite has one connection per process and no side pool")
        wait_s = 0.2
        intake = await start_intake(mesh, database_request_wait_s=wait_s,
                                    database_pool_size=2, database_side_pool_size=1)
        engine = intake.runtime.engine
        pool_engine = side_engine(engine) if pool == "side" else engine
        body = dossier_body(ward(mesh))
        headers = {**submitter(mesh, body), "Idempotency-Key": "in-a-rush"}
        async with contextlib.AsyncExitStack() as held:
            await self._use_up(held, engine, side=pool == "side")

            async def background_checkout() -> int:
                async with pool_engine.connect() as conn:
                    return int(await conn.scalar(select(1)))

            # Work no client waits for (started outside any request) is not held to a
            # request's wait: still waiting after twice that long, and after the request.
            waiting = asyncio.create_task(background_checkout())
            await asyncio.sleep(2 * wait_s)
            assert not waiting.done()
            r = await intake.client.post("/v1/dossiers", json=body, headers=headers)
            busy = problem(r, 503, "service.busy")
            assert r.headers["retry-after"] == "1"
            assert "not applied" in busy["detail"] and "Idempotency-Key" in busy["detail"]
            assert not waiting.done()
        assert await waiting == 1
        assert await written(intake) == NOTHING
        again = await intake.client.post("/v1/dossiers", json=body, headers=headers)
        assert again.status_code == 201, again.text
        assert (await written(intake))["dossiers"] == 1

    async def test_beyond_the_requests_in_flight_a_request_is_refused_at_once(
            self, mesh: Mesh) -> None:
        intake = await start_intake(mesh, max_requests_in_flight=2,
                                    database_request_wait_s=60, database_pool_size=2)
        engine = intake.runtime.engine
        bodies = [dossier_body(ward(mesh)) for _ in range(3)]
        keys = [{**submitter(mesh, b), "Idempotency-Key": f"rush-{i}"}
                for i, b in enumerate(bodies)]

        async def in_flight() -> float:
            text = (await intake.client.get("/metrics")).text
            return next(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                        if line.startswith("motcua_http_requests_in_flight{"))

        async with contextlib.AsyncExitStack() as held:
            await self._use_up(held, engine)  # the database busy elsewhere
            first = [asyncio.create_task(intake.client.post("/v1/dossiers", json=b,
                                                            headers=h))
                     for b, h in zip(bodies[:2], keys[:2], strict=True)]
            async def both_waiting() -> bool:
                return await in_flight() == 2

            await wait_for(both_waiting, what="two submissions in progress")
            r = await intake.client.post("/v1/dossiers", json=bodies[2], headers=keys[2])
            busy = problem(r, 503, "service.busy")
            assert r.headers["retry-after"] == "1" and "2 requests" in busy["detail"]
            # Refused before its token is looked at (no token: 503, not 401).
            anonymous = await intake.client.post("/v1/dossiers", json=bodies[2])
            problem(anonymous, 503, "service.busy")
            # The operations endpoints still answer, and the first two still wait.
            assert (await intake.client.get("/healthz")).status_code == 200
            assert not any(t.done() for t in first)
        assert [(await t).status_code for t in first] == [201, 201]
        assert (await written(intake))["dossiers"] == 2  # the refused ones wrote nothing
        metrics = (await intake.client.get("/metrics")).text
        assert 'motcua_http_shed_requests_total{service="intake"} 2.0' in metrics
        assert await in_flight() == 0
        again = await intake.client.post("/v1/dossiers", json=bodies[2], headers=keys[2])
        assert again.status_code == 201, again.text
        assert (await written(intake))["dossiers"] == 3
