"""Uploads through the API: stored under generated names, sniffed, hashed, limited."""

from __future__ import annotations

import hashlib
from pathlib import Path

from motcua.testing import Mesh
from motcua_intake.attachments.models import Attachment
from tests.e2e.helpers import table_count
from tests.motcua_intake.helpers import EXE, PDF, PNG, citizen, problem, upload

PID = "038095000123"


def _stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


class TestUpload:
    async def test_stored_under_a_generated_name_with_its_hash(self, mesh: Mesh,
                                                              intake) -> None:
        me = citizen(mesh, PID)
        r = await upload(intake, PDF, "Tờ khai khai sinh.pdf", who=me)
        assert r.status_code == 201, r.text
        got = r.json()
        assert got["sha256"] == hashlib.sha256(PDF).hexdigest()
        assert got["content_type"] == "application/pdf" and got["size_bytes"] == len(PDF)
        assert got["filename"] == "Tờ khai khai sinh.pdf"
        root = intake.settings.resolved_attachment_dir()
        [stored] = _stored_files(root)
        assert stored.name == got["id"] and stored.read_bytes() == PDF

        content = await intake.client.get(f"/v1/attachments/{got['id']}/content", headers=me)
        assert content.content == PDF
        assert content.headers["content-type"] == "application/pdf"
        assert content.headers["x-content-type-options"] == "nosniff"
        assert (await intake.client.get(f"/v1/attachments/{got['id']}",
                                        headers=me)).json() == got

    async def test_idempotent_upload(self, mesh: Mesh, intake) -> None:
        key = {"Idempotency-Key": "up-1"}
        me = citizen(mesh, PID)
        first = await upload(intake, PDF, "a.pdf", who=me, **key)
        again = await upload(intake, PDF, "a.pdf", who=me, **key)
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        problem(await upload(intake, PNG, "b.png", "image/png", who=me, **key), 409,
                "idempotency.key_reused")
        assert await table_count(intake, Attachment.__table__) == 1
        assert len(_stored_files(intake.settings.resolved_attachment_dir())) == 1

    REFUSED = [
        (EXE, "giay-chung-sinh.pdf", "application/pdf", 415, "attachment.type_mismatch"),
        (EXE, "setup.exe", "application/octet-stream", 415, "attachment.type_not_allowed"),
        (PDF, "scan.exe", "application/pdf", 415, "attachment.type_not_allowed"),
        (PNG, "anh.pdf", "application/pdf", 415, "attachment.type_mismatch"),
        (PDF, "to-khai.pdf", "image/png", 415, "attachment.type_mismatch"),
        (b"", "empty.pdf", "application/pdf", 422, "attachment.empty"),
        (PDF, "../../etc/passwd.pdf", "application/pdf", 422, "attachment.filename_invalid"),
        (PDF, "..\\..\\boot.pdf", "application/pdf", 422, "attachment.filename_invalid"),
        (PDF, "CON.pdf", "application/pdf", 422, "attachment.filename_invalid"),
        (PDF + b"0" * (64 * 1024), "big.pdf", "application/pdf", 413, "attachment.too_large"),
    ]

    async def test_refused_uploads_leave_nothing(self, mesh: Mesh, intake) -> None:
        for content, filename, declared, status, code in self.REFUSED:
            r = await upload(intake, content, filename, declared, who=citizen(mesh, PID))
            problem(r, status, code)
            assert await table_count(intake, Attachment.__table__) == 0, filename
            assert _stored_files(intake.settings.resolved_attachment_dir()) == [], filename

    async def test_control_characters_in_a_raw_filename(self, mesh: Mesh, intake) -> None:
        body = (b'--B\r\nContent-Disposition: form-data; name="file"; filename="a\x01b.pdf"'
                b"\r\nContent-Type: application/pdf\r\n\r\n" + PDF + b"\r\n--B--\r\n")
        r = await intake.client.post("/v1/attachments", content=body, headers={
            "content-type": "multipart/form-data; boundary=B", **citizen(mesh, PID)})
        problem(r, 422, "attachment.filename_invalid")
        assert await table_count(intake, Attachment.__table__) == 0

    async def test_body_far_over_the_limit_is_cut_off(self, mesh: Mesh, intake) -> None:
        r = await upload(intake, PDF + b"0" * (400 * 1024), "huge.pdf", who=citizen(mesh, PID))
        problem(r, 413, "request.too_large")
        assert await table_count(intake, Attachment.__table__) == 0

    async def test_missing_file_field(self, mesh: Mesh, intake) -> None:
        r = await intake.client.post("/v1/attachments", data={"other": "x"},
                                     headers=citizen(mesh, PID))
        body = problem(r, 422, "request.validation_failed")
        assert body["errors"][0]["field"] == "file"
