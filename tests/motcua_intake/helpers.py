"""Helpers for intake's tests: start a seeded intake, callers, upload files, count rows.

Every request carries a realistic caller (a mesh token from ``mesh.mint``): the citizen
whose dossier it is, a receptionist of the desk, a service with its scope.
"""

from __future__ import annotations

import io
from typing import Any

from motcua.db import outbox_table
from motcua.events import Envelope
from motcua.testing import Mesh, RunningService, wait_for
from motcua_intake.attachments.models import Attachment
from motcua_intake.dossiers.models import Dossier, DossierDocument, DossierHistory
from tests.e2e.helpers import dossier_body, stream_messages, table_count

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


Headers = dict[str, str]


def desk(mesh: Mesh, agency: str | None = None, *roles: str) -> Headers:
    """An officer of ``agency`` (default: the ward) with ``roles`` (default receptionist).

    The subject is stable per agency and roles, so what one desk uploads it may attach.
    """
    agency = agency or ward(mesh)
    roles = roles or ("receptionist",)
    return mesh.mint.officer(agency, *roles, subject=f"officer-{'-'.join(roles)}@{agency}")


def staff(mesh: Mesh) -> Headers:
    """An officer holding every role in the three sample agencies (lists, slips)."""
    return mesh.mint.officer({a: ["receptionist", "processor", "approver", "auditor"]
                              for a in (centre(mesh), ward(mesh), commune(mesh))},
                             subject="officer-staff")


def citizen(mesh: Mesh, who: str | dict[str, Any]) -> Headers:
    """The citizen with personal ID ``who``, or the applicant of the dossier body ``who``."""
    pid = who if isinstance(who, str) else who["applicant"]["id_number"]
    return mesh.mint.citizen(pid)


def service(mesh: Mesh, *scopes: str) -> Headers:
    """A mesh service with ``scopes``."""
    return mesh.mint.service("test-service", *scopes)


def catalog_admin(mesh: Mesh) -> Headers:
    """The service that maintains the catalog (scope catalog.write)."""
    return mesh.mint.service("catalog-admin", "catalog.write")


def submitter(mesh: Mesh, body: dict[str, Any]) -> Headers:
    """Who submits ``body`` in practice: the applicant online, else the receiving desk."""
    if body["channel"] == "online":
        return citizen(mesh, body)
    return desk(mesh, body.get("reception_point"))


async def start_intake(mesh: Mesh, **overrides: Any) -> RunningService:
    """Intake for the mesh's province, seeded with the sample catalog."""
    mesh.overrides.update(overrides)
    intake = await mesh.start("intake")
    await mesh.specs["intake"].seed(mesh.settings("intake"))
    # The seed announces its catalog (procedure.published) through the outbox; let the
    # relay publish it before the test starts, so its events come first on the stream.
    await wait_for(lambda: _all_published(intake), what="the seed's catalog announced")
    return intake


async def _all_published(intake: RunningService) -> bool:
    return await table_count(intake, outbox_table, outbox_table.c.published_at.is_(None)) == 0


async def upload(intake: RunningService, content: bytes = PDF, filename: str = "scan.pdf",
                 content_type: str = "application/pdf", *, who: Headers,
                 **headers: str) -> Any:
    """POST a file to /v1/attachments as ``who``."""
    return await intake.client.post(
        "/v1/attachments", files={"file": (filename, io.BytesIO(content), content_type)},
        headers={**who, **headers})


async def upload_id(intake: RunningService, content: bytes = PDF,
                    filename: str = "scan.pdf", *, who: Headers) -> str:
    """Upload as ``who`` and return the attachment id."""
    kind = {"pdf": "application/pdf", "png": "image/png"}.get(filename.rsplit(".", 1)[-1],
                                                             "application/octet-stream")
    r = await upload(intake, content, filename, kind, who=who)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def online_body(intake: RunningService, mesh: Mesh, **overrides: Any) -> dict[str, Any]:
    """A complete online birth registration, its files uploaded by the applicant."""
    body = dossier_body(ward(mesh), channel="online", reception_point=None)
    applicant = citizen(mesh, body)
    a = await upload_id(intake, who=applicant)
    b = await upload_id(intake, PNG, "chung-sinh.png", who=applicant)
    body["documents"] = [
        {"component_code": "to_khai_khai_sinh", "source": "upload", "attachment_ids": [a]},
        {"component_code": "giay_chung_sinh", "source": "upload", "attachment_ids": [b]},
        {"component_code": "giay_to_tuy_than", "source": "data_store",
         "data_store_ref": "vneid:cccd"},
    ]
    body.update(overrides)
    return body


async def submit(intake: RunningService, body: dict[str, Any], who: Headers,
                 **headers: str) -> dict[str, Any]:
    """Submit as ``who`` and return the dossier (asserting 201)."""
    r = await intake.client.post("/v1/dossiers", json=body, headers={**who, **headers})
    assert r.status_code == 201, r.text
    return r.json()


async def act(intake: RunningService, code: str, action: str, body: dict[str, Any] | None = None,
              *, who: Headers, expect: int = 200, **headers: str) -> dict[str, Any]:
    """POST an action under /v1/dossiers/{code}/ as ``who`` and check the status."""
    r = await intake.client.post(f"/v1/dossiers/{code}/{action}", json=body or {},
                                 headers={**who, **headers})
    assert r.status_code == expect, r.text
    return r.json()


async def written(intake: RunningService) -> dict[str, int]:
    """Row counts of everything a dossier request may write (dossier events only: the
    seed's catalog announcements are in the outbox too)."""
    return {
        "dossiers": await table_count(intake, Dossier.__table__),
        "documents": await table_count(intake, DossierDocument.__table__),
        "history": await table_count(intake, DossierHistory.__table__),
        "outbox": await table_count(intake, outbox_table,
                                    outbox_table.c.event_type.like("%.intake.dossier.%")),
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


async def status_of(intake: RunningService, code: str, who: Headers) -> int:
    """The dossier's current status, as ``who`` reads it."""
    r = await intake.client.get(f"/v1/dossiers/{code}", headers=who)
    assert r.status_code == 200, r.text
    return r.json()["status"]


async def dossier_events(mesh: Mesh, n: int) -> list[Envelope]:
    """The first ``n`` dossier events intake published (waiting for them)."""
    async def enough():  # type: ignore[no-untyped-def]
        msgs = await stream_messages(mesh.nats_url, mesh.province, "intake", "dossier.>")
        return msgs if len(msgs) >= n else None

    return [Envelope.from_bytes(m.data) for m in await wait_for(enough, what=f"{n} events")]
