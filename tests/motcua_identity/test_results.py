"""Results of finished cases filed in the citizen data store from workflow's events.

A ``CaseCompletedV1`` is published on the province's workflow subject (as workflow's
relay would); identity-bridge's ``identity-workflow`` consumer files the result for the
owner reference it carries, and the citizen whose number yields that reference finds it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
from sqlalchemy import func, select, update

from motcua.auth import owner_ref
from motcua.contracts.workflow import CaseCompletedV1, ResultDocument
from motcua.db import outbox_table
from motcua.events import Envelope
from motcua.ids import new_id
from motcua.testing import Mesh, RunningService, wait_for
from motcua_identity.documents.models import StoredDocument
from tests.e2e.helpers import stream_messages
from tests.motcua_identity.conftest import PID_AN, PID_BINH
from tests.motcua_identity.helpers import bearer, service_token, sign_in, start_identity
from tests.motcua_identity.test_documents import document

PROCEDURE = "1.001193"
STORED = "vn.motcua.identity.document.stored.v1"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def completed(mesh: Mesh, bridge: RunningService, *, pid: str | None = PID_AN,
              dossier: str | None = None, **overrides: Any) -> CaseCompletedV1:
    """A finished birth registration with an electronic result, owned by ``pid``."""
    agency = f"000.01.17.{mesh.province}"
    finished = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)
    values: dict[str, Any] = {
        "case_id": new_id(), "dossier_code": dossier or f"{agency}-261118-0042",
        "agency_code": agency, "occurred_at": finished, "procedure_code": PROCEDURE,
        "finished_at": finished, "due_at": finished + timedelta(days=2),
        "classification": "early",
        "owner_ref": owner_ref(pid, bridge.settings.resolved_owner_ref_key()) if pid else None,
        "result": ResultDocument(name="Giấy khai sinh (bản điện tử)",
                                 media_type="application/pdf", sha256=digest("gks"),
                                 size_bytes=48213, reference="s3://ket-qua/gks-0042.pdf"),
    }
    return CaseCompletedV1(**(values | overrides))


def envelope(mesh: Mesh, data: CaseCompletedV1) -> Envelope:
    return Envelope.wrap(data, province=mesh.province, key=data.case_id, sequence=9)


async def publish(mesh: Mesh, *envelopes: Envelope, redeliver: bool = False) -> None:
    """Publish on the workflow subject; ``redeliver`` sends each again under a new msg id
    (a producer's re-send after JetStream's dedup window: only the inbox catches it)."""
    nc = await nats.connect(mesh.nats_url)
    try:
        js = nc.jetstream()
        for env in envelopes:
            subject = CaseCompletedV1.subject(mesh.province)
            await js.publish(subject, env.to_bytes(), headers={"Nats-Msg-Id": env.id})
            if redeliver:
                await js.publish(subject, env.to_bytes(),
                                 headers={"Nats-Msg-Id": f"again-{env.id}"})
    finally:
        await nc.close()


async def handled(bridge: RunningService, processed: int, duplicates: int = 0,
                  dead_lettered: int = 0) -> None:
    """Wait until the consumer committed and acked that many events."""
    [consumer] = [c for c in bridge.runtime.consumers if c.name == "identity-workflow"]

    def done() -> bool:
        s = consumer.stats
        return (s.processed >= processed and s.duplicates >= duplicates
                and s.dead_lettered >= dead_lettered)

    await wait_for(done, what=f"{processed} case.completed handled")
    assert consumer.stats.processed == processed
    assert consumer.stats.duplicates == duplicates


async def documents(bridge: RunningService) -> list[StoredDocument]:
    async with bridge.runtime.sessions() as session:
        return list((await session.execute(select(StoredDocument))).scalars().all())


async def stored_recorded(bridge: RunningService) -> int:
    """DocumentStoredV1 rows in identity-bridge's outbox (published or not)."""
    async with bridge.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(outbox_table).where(
            outbox_table.c.event_type == STORED)))


async def stored_events(mesh: Mesh, n: int) -> list[Envelope]:
    """The DocumentStoredV1 events on the identity stream, once there are ``n``."""
    async def found() -> list[Envelope] | None:
        messages = await stream_messages(mesh.nats_url, mesh.province, "identity",
                                         "document.stored")
        return [Envelope.from_bytes(m.data) for m in messages] if len(messages) >= n else None
    return await wait_for(found, what=f"{n} document.stored events")


