"""The catalog through the API: seed, lists, versions, publication, import and export."""

from __future__ import annotations

import json

from motcua.testing import Mesh
from motcua_intake.catalog.csvio import from_csv
from motcua_intake.catalog.models import Procedure
from motcua_intake.catalog.sample import SEED_FILE
from tests.e2e.helpers import dossier_body, table_count
from tests.motcua_intake.helpers import catalog_admin, centre, desk, problem, ward

NEW = {
    "national_code": "1.999001", "name_vi": "Thủ tục mẫu cấp giấy xác nhận",
    "name_en": "Sample confirmation", "field_vi": "Hộ tịch", "level": "commune",
    "statutory_time": {"amount": 2, "unit": "working_days"},
    "fee_lines": [{"code": "le_phi", "kind": "fee", "label_vi": "Lệ phí", "amount_vnd": 5000}],
    "components": [{"code": "don", "name_vi": "Đơn đề nghị", "required": True}],
}


class TestSeed:
    async def test_seed_is_complete_and_idempotent(self, mesh: Mesh, intake) -> None:
        seeded = json.loads(SEED_FILE.read_text(encoding="utf-8"))["procedures"]
        assert await table_count(intake, Procedure.__table__) == len(seeded) >= 20
        assert "0 agencies and 0 procedures added" == \
            await mesh.specs["intake"].seed(mesh.settings("intake"))
        page = (await intake.client.get("/v1/procedures", params={"limit": 200})).json()
        assert {p["status"] for p in page["items"]} == {"published"}
        assert all(p["published_at"] for p in page["items"])
        bundles = (await intake.client.get("/v1/procedures",
                                           params={"bundle": "true"})).json()["items"]
        assert {b["national_code"] for b in bundles} == \
            {"3.000722", "2.000986", "2.001023", "1.011537"}
        birth = (await intake.client.get("/v1/procedures/3.000722")).json()
        assert birth["definition"]["bundle"]["members"][:3] == ["1.001193", "1.004222",
                                                                "1.014137"]

    async def test_lists_filter_and_page(self, mesh: Mesh, intake) -> None:
        seen, cursor = [], None
        while True:
            params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
            page = (await intake.client.get("/v1/procedures", params=params)).json()
            seen += [p["national_code"] for p in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == sorted(seen) and len(seen) == len(set(seen)) == 35
        province = (await intake.client.get("/v1/procedures", params={
            "level": "province"})).json()["items"]
        assert province and {p["level"] for p in province} == {"province"}
        at_ward = (await intake.client.get("/v1/procedures", params={
            "reception_point": ward(mesh), "limit": 200})).json()["items"]
        assert "3.000347" not in {p["national_code"] for p in at_ward}  # ministry-assigned
        found = (await intake.client.get("/v1/procedures", params={"q": "khai sinh"})).json()
        assert "1.001193" in {p["national_code"] for p in found["items"]}
        problem(await intake.client.get("/v1/procedures", params={"cursor": "%%%"}), 422,
                "pagination.cursor_invalid")
        problem(await intake.client.get("/v1/procedures/9.999999"), 404, "procedure.not_found")


class TestLifecycle:
    async def test_create_update_publish_versions(self, mesh: Mesh, intake) -> None:
        body = {**NEW, "agencies": [ward(mesh)], "reception_points": [ward(mesh), centre(mesh)]}
        # the ward's agency_admin maintains the procedures the ward decides
        admin = desk(mesh, ward(mesh), "agency_admin")
        created = await intake.client.post("/v1/procedures", json=body, headers=admin)
        assert created.status_code == 201, created.text
        assert (created.json()["status"], created.json()["version"]) == ("draft", 1)
        problem(await intake.client.post("/v1/procedures", json=body, headers=admin), 409,
                "procedure.exists")

        # a draft does not accept dossiers
        clerk = desk(mesh)
        submission = dossier_body(ward(mesh), procedure_code="1.999001",
                                  documents=[{"component_code": "don", "source": "paper"}])
        problem(await intake.client.post("/v1/dossiers", json=submission, headers=clerk), 422,
                "procedure.not_available")

        published = await intake.client.post("/v1/procedures/1.999001/publication",
                                             json={"valid_from": "2020-01-01",
                                                   "decision_date": "2019-12-20"},
                                             headers=admin)
        assert published.json()["status"] == "published" and published.json()["published_at"]
        assert published.json()["decision_date"] == "2019-12-20"
        first = await intake.client.post("/v1/dossiers", json=submission, headers=clerk)
        assert first.status_code == 201, first.text
        assert first.json()["procedure_version"] == 2

        changed = {**body, "statutory_time": {"amount": 3, "unit": "working_days"}}
        updated = (await intake.client.put("/v1/procedures/1.999001", json=changed,
                                           headers=admin)).json()
        assert updated["version"] == 3 and updated["status"] == "published"
        versions = (await intake.client.get("/v1/procedures/1.999001/versions")).json()
        assert [v["version"] for v in versions] == [1, 2, 3]
        old = (await intake.client.get("/v1/procedures/1.999001", params={"version": 2})).json()
        assert old["definition"]["statutory_time"]["amount"] == 2

        # the dossier keeps the rules it was submitted under
        received = await intake.client.post(f"/v1/dossiers/{first.json()['code']}/reception",
                                            json={}, headers=clerk)
        assert received.json()["statutory_time"]["amount"] == 2
        # a new dossier is taken under the new version at once: this process's cached
        # catalog, the parsed definition included, follows the change
        again = await intake.client.post("/v1/dossiers", headers=clerk,
                                         json={**submission, "receive_now": True})
        assert again.status_code == 201, again.text
        assert again.json()["procedure_version"] == 3
        assert again.json()["statutory_time"]["amount"] == 3

        expired = await intake.client.post("/v1/procedures/1.999001/publication",
                                           json={"valid_from": "2020-01-01",
                                                 "valid_to": "2020-12-31"}, headers=admin)
        assert expired.status_code == 200
        problem(await intake.client.post("/v1/dossiers", json=submission, headers=clerk), 422,
                "procedure.not_available")

        # withdrawn (no longer a procedure of the catalog's denominators): no dossiers
        withdrawn = await intake.client.post("/v1/procedures/1.999001/publication",
                                             json={"status": "withdrawn"}, headers=admin)
        assert withdrawn.json()["status"] == "withdrawn", withdrawn.text
        assert withdrawn.json()["valid_to"] == "2020-12-31"  # kept
        problem(await intake.client.post("/v1/procedures/1.999001/publication",
                                         json={"status": "withdrawn"}, headers=admin), 409,
                "procedure.not_published")
        listed = (await intake.client.get("/v1/procedures",
                                          params={"status": "withdrawn"})).json()["items"]
        assert [p["national_code"] for p in listed] == ["1.999001"]

    async def test_references_must_resolve(self, mesh: Mesh, intake) -> None:
        body = {**NEW, "agencies": ["000.99.99.ZZZ"],
                "bundle": {"members": ["1.001193", "8.888888"]}}
        p = problem(await intake.client.post("/v1/procedures", json=body,
                                             headers=catalog_admin(mesh)), 422,
                    "catalog.invalid")
        assert {e["field"] for e in p["errors"]} == {"agencies.0", "bundle.members.1"}
        bad = {**NEW, "statutory_time": {"amount": 2}, "level": "district"}
        p = problem(await intake.client.post("/v1/procedures", json=bad,
                                             headers=catalog_admin(mesh)), 422,
                    "request.validation_failed")
        assert {e["field"] for e in p["errors"]} >= {"level", "statutory_time"}
        # Statutory times beyond ten years of working days (no database integer held
        # some of them: they answered 500).
        for time in ({"amount": 10**12, "unit": "working_days"},
                     {"amount": 2601, "unit": "working_days"},
                     {"amount": 5, "unit": "working_days", "per_channel": {"online": 2601}}):
            p = problem(await intake.client.post("/v1/procedures",
                                                 json={**NEW, "statutory_time": time},
                                                 headers=catalog_admin(mesh)), 422,
                        "request.validation_failed")
            assert p["errors"][0]["field"].startswith("statutory_time."), p
        assert await table_count(intake, Procedure.__table__) == 35


class TestImportExport:
    async def test_json_round_trip(self, mesh: Mesh, intake) -> None:
        exported = await intake.client.get("/v1/procedures/export")
        doc = exported.json()
        assert len(doc["procedures"]) == 35
        admin = catalog_admin(mesh)
        again = await intake.client.post("/v1/procedures/import", json=doc, headers=admin)
        assert again.json()["unchanged"] == sorted(p["national_code"]
                                                   for p in doc["procedures"])
        doc["procedures"].append({**NEW, "agencies": [ward(mesh)]})
        result = (await intake.client.post("/v1/procedures/import", json=doc,
                                           params={"publish": "true"}, headers=admin)).json()
        assert result["created"] == ["1.999001"] and result["published"] == ["1.999001"]

    async def test_csv_round_trip(self, mesh: Mesh, intake) -> None:
        sheet = await intake.client.get("/v1/procedures/export", params={"format": "csv"})
        assert sheet.headers["content-type"].startswith("text/csv")
        text = sheet.text
        parsed = from_csv(text)
        exported = (await intake.client.get("/v1/procedures/export")).json()
        assert [p.model_dump(mode="json") for p in parsed.procedures] == exported["procedures"]
        admin = catalog_admin(mesh)
        result = await intake.client.post("/v1/procedures/import.csv", content=text.encode(),
                                          headers={"content-type": "text/csv", **admin})
        assert len(result.json()["unchanged"]) == 35

        broken = text.replace("working_days", "fortnights", 1)
        p = problem(await intake.client.post("/v1/procedures/import.csv",
                                             content=broken.encode(), headers=admin), 422,
                    "catalog.csv_invalid")
        assert p["errors"][0]["field"].startswith("rows.2.statutory_time")

        # A bare carriage return is read as a line break (the csv module refused it: 500).
        p = problem(await intake.client.post("/v1/procedures/import.csv",
                                             content=b"national_code\ra\rb\n", headers=admin),
                    422, "catalog.csv_invalid")
        assert {e["code"] for e in p["errors"]} <= {"field.required", "field.unknown"}
        # A NUL character cannot be stored (PostgreSQL refuses it in text): refused where
        # the sheet is read, naming its cell, on both backends.
        nul = text.replace("working_days", "working_days\x00", 1)
        p = problem(await intake.client.post("/v1/procedures/import.csv",
                                             content=nul.encode(), headers=admin), 422,
                    "catalog.csv_invalid")
        assert p["errors"] == [{"field": "rows.2.statutory_unit",
                                "code": "field.nul_character",
                                "message": "NUL characters (U+0000) are not accepted"}]
        # Or escaped inside a cell's JSON (a fee's label), named by the field it fills.
        at = text.index('""label_vi"": ""') + len('""label_vi"": ""')
        line = text.count("\n", 0, at) + 1
        nul = text[:at] + "\\u0000" + text[at:]
        p = problem(await intake.client.post("/v1/procedures/import.csv",
                                             content=nul.encode(), headers=admin), 422,
                    "catalog.csv_invalid")
        assert [(e["field"], e["code"]) for e in p["errors"]] == [
            (f"rows.{line}.fee_lines.0.label_vi", "field.nul_character")]


class TestAgencies:
    async def test_merger_maps_old_codes(self, mesh: Mesh, intake) -> None:
        new = f"000.03.17.{mesh.province}"
        admin = catalog_admin(mesh)
        r = await intake.client.post("/v1/agencies", json={
            "code": new, "name_vi": "UBND phường mới (mẫu)", "level": "commune",
            "valid_from": "2025-07-01", "replaces": [f"000.02.17.{mesh.province}"]},
            headers=admin)
        assert r.status_code == 201, r.text
        old = (await intake.client.get(f"/v1/agencies/000.02.17.{mesh.province}")).json()
        assert old["replaced_by"] == new and old["valid_to"] == "2025-07-01"
        old_code = f"000.02.17.{mesh.province}"
        p = problem(await intake.client.post("/v1/dossiers", json=dossier_body(old_code),
                                             headers=desk(mesh, old_code)),
                    422, "agency.replaced")
        assert p["replaced_by"] == new
        listed = (await intake.client.get("/v1/agencies")).json()["items"]
        assert len(listed) == 4
        problem(await intake.client.post("/v1/agencies", json={
            "code": new, "name_vi": "x", "level": "commune"}, headers=admin), 409,
            "agency.exists")

    async def test_child_agency_by_its_parents_admin(self, mesh: Mesh, intake) -> None:
        child = {"code": f"001.00.17.{mesh.province}", "name_vi": "Điểm tiếp nhận (mẫu)",
                 "level": "other", "parent_code": centre(mesh)}
        r = await intake.client.post("/v1/agencies", json=child,
                                     headers=desk(mesh, centre(mesh), "agency_admin"))
        assert r.status_code == 201, r.text
        assert r.json()["parent_code"] == centre(mesh)
        unknown = {**child, "code": f"002.00.17.{mesh.province}", "parent_code": "999.ZZZ"}
        p = problem(await intake.client.post("/v1/agencies", json=unknown,
                                             headers=catalog_admin(mesh)), 422,
                    "catalog.invalid")
        assert p["errors"][0]["field"] == "parent_code"
