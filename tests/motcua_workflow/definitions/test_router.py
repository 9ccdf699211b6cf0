"""Process definitions over HTTP: YAML/JSON import, versions, binding of new cases."""

from __future__ import annotations

from motcua.testing import Mesh
from tests.motcua_workflow.helpers import (
    DEFINITIONS_ADMIN,
    Intake,
    ManualClock,
    agency,
    at,
    officer,
    start_workflow,
    wait_case,
)

YAML = """
definitions:
  - procedure_code: "1.004194"
    name: Đăng ký tạm trú
    statutory_time: {amount: 3, unit: working_days}
    steps:
      - {key: check, name_vi: Kiểm tra, role: processor, budget_hours: 16,
         actions: [forward, request_supplement, refuse]}
      - {key: sign, name_vi: Ký duyệt, role: approver, budget_hours: 8,
         actions: [complete, return_result, send_back]}
  - procedure_code: "1.001612"
    name: Đăng ký thành lập hộ kinh doanh
    statutory_time: {amount: 3, unit: working_days}
    steps:
      - {key: all, name_vi: Xử lý, role: specialist, budget_percent: 100,
         actions: [complete, return_result]}
"""


def _yaml(wf, admin: dict[str, str], text: str):
    """Import a YAML document as ``admin`` (the province's administration tooling)."""
    return wf.client.post("/v1/process-definitions/import", content=text.encode(),
                          headers={"content-type": "application/yaml", **admin})


async def _start(mesh: Mesh):
    """Workflow, and the headers of the service allowed to store definitions."""
    wf = await start_workflow(mesh, ManualClock(at(2026, 3, 2, 8)))
    return wf, mesh.mint.service(*DEFINITIONS_ADMIN)


class TestDefinitions:
    async def test_import_versions_and_binding(self, mesh: Mesh) -> None:
        wf, admin = await _start(mesh)
        first = await _yaml(wf, admin, YAML)
        assert first.status_code == 200, first.text
        assert [(d["procedure_code"], d["version"]) for d in first.json()] == [
            ("1.004194", 1), ("1.001612", 1)]
        # A role name of earlier definitions is stored as the mesh role it stands for.
        assert first.json()[1]["definition"]["steps"][0]["role"] == "processor"
        # Importing the same document again adds no version.
        again = await _yaml(wf, admin, YAML)
        assert [d["version"] for d in again.json()] == [1, 1]

        a = agency(mesh)
        async with Intake(mesh) as intake:
            old = intake.code(a)
            await intake.submit(old, a, procedure="1.004194")
            await wait_case(wf, old, status=1)
            changed = await _yaml(wf, admin,
                                  YAML.replace("budget_hours: 16", "budget_hours: 12"))
            assert changed.json()[0]["version"] == 2
            new = intake.code(a)
            await intake.submit(new, a, procedure="1.004194")
            case = await wait_case(wf, new, status=1)
        assert case["definition"] == {"procedure_code": "1.004194", "version": 2}
        # A case keeps the version it started with.
        assert (await wait_case(wf, old))["definition"]["version"] == 1
        versions = (await wf.client.get("/v1/process-definitions/1.004194/versions")).json()
        assert [v["version"] for v in versions] == [1, 2]
        as_officer = officer(mesh, a, "auditor")
        v1 = (await wf.client.get("/v1/process-definitions/1.004194/versions/1",
                                  headers=as_officer)).json()
        assert v1["definition"]["steps"][0]["budget_hours"] == 16
        # A version no database integer holds (found by schemathesis: it answered 500).
        huge = await wf.client.get("/v1/process-definitions/1.004194/versions/" + "9" * 25,
                                   headers=as_officer)
        assert huge.status_code == 422 and huge.json()["code"] == "request.validation_failed"
        missing = await wf.client.get("/v1/process-definitions/1.004194/versions/2147483647",
                                      headers=as_officer)
        assert missing.status_code == 404
        listing = (await wf.client.get("/v1/process-definitions", params={"limit": 1})).json()
        assert len(listing["items"]) == 1 and listing["next_cursor"]

    async def test_json_create_is_idempotent(self, mesh: Mesh) -> None:
        wf, admin = await _start(mesh)
        body = {"procedure_code": "1.004222", "name": "Đăng ký thường trú",
                "statutory_time": {"amount": 7, "unit": "working_days"},
                "steps": [{"key": "all", "name_vi": "Xử lý", "role": "processor",
                           "budget_hours": 56, "actions": ["complete", "return_result"]}]}
        key = {"Idempotency-Key": "def-1", **admin}
        created = await wf.client.post("/v1/process-definitions", json=body, headers=key)
        assert created.status_code == 201, created.text
        replay = await wf.client.post("/v1/process-definitions", json=body, headers=key)
        assert replay.status_code == 201 and replay.json()["id"] == created.json()["id"]
        reused = await wf.client.post("/v1/process-definitions", json={**body, "name": "y"},
                                      headers=key)
        assert reused.status_code == 409
        assert reused.json()["code"] == "idempotency.key_reused"
        same = await wf.client.post("/v1/process-definitions", json=body, headers=admin)
        assert same.status_code == 200 and same.json()["version"] == 1
        # A role that is not an officer role of the mesh is refused.
        police = {**body, "steps": [{**body["steps"][0], "role": "police_officer"}]}
        unknown = await wf.client.post("/v1/process-definitions", json=police,
                                       headers=admin)
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == \
            "steps.0.role"

    async def test_bad_documents_are_problems(self, mesh: Mesh, backend: str) -> None:
        wf, admin = await _start(mesh)
        malformed = await _yaml(wf, admin, "steps: [unclosed")
        assert malformed.status_code == 400
        assert malformed.json()["code"] == "definition.document_malformed"
        invalid = await _yaml(wf, admin, YAML.replace("budget_hours: 8", "budget_hours: 80"))
        assert invalid.status_code == 422
        body = invalid.json()
        assert body["code"] == "definition.invalid"
        assert body["errors"][0]["field"] == "definitions.0"
        assert "statutory time" in body["errors"][0]["message"]
        # A NUL written as a YAML escape: PostgreSQL could not store it, so it is refused
        # where the document is read, with its field, on both backends; nothing stored.
        nul = await _yaml(wf, admin, YAML.replace("Đăng ký tạm trú", '"Đăng ký\\0"'))
        assert nul.status_code == 422, nul.text
        assert nul.json()["code"] == "definition.invalid"
        assert nul.json()["errors"] == [{"field": "definitions.0.name",
                                         "code": "field.nul_character",
                                         "message": "NUL characters (U+0000) are not accepted"}]
        listed = await wf.client.get("/v1/process-definitions")
        assert listed.json()["items"] == []
        # A list inside itself (YAML anchors) is a definition error, not a 500.
        cyclic = await _yaml(wf, admin, YAML.replace("Đăng ký tạm trú", "&a [*a]"))
        assert cyclic.status_code == 422, cyclic.text
        assert cyclic.json()["code"] == "definition.invalid"
        wrong_type = await wf.client.post("/v1/process-definitions/import", content=b"x",
                                          headers={"content-type": "text/plain", **admin})
        assert wrong_type.status_code == 415
        missing = await wf.client.get("/v1/process-definitions/9.999999")
        assert missing.status_code == 404
        assert missing.json()["code"] == "definition.not_found"
