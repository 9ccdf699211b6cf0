"""``procedure.published``: the catalog announces every publication, republication and
withdrawal (the seed, the publication endpoint, imports that publish) for metrics."""

from __future__ import annotations

import json

from motcua.contracts.intake import ProcedurePublishedV1
from motcua.db import outbox_table
from motcua.events import Envelope
from motcua.testing import Mesh, RunningService, wait_for
from motcua_intake.catalog.sample import SEED_FILE, sample_document
from motcua_intake.catalog.schemas import ProcedureDefinition
from motcua_intake.catalog.service import MANDATORY_CONTENT, missing_content
from tests.e2e.helpers import stream_messages, table_count
from tests.motcua_intake.helpers import catalog_admin, ward

NEW = {
    "national_code": "1.999003", "name_vi": "Thủ tục mẫu", "field_vi": "Hộ tịch",
    "level": "commune", "statutory_time": {"amount": 2, "unit": "working_days"},
    "components": [{"code": "don", "name_vi": "Đơn đề nghị"}], "online_level": "none",
}


async def _recorded(intake: RunningService) -> int:
    """Announcements written to the outbox (in the same transaction as the change)."""
    return await table_count(intake, outbox_table, outbox_table.c.event_type ==
                             ProcedurePublishedV1.event_type())


async def _announced(mesh: Mesh, n: int) -> list[tuple[Envelope, ProcedurePublishedV1]]:
    """The first ``n`` announcements on the stream (waiting for them)."""
    async def enough():  # type: ignore[no-untyped-def]
        msgs = await stream_messages(mesh.nats_url, mesh.province, "intake", "procedure.>")
        return msgs if len(msgs) >= n else None

    msgs = await wait_for(enough, what=f"{n} announcements")
    envelopes = [Envelope.from_bytes(m.data) for m in msgs]
    return [(e, ProcedurePublishedV1.model_validate(e.data)) for e in envelopes]


class TestMissingContent:
    def test_an_empty_entry_lacks_every_mandatory_field(self) -> None:
        bare = ProcedureDefinition.model_validate({
            "national_code": "1.999009", "name_vi": " ", "field_vi": " ", "level": "commune",
            "statutory_time": {}, "data_quality_flags": ["fee_info_missing"]})
        assert missing_content(bare) == list(MANDATORY_CONTENT)

    def test_what_counts_as_present(self) -> None:
        doc = {d.national_code: d for d in sample_document("H56").procedures}
        assert missing_content(doc["1.001193"]) == []
        assert missing_content(doc["2.001035"]) == ["statutory_time"]  # not published yet
        assert missing_content(doc["1.014137"]) == ["fee_lines"]  # flagged fee_info_missing
        # a bundle takes its members' components
        assert "components" not in missing_content(doc["2.000986"])
        # free of charge is content too: no fee lines and no flag
        free = doc["1.001193"].model_copy(update={"fee_lines": []})
        assert missing_content(free) == []


class TestAnnouncements:
    async def test_the_seed_announces_its_catalog_once(self, mesh: Mesh, intake) -> None:
        seeded = json.loads(SEED_FILE.read_text(encoding="utf-8"))["procedures"]
        announced = await _announced(mesh, 35)
        assert len(announced) == len(seeded) == 35
        by_code = {data.procedure_code: (envelope, data) for envelope, data in announced}
        envelope, birth = by_code["1.001193"]
        assert envelope.type == "vn.motcua.intake.procedure.published.v1"
        assert envelope.subject == "1.001193" and envelope.sequence == birth.procedure_version
        assert birth.status == "published" and birth.level == "commune"
        assert sorted(birth.agencies) == sorted([ward(mesh), f"000.02.17.{mesh.province}"])
        assert birth.online is True and birth.missing_content == []
        with_fees = {d["national_code"] for d in seeded if d.get("fee_lines")}
        assert {c for c, (_, d) in by_code.items() if d.has_fees} == with_fees
        assert by_code["2.001035"][1].missing_content == ["statutory_time"]
        # seeding again adds nothing, so announces nothing
        await mesh.specs["intake"].seed(mesh.settings("intake"))
        assert await _recorded(intake) == 35

    async def test_publication_republication_and_withdrawal(self, mesh: Mesh,
                                                            intake) -> None:
        admin = catalog_admin(mesh)
        body = {**NEW, "agencies": [ward(mesh)], "reception_points": [ward(mesh)]}
        assert (await intake.client.post("/v1/procedures", json=body,
                                         headers=admin)).status_code == 201
        assert await _recorded(intake) == 35  # a draft is not announced

        published = (await intake.client.post(
            "/v1/procedures/1.999003/publication",
            json={"valid_from": "2026-01-01", "decision_date": "2025-12-15"},
            headers=admin)).json()
        changed = {**body, "fee_lines": [{"code": "le_phi", "kind": "fee",
                                          "label_vi": "Lệ phí", "amount_vnd": 8000}],
                   "online_level": "full"}
        updated = (await intake.client.put("/v1/procedures/1.999003", json=changed,
                                           headers=admin)).json()
        withdrawn = (await intake.client.post("/v1/procedures/1.999003/publication",
                                              json={"status": "withdrawn"},
                                              headers=admin)).json()
        assert await _recorded(intake) == 38
        mine = [(e, d) for e, d in await _announced(mesh, 38)
                if d.procedure_code == "1.999003"]
        assert [(d.status, d.procedure_version) for _, d in mine] == [
            ("published", published["version"]), ("published", updated["version"]),
            ("withdrawn", withdrawn["version"])]
        first, second, third = (d for _, d in mine)
        assert str(first.valid_from) == "2026-01-01" and str(first.decision_date) == "2025-12-15"
        assert first.online is False and first.has_fees is False
        assert second.online is True and second.has_fees is True
        assert first.published_at.isoformat() == published["published_at"].replace("Z",
                                                                                    "+00:00")
        # a withdrawal keeps when it was published
        assert third.published_at == first.published_at
        assert [e.sequence for e, _ in mine] == [d.procedure_version for _, d in mine]

    async def test_imports_that_publish_announce(self, mesh: Mesh, intake) -> None:
        admin = catalog_admin(mesh)
        drafts = {"procedures": [{**NEW, "agencies": [ward(mesh)]}]}
        assert (await intake.client.post("/v1/procedures/import", json=drafts,
                                         headers=admin)).json()["created"] == ["1.999003"]
        assert await _recorded(intake) == 35
        result = (await intake.client.post("/v1/procedures/import", json=drafts,
                                           params={"publish": "true"}, headers=admin)).json()
        assert result["published"] == ["1.999003"]
        [(_, data)] = [(e, d) for e, d in await _announced(mesh, 36)
                       if d.procedure_code == "1.999003"]
        assert data.status == "published"
        assert data.missing_content == ["reception_points"]
        # the same document again changes nothing, so announces nothing
        await intake.client.post("/v1/procedures/import", json=drafts,
                                 params={"publish": "true"}, headers=admin)
        assert await _recorded(intake) == 36
