"""The citizen data store: documents with provenance, and reuse in new dossiers."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from motcua.events import Envelope
from motcua.testing import Mesh, wait_for
from tests.e2e.helpers import stream_messages
from tests.motcua_identity.conftest import PID_AN
from tests.motcua_identity.helpers import bearer, service_token, sign_in, start_identity
from tests.motcua_identity.test_population import officer_token


def document(agency: str, **overrides) -> dict:
    """A birth certificate issued as a result of an earlier dossier."""
    return {"owner_personal_id": PID_AN, "document_type": "giay_khai_sinh",
            "title": "Giấy khai sinh", "issuing_agency": agency,
            "procedure_code": "1.001193", "dossier_code": f"{agency}-250101-0001",
            "source": "result",
            "content_sha256": hashlib.sha256(b"giay khai sinh").hexdigest(),
            "content_uri": "s3://kho/h56/gks-1.pdf"} | overrides


class TestStore:
    async def test_store_and_reuse_with_national_flags(self, mesh: Mesh, provider) -> None:
        bridge = await start_identity(mesh, provider)
        agency = f"000.01.17.{mesh.province}"
        intake = await service_token(bridge, "intake")
        stored = await bridge.client.post("/v1/documents", headers=bearer(intake) | {
            "Idempotency-Key": "doc-1"}, json=document(agency))
        assert stored.status_code == 201, stored.text
        doc = stored.json()
        assert doc["owner_personal_id_masked"] == "********1234" and doc["reuse_count"] == 0
        again = await bridge.client.post("/v1/documents", headers=bearer(intake) | {
            "Idempotency-Key": "doc-1"}, json=document(agency))
        assert again.json()["id"] == doc["id"]

        # The citizen sees it in their store and attaches it to a new dossier.
        citizen = (await sign_in(bridge, "vneid-an")).json()["access_token"]
        mine = await bridge.client.get("/v1/me/documents", headers=bearer(citizen))
        assert [d["id"] for d in mine.json()] == [doc["id"]]
        new_dossier = f"000.02.17.{mesh.province}-261122-0007"
        reuse = await bridge.client.post(f"/v1/documents/{doc['id']}/reuses",
                                         headers=bearer(citizen),
                                         json={"dossier_code": new_dossier,
                                               "component_code": "giay_khai_sinh",
                                               "procedure_code": "1.004227"})
        assert reuse.status_code == 201, reuse.text
        assert reuse.json()["flags"] == {"DuocSoHoa": 1, "DuocTaiSuDung": 1,
                                         "DuocLayTuKhoDMQG": 1}
        assert reuse.json()["document"]["reuse_count"] == 1
        same = await bridge.client.post(f"/v1/documents/{doc['id']}/reuses",
                                        headers=bearer(citizen),
                                        json={"dossier_code": new_dossier,
                                              "component_code": "giay_khai_sinh"})
        assert same.status_code == 200 and same.json()["reuse_id"] == reuse.json()["reuse_id"]

        events = await wait_for(lambda: _events(mesh, 2), what="stored and reused events")
        by_type = {e.type: e for e in events}
        reused = by_type["vn.motcua.identity.document.reused.v1"]
        assert reused.data["dossier_code"] == new_dossier and reused.data["reused"]
        assert reused.data["from_national_store"] and reused.sequence == 2
        stored_event = by_type["vn.motcua.identity.document.stored.v1"]
        assert stored_event.data["issuing_agency"] == agency
        assert all(PID_AN not in e.model_dump_json() for e in events)

    async def test_expired_documents_are_not_reused(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        agency = f"000.01.17.{mesh.province}"
        intake = await service_token(bridge, "intake")
        past = (date.today() - timedelta(days=30)).isoformat()
        stored = await bridge.client.post("/v1/documents", headers=bearer(intake),
                                          json=document(agency, valid_until=past))
        response = await bridge.client.post(
            f"/v1/documents/{stored.json()['id']}/reuses", headers=bearer(intake),
            json={"dossier_code": f"{agency}-261122-0001"})
        assert response.status_code == 422 and response.json()["code"] == "document.expired"

    async def test_who_may_store_read_and_reuse(self, mesh: Mesh, provider) -> None:
        bridge = await start_identity(mesh, provider, dev_login_enabled=True)
        a, b = f"000.01.17.{mesh.province}", f"000.02.17.{mesh.province}"
        processor_a = await officer_token(bridge, a, ["processor"])
        # An officer stores results of their own agency only.
        assert (await bridge.client.post("/v1/documents", headers=bearer(processor_a),
                                         json=document(a))).status_code == 201
        other = await bridge.client.post("/v1/documents", headers=bearer(processor_a),
                                         json=document(b))
        assert other.status_code == 403 and other.json()["code"] == "auth.agency_forbidden"
        doc_id = (await bridge.client.get("/v1/documents", headers=bearer(processor_a),
                                          params={"owner_personal_id": PID_AN})).json()[0]["id"]
        # Reuse into another agency's dossier is that agency's officers' business.
        denied = await bridge.client.post(f"/v1/documents/{doc_id}/reuses",
                                          headers=bearer(processor_a),
                                          json={"dossier_code": f"{b}-261122-0001"})
        assert denied.status_code == 403
        # Another citizen sees nothing of it.
        binh = (await sign_in(bridge, "vneid-binh")).json()["access_token"]
        hidden = await bridge.client.get(f"/v1/documents/{doc_id}", headers=bearer(binh))
        assert hidden.status_code == 404
        listed = await bridge.client.get("/v1/documents", headers=bearer(binh),
                                         params={"owner_personal_id": PID_AN})
        assert listed.status_code == 403
        stolen = await bridge.client.post(f"/v1/documents/{doc_id}/reuses",
                                          headers=bearer(binh),
                                          json={"dossier_code": f"{a}-261122-0001"})
        assert stolen.status_code == 404
        # Citizens cannot store documents; bad bodies are problems with fields.
        assert (await bridge.client.post("/v1/documents", headers=bearer(binh),
                                         json=document(a))).status_code == 403
        bad = await bridge.client.post("/v1/documents", headers=bearer(processor_a),
                                       json=document(a, content_sha256="xyz"))
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "content_sha256"


async def _events(mesh: Mesh, n: int) -> list[Envelope] | None:
    messages = await stream_messages(mesh.nats_url, mesh.province, "identity", "document.>")
    return [Envelope.from_bytes(m.data) for m in messages] if len(messages) >= n else None
