"""Helpers for intake's tests: start a seeded intake, upload files, count rows."""

from __future__ import annotations

import io
from typing import Any

from motcua.db import outbox_table
from motcua.testing import Mesh, RunningService
from motcua_intake.attachments.models import Attachment
from motcua_intake.dossiers.models import Dossier, DossierDocument, DossierHistory
from tests.e2e.helpers import dossier_body, table_count

PROBLEM = "application/problem+json"
#: The smallest files that pass the magic-byte check.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXE = b"MZ\x90\x00" + b"\x00" * 60


def centre(mesh: Mesh) -> str:
    """The sample provincial centre."""
    return f"000.00.17.{mesh.province}"


def ward(mesh: Mesh) -> str:
    """A sample commune (competent for commune procedures)."""
    return f"000.01.17.{mesh.province}"


def commune(mesh: Mesh) -> str:
    """The other sample commune."""
    return f"000.02.17.{mesh.province}"


async def start_intake(mesh: Mesh, **overrides: Any) -> RunningService:
    """Intake for the mesh's province, seeded with the sample catalog."""
    mesh.overrides.update(overrides)
    intake = await mesh.start("intake")
    await mesh.specs["intake"].seed(mesh.settings("intake"))
    return intake


async def upload(intake: RunningService, content: bytes = PDF, filename: str = "scan.pdf",
                 content_type: str = "application/pdf", **headers: str) -> Any:
    """POST a file to /v1/attachments."""
    return await intake.client.post(
        "/v1/attachments", files={"file": (filename, io.BytesIO(content), content_type)},
        headers=headers)


async def upload_id(intake: RunningService, content: bytes = PDF,
                    filename: str = "scan.pdf") -> str:
    """Upload and return the attachment id."""
    kind = {"pdf": "application/pdf", "png": "image/png"}.get(filename.rsplit(".", 1)[-1],
                                                             "application/octet-stream")
    r = await upload(intake, content, filename, kind)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def online_body(intake: RunningService, mesh: Mesh, **overrides: Any) -> dict[str, Any]:
    """A complete online birth registration, its files uploaded."""
    a, b = await upload_id(intake), await upload_id(intake, PNG, "chung-sinh.png")
    body = dossier_body(ward(mesh), channel="online", reception_point=None, documents=[
        {"component_code": "to_khai_khai_sinh", "source": "upload", "attachment_ids": [a]},
        {"component_code": "giay_chung_sinh", "source": "upload", "attachment_ids": [b]},
        {"component_code": "giay_to_tuy_than", "source": "data_store",
         "data_store_ref": "vneid:cccd"},
    ])
    body.update(overrides)
    return body


async def submit(intake: RunningService, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    """Submit and return the dossier (asserting 201)."""
    r = await intake.client.post("/v1/dossiers", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def act(intake: RunningService, code: str, action: str, body: dict[str, Any] | None = None,
              expect: int = 200, **headers: str) -> dict[str, Any]:
    """POST an action under /v1/dossiers/{code}/ and check the status."""
    r = await intake.client.post(f"/v1/dossiers/{code}/{action}", json=body or {},
                                 headers=headers)
    assert r.status_code == expect, r.text
    return r.json()


async def written(intake: RunningService) -> dict[str, int]:
    """Row counts of everything a dossier request may write."""
    return {
        "dossiers": await table_count(intake, Dossier.__table__),
        "documents": await table_count(intake, DossierDocument.__table__),
        "history": await table_count(intake, DossierHistory.__table__),
        "outbox": await table_count(intake, outbox_table),
        "attached": await table_count(intake, Attachment.__table__,
                                      Attachment.__table__.c.dossier_code.is_not(None)),
    }


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    """Assert a problem+json answer and return it."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM, r.headers
    body = r.json()
    assert body["code"] == code, body
    assert "Traceback" not in r.text
    return body


async def publish_case_status(mesh: Mesh, code: str, agency_code: str, status: int,
                              sequence: int) -> None:
    """Publish workflow's ``case.status_changed`` on the wire, as workflow does.

    Workflow cannot yet request supplements or complete cases (issue 4); until it can,
    this puts the very message it will publish on its real subject.
    """
    import nats

    from motcua.contracts.workflow import CaseStatusChangedV1
    from motcua.db import utcnow
    from motcua.events import Envelope

    data = CaseStatusChangedV1(case_id=f"case-{code}", dossier_code=code,
                               agency_code=agency_code, occurred_at=utcnow(), status=status)
    envelope = Envelope.wrap(data, province=mesh.province, key=code, sequence=sequence)
    nc = await nats.connect(mesh.nats_url)
    try:
        await nc.jetstream().publish(data.subject(mesh.province), envelope.to_bytes(),
                                     headers={"Nats-Msg-Id": envelope.id})
    finally:
        await nc.close()


async def status_of(intake: RunningService, code: str) -> int:
    """The dossier's current status."""
    return (await intake.client.get(f"/v1/dossiers/{code}")).json()["status"]