class TestFiling:
    async def test_owner_sees_the_result_and_reuses_it(self, mesh: Mesh, provider) -> None:
        bridge = await start_identity(mesh, provider)
        data = completed(mesh, bridge)
        await publish(mesh, envelope(mesh, data))
        await handled(bridge, 1)

        an = (await sign_in(bridge, "vneid-an")).json()["access_token"]
        mine = (await bridge.client.get("/v1/me/documents", headers=bearer(an))).json()
        assert len(mine) == 1, mine
        doc = mine[0]
        assert doc["document_type"] == f"result:{PROCEDURE}"
        assert doc["source"] == "result" and doc["issuing_agency"] == data.agency_code
        assert doc["procedure_code"] == PROCEDURE and doc["dossier_code"] == data.dossier_code
        assert doc["content_sha256"] == digest("gks")
        assert doc["content_uri"] == "s3://ket-qua/gks-0042.pdf"
        assert doc["title"] == "Giấy khai sinh (bản điện tử)"
        assert doc["valid_from"] == "2026-11-20" and doc["valid_until"] is None
        assert doc["owner_personal_id_masked"] == "********1234"
        one = await bridge.client.get(f"/v1/documents/{doc['id']}", headers=bearer(an))
        assert one.status_code == 200 and one.json()["id"] == doc["id"]

        # Another citizen sees nothing of it.
        binh = (await sign_in(bridge, "vneid-binh")).json()["access_token"]
        assert (await bridge.client.get("/v1/me/documents", headers=bearer(binh))).json() == []
        hidden = await bridge.client.get(f"/v1/documents/{doc['id']}", headers=bearer(binh))
        assert hidden.status_code == 404
        stolen = await bridge.client.post(f"/v1/documents/{doc['id']}/reuses",
                                          headers=bearer(binh),
                                          json={"dossier_code": f"{data.agency_code}"
                                                                "-261122-0001"})
        assert stolen.status_code == 404

        # Services and officers find it by the owner's number, not by another's.
        intake = await service_token(bridge, "intake")
        by_number = await bridge.client.get("/v1/documents", headers=bearer(intake),
                                            params={"owner_personal_id": PID_AN})
        assert [d["id"] for d in by_number.json()] == [doc["id"]]
        other = await bridge.client.get("/v1/documents", headers=bearer(intake),
                                        params={"owner_personal_id": PID_BINH})
        assert other.status_code == 200 and other.json() == []

        # The owner attaches it to a new dossier.
        new_dossier = f"000.02.17.{mesh.province}-261125-0003"
        reuse = await bridge.client.post(f"/v1/documents/{doc['id']}/reuses",
                                         headers=bearer(an),
                                         json={"dossier_code": new_dossier,
                                               "component_code": "giay_khai_sinh",
                                               "procedure_code": "1.004227"})
        assert reuse.status_code == 201, reuse.text
        assert reuse.json()["flags"]["DuocLayTuKhoDMQG"] == 1
        assert reuse.json()["document"]["reuse_count"] == 1
        assert reuse.json()["document"]["owner_personal_id_masked"] == "********1234"

        [event] = await stored_events(mesh, 1)
        assert event.type == STORED and event.subject == doc["id"]
        assert event.data["document_id"] == doc["id"] and event.data["source"] == "result"
        assert event.data["dossier_code"] == data.dossier_code
        assert event.data["document_type"] == f"result:{PROCEDURE}"
        assert event.data["content_sha256"] == digest("gks")
        assert PID_AN not in event.model_dump_json()

    async def test_each_bundle_member_result_is_a_document(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        members = {"1.004227": ResultDocument(name="Thẻ BHYT", media_type="application/pdf",
                                              sha256=digest("bhyt")),
                   "1.001612": ResultDocument(name="Xác nhận cư trú",
                                              media_type="application/pdf",
                                              sha256=digest("cu tru").upper())}
        await publish(mesh, envelope(mesh, completed(mesh, bridge, member_results=members)))
        await handled(bridge, 1)
        docs = {d.document_type: d for d in await documents(bridge)}
        assert set(docs) == {f"result:{PROCEDURE}", "result:1.004227", "result:1.001612"}
        assert docs["result:1.004227"].procedure_code == "1.004227"
        assert docs["result:1.001612"].content_sha256 == digest("cu tru")
        assert all(d.owner_personal_id is None and d.source == "result"
                   for d in docs.values())
        events = await stored_events(mesh, 3)
        assert {e.data["document_id"] for e in events} == {d.id for d in docs.values()}

        intake = await service_token(bridge, "intake")
        listed = await bridge.client.get("/v1/documents", headers=bearer(intake),
                                         params={"owner_personal_id": PID_AN})
        assert len(listed.json()) == 3


class TestIdempotence:
    async def test_redelivered_and_republished_completion_store_once(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        data = completed(mesh, bridge)
        first = envelope(mesh, data)
        # The same event twice, then workflow announcing the dossier's completion again
        # under a new event id and with another file: the dossier's result is filed once.
        again = envelope(mesh, completed(mesh, bridge, dossier=data.dossier_code,
                                         result=ResultDocument(name="Bản sao",
                                                               media_type="application/pdf",
                                                               sha256=digest("gks v2"))))
        await publish(mesh, first, redeliver=True)
        await publish(mesh, again)
        await handled(bridge, processed=2, duplicates=1)
        docs = await documents(bridge)
        assert len(docs) == 1 and docs[0].result_of == f"{data.dossier_code}#{PROCEDURE}"
        assert docs[0].stored_by == f"event:{first.id}"
        assert docs[0].content_sha256 == digest("gks")
        assert await stored_recorded(bridge) == 1
        assert len(await stored_events(mesh, 1)) == 1

    async def test_a_result_stored_by_hand_is_not_filed_again(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        data = completed(mesh, bridge)
        intake = await service_token(bridge, "intake")
        by_hand = await bridge.client.post("/v1/documents", headers=bearer(intake), json=document(
            data.agency_code, dossier_code=data.dossier_code, content_sha256=digest("gks")))
        assert by_hand.status_code == 201, by_hand.text
        await publish(mesh, envelope(mesh, data))
        await handled(bridge, 1)
        [doc] = await documents(bridge)
        assert doc.id == by_hand.json()["id"]
        assert await stored_recorded(bridge) == 1
        # It now answers for the dossier's result: a later announcement is skipped too.
        assert doc.result_of == f"{data.dossier_code}#{PROCEDURE}"


class TestNotFiled:
    async def test_without_owner_ref_nothing_is_stored(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        orphan = completed(mesh, bridge, pid=None)
        no_result = completed(mesh, bridge, result=None,
                              dossier=f"000.01.17.{mesh.province}-261118-0043")
        await publish(mesh, envelope(mesh, orphan), envelope(mesh, no_result))
        await handled(bridge, 2)
        assert await documents(bridge) == []
        assert await stored_recorded(bridge) == 0
        [consumer] = bridge.runtime.consumers
        assert consumer.stats.failed == 0 and consumer.stats.dead_lettered == 0

    async def test_a_result_without_a_digest_is_dead_lettered(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        broken = completed(mesh, bridge, result=ResultDocument(
            name="Giấy khai sinh", media_type="application/pdf", sha256="not-a-digest"))
        await publish(mesh, envelope(mesh, broken))
        [consumer] = bridge.runtime.consumers
        await wait_for(lambda: consumer.stats.dead_lettered == 1, what="dead letter")
        assert consumer.stats.processed == 0
        assert await documents(bridge) == []
        letters = await stream_messages(mesh.nats_url, mesh.province, "dlq")
        assert len(letters) == 1
        assert "ResultNotFileable" in letters[0].headers["Motcua-Error"]


class TestOwnerReferences:
    async def test_documents_stored_before_references_are_backfilled(self,
                                                                     mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        key = bridge.settings.resolved_owner_ref_key()
        intake = await service_token(bridge, "intake")
        stored = await bridge.client.post("/v1/documents", headers=bearer(intake),
                                          json=document(f"000.01.17.{mesh.province}"))
        [doc] = await documents(bridge)
        assert doc.owner_ref == owner_ref(PID_AN, key)
        # As a row written before revision 0003 would be.
        async with bridge.runtime.sessions() as session, session.begin():
            await session.execute(update(StoredDocument).values(owner_ref=None))
        await mesh.stop("identity-bridge")

        bridge = await start_identity(mesh)

        async def backfilled() -> bool:
            return [d.owner_ref for d in await documents(bridge)] == [owner_ref(PID_AN, key)]

        await wait_for(backfilled, what="owner_ref backfilled at startup")
        listed = await bridge.client.get("/v1/documents", headers=bearer(
            await service_token(bridge, "intake")), params={"owner_personal_id": PID_AN})
        assert [d["id"] for d in listed.json()] == [stored.json()["id"]]
