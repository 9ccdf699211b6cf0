"""Uploads never attached to a dossier are swept with their files; attached ones stay."""

from __future__ import annotations

from datetime import timedelta

from motcua.testing import Mesh
from motcua_intake.attachments.models import Attachment
from motcua_intake.attachments.service import sweep_orphans
from tests.e2e.helpers import dossier_body, table_count
from tests.motcua_intake.helpers import desk, submit, upload_id, ward


class TestSweep:
    async def test_orphans_go_attached_stay(self, mesh: Mesh, intake) -> None:
        clerk = desk(mesh)
        kept = await upload_id(intake, who=clerk)
        orphan = await upload_id(intake, who=clerk)
        await submit(intake, dossier_body(ward(mesh), documents=[
            {"component_code": "to_khai_khai_sinh", "source": "upload", "attachment_ids": [kept]},
            {"component_code": "giay_chung_sinh", "source": "paper"},
            {"component_code": "giay_to_tuy_than", "source": "shown"}]), clerk)
        storage = intake.app.state.storage
        assert await sweep_orphans(intake.runtime.sessions, storage,
                                   older_than=timedelta(hours=1)) == 0  # too recent
        assert await sweep_orphans(intake.runtime.sessions, storage,
                                   older_than=timedelta(0)) == 1
        assert await table_count(intake, Attachment.__table__) == 1
        assert await storage.exists(kept) and not await storage.exists(orphan)
