"""Who may call what (docs/intake.md "Who may call what"), with real mesh tokens.

Citizens see only their own dossiers (someone else's answers like an unknown code),
officers only their agencies' (403 ``auth.agency_forbidden``), roles are checked in the
dossier's agency, the catalog and tracking stay public, and every dossier event carries
the applicant's owner reference instead of the number.
"""

from __future__ import annotations

import json
import re

from motcua.auth import access_of, api_routes, owner_ref, undeclared_routes
from motcua.contracts.intake import DossierReceivedV1, DossierSubmittedV1
from motcua.testing import Mesh, RunningService
from tests.e2e.helpers import dossier_body
from tests.motcua_intake.helpers import (
    PDF,
    act,
    catalog_admin,
    centre,
    citizen,
    commune,
    desk,
    dossier_events,
    online_body,
    problem,
    service,
    submit,
    upload,
    upload_id,
    ward,
    written,
)

UNKNOWN = "000.01.17.X-260101-0001"


async def _online(intake: RunningService, mesh: Mesh) -> tuple[dict, dict]:
    """A citizen's online dossier: (the dossier, the citizen's headers)."""
    body = await online_body(intake, mesh)
    who = citizen(mesh, body)
    return await submit(intake, body, who), who


async def _codes(intake: RunningService, who: dict, **params) -> list[str]:  # type: ignore[no-untyped-def]
    r = await intake.client.get("/v1/dossiers", params={"limit": 200, **params}, headers=who)
    assert r.status_code == 200, r.text
    return [d["code"] for d in r.json()["items"]]


class TestDeclarations:
    async def test_every_route_declares_its_callers(self, mesh: Mesh, intake) -> None:
        assert undeclared_routes(intake.app) == []

    async def test_protected_routes_answer_401_without_a_token(self, mesh: Mesh,
                                                               intake) -> None:
        protected = [(m, r.path) for r in api_routes(intake.app)
                     if access_of(r) == "protected" for m in r.methods]
        assert len(protected) >= 20
        for method, path in protected:
            url = re.sub(r"\{[^}]+\}", "x", path)
            r = await intake.client.request(method, url, json={})
            problem(r, 401, "auth.token_missing")
            assert r.headers["www-authenticate"].startswith("Bearer"), (method, path)
        # a bad token is refused as well, before any handler runs
        r = await intake.client.get("/v1/dossiers", headers={"authorization": "Bearer x.y.z"})
        problem(r, 401, "auth.token_invalid")

    async def test_catalog_and_tracking_are_public(self, mesh: Mesh, intake) -> None:
        for url in ("/v1/procedures", "/v1/procedures/1.001193",
                    "/v1/procedures/1.001193/versions", "/v1/procedures/export",
                    "/v1/procedures/export?format=csv", "/v1/agencies",
                    f"/v1/agencies/{ward(mesh)}", "/tracking"):
            r = await intake.client.get(url)
            assert r.status_code == 200, (url, r.text)
        body = dossier_body(ward(mesh))
        code = (await submit(intake, body, desk(mesh)))["code"]
        factor = body["applicant"]["id_number"][-4:]
        tracked = await intake.client.get(f"/v1/tracking/{code}", params={"factor": factor})
        assert tracked.status_code == 200 and tracked.json()["status"] == 1
        page = await intake.client.post("/tracking", data={"code": code, "factor": factor})
        assert page.status_code == 200 and code in page.text


class TestCitizens:
    async def test_a_citizen_sees_and_acts_only_on_their_own_dossiers(self, mesh: Mesh,
                                                                      intake) -> None:
        mine, a = await _online(intake, mesh)
        theirs, b = await _online(intake, mesh)
        at_desk = (await submit(intake, dossier_body(ward(mesh)), desk(mesh)))["code"]

        # their own: readable, in their list, printable once received
        assert (await intake.client.get(f"/v1/dossiers/{mine['code']}", headers=a)).json()[
            "code"] == mine["code"]
        assert await _codes(intake, a) == [mine["code"]]
        assert await _codes(intake, b) == [theirs["code"]]
        assert at_desk not in await _codes(intake, a)

        # someone else's: the very answer an unknown code gets
        unknown = problem(await intake.client.get(f"/v1/dossiers/{UNKNOWN}", headers=b), 404,
                          "dossier.not_found")
        for suffix in ("", "/history", "/receipt.pdf", "/refusal.pdf"):
            r = await intake.client.get(f"/v1/dossiers/{mine['code']}{suffix}", headers=b)
            got = problem(r, 404, "dossier.not_found")
            assert got["detail"] == unknown["detail"].replace(UNKNOWN, mine["code"])
        before = await written(intake)
        for action, body in (("withdrawal", {}), ("rating", {"score": 1}),
                             ("supplements", {"documents": [
                                 {"component_code": "giay_chung_sinh", "source": "paper"}]})):
            problem(await intake.client.post(f"/v1/dossiers/{mine['code']}/{action}",
                                             json=body, headers=b), 404, "dossier.not_found")
        assert await written(intake) == before

        # desk decisions are not a citizen's
        problem(await intake.client.post(f"/v1/dossiers/{mine['code']}/reception", json={},
                                         headers=a), 403, "auth.forbidden")
        # the owner withdraws their own
        withdrawn = await act(intake, mine["code"], "withdrawal", {"reason": "Nộp nhầm"},
                              who=a)
        assert withdrawn["status"] == 7

    async def test_a_citizen_submits_online_for_themselves(self, mesh: Mesh, intake) -> None:
        body = await online_body(intake, mesh)
        before = await written(intake)
        someone = citizen(mesh, "001190000777")
        problem(await intake.client.post("/v1/dossiers", json=body, headers=someone), 403,
                "dossier.applicant_not_caller")
        counter = dossier_body(ward(mesh))
        problem(await intake.client.post("/v1/dossiers", json=counter,
                                         headers=citizen(mesh, counter)), 403,
                "dossier.channel_not_allowed")
        assert await written(intake) == before

    async def test_a_citizen_represents_an_organisation(self, mesh: Mesh, intake) -> None:
        rep = citizen(mesh, "038095777001")
        body = dossier_body(centre(mesh), procedure_code="2.001583", channel="online",
                            reception_point=None, documents=[],
                            applicant={"kind": "organisation", "id_number": "0100109106",
                                       "full_name": "Công ty TNHH Mẫu"})
        r = await intake.client.post("/v1/dossiers", json=body, headers=rep)
        if r.status_code == 422 and r.json()["code"] == "dossier.components_missing":
            file_id = await upload_id(intake, who=rep)
            body["documents"] = [{"component_code": m["code"], "source": "upload",
                                  "attachment_ids": [file_id] if i == 0 else
                                  [await upload_id(intake, who=rep)]}
                                 for i, m in enumerate(r.json()["missing"])]
            r = await intake.client.post("/v1/dossiers", json=body, headers=rep)
        assert r.status_code == 201, r.text
        code = r.json()["code"]
        assert await _codes(intake, rep) == [code]
        assert (await intake.client.get(f"/v1/dossiers/{code}", headers=rep)).status_code == 200
        problem(await intake.client.get(f"/v1/dossiers/{code}",
                                        headers=citizen(mesh, "038095777002")), 404,
                "dossier.not_found")
        [submitted] = await dossier_events(mesh, 1)
        assert submitted.data["owner_ref"] is None  # no personal applicant ID
        assert submitted.data["vneid_verified"] is True


class TestOfficers:
    async def test_an_officer_stays_within_their_agencies(self, mesh: Mesh, intake) -> None:
        ward_desk, commune_desk = desk(mesh), desk(mesh, commune(mesh))
        theirs = (await submit(intake, dossier_body(commune(mesh), reception_point=commune(mesh)),
                               commune_desk))["code"]
        ours = (await submit(intake, dossier_body(ward(mesh)), ward_desk))["code"]

        before = await written(intake)
        for method, suffix, body in (("GET", "", None), ("GET", "/history", None),
                                     ("GET", "/receipt.pdf", None),
                                     ("POST", "/reception", {}),
                                     ("POST", "/refusal", {"reasons": ["Sai thẩm quyền"]}),
                                     ("POST", "/withdrawal", {})):
            r = await intake.client.request(method, f"/v1/dossiers/{theirs}{suffix}",
                                            json=body, headers=ward_desk)
            problem(r, 403, "auth.agency_forbidden")
        assert await written(intake) == before
        assert await _codes(intake, ward_desk) == [ours]
        assert await _codes(intake, commune_desk) == [theirs]
        problem(await intake.client.get("/v1/dossiers", params={"agency": commune(mesh)},
                                        headers=ward_desk), 403, "auth.agency_forbidden")
        # an unknown code is still 404, whoever asks
        problem(await intake.client.get(f"/v1/dossiers/{UNKNOWN}", headers=ward_desk), 404,
                "dossier.not_found")

        # the commune's own receptionist receives it; the appointment is theirs
        received = await act(intake, theirs, "reception", who=commune_desk)
        assert received["status"] == 2

    async def test_the_desk_that_received_it_may_act_on_it(self, mesh: Mesh, intake) -> None:
        # postal at the centre for a commune procedure: the centre's desk is involved too
        paper = [{"component_code": c, "source": "paper"}
                 for c in ("to_khai_khai_sinh", "giay_chung_sinh", "giay_to_tuy_than")]
        code = (await submit(intake, dossier_body(commune(mesh), channel="postal",
                                                  reception_point=centre(mesh),
                                                  documents=paper),
                             desk(mesh, centre(mesh))))["code"]
        assert (await intake.client.get(f"/v1/dossiers/{code}",
                                        headers=desk(mesh, commune(mesh)))).status_code == 200
        refused = await act(intake, code, "refusal", {"reasons": ["Thiếu giấy tờ"]},
                            who=desk(mesh, centre(mesh)))
        assert refused["status"] == 3

    async def test_roles_are_checked_in_the_dossiers_agency(self, mesh: Mesh,
                                                            intake) -> None:
        code = (await submit(intake, dossier_body(ward(mesh)), desk(mesh)))["code"]
        processor = desk(mesh, ward(mesh), "processor")
        # an officer of the ward with another role reads it but cannot receive it
        assert (await intake.client.get(f"/v1/dossiers/{code}",
                                        headers=processor)).status_code == 200
        problem(await intake.client.post(f"/v1/dossiers/{code}/reception", json={},
                                         headers=processor), 403, "auth.forbidden")
        # a receptionist elsewhere who is only a processor here
        mixed = mesh.mint.officer({ward(mesh): ["processor"], commune(mesh): ["receptionist"]})
        problem(await intake.client.post(f"/v1/dossiers/{code}/refusal",
                                         json={"reasons": ["x"]}, headers=mixed), 403,
                "auth.agency_forbidden")
        # rating is the applicant's alone
        problem(await intake.client.post(f"/v1/dossiers/{code}/rating", json={"score": 5},
                                         headers=desk(mesh)), 403, "auth.forbidden")

    async def test_officers_submit_what_their_desk_received(self, mesh: Mesh,
                                                           intake) -> None:
        before = await written(intake)
        at_centre = dossier_body(commune(mesh), reception_point=centre(mesh))
        problem(await intake.client.post("/v1/dossiers", json=at_centre, headers=desk(mesh)),
                403, "auth.agency_forbidden")
        online = dossier_body(ward(mesh), channel="online", reception_point=None)
        problem(await intake.client.post("/v1/dossiers", json=online, headers=desk(mesh)),
                403, "dossier.channel_not_allowed")
        assert await written(intake) == before


class TestServices:
    async def test_services_by_scope(self, mesh: Mesh, intake) -> None:
        code = (await submit(intake, dossier_body(ward(mesh)), desk(mesh)))["code"]
        reader = service(mesh, "dossiers.read")
        assert (await intake.client.get(f"/v1/dossiers/{code}",
                                        headers=reader)).status_code == 200
        assert code in await _codes(intake, reader)
        problem(await intake.client.get(f"/v1/dossiers/{code}", headers=service(mesh)), 403,
                "auth.forbidden")
        problem(await intake.client.post("/v1/dossiers", json=dossier_body(ward(mesh)),
                                         headers=reader), 403, "auth.forbidden")
        problem(await intake.client.post(f"/v1/dossiers/{code}/reception", json={},
                                         headers=reader), 403, "auth.forbidden")
        # a submitting service, but reception is a receptionist's act
        submitter = service(mesh, "dossiers.submit")
        problem(await intake.client.post(
            "/v1/dossiers", json=dossier_body(ward(mesh), receive_now=True), headers=submitter),
            403, "auth.forbidden")
        assert (await intake.client.post("/v1/dossiers", json=dossier_body(ward(mesh)),
                                         headers=submitter)).status_code == 201


class TestAttachments:
    async def test_files_are_read_by_the_uploader_the_owner_and_the_agency(
            self, mesh: Mesh, intake) -> None:
        body = dossier_body(ward(mesh), channel="online", reception_point=None)
        a = citizen(mesh, body)
        loose = await upload_id(intake, who=a)
        b = citizen(mesh, "001190000778")
        for who in (b, desk(mesh)):  # not attached yet: only the uploader
            problem(await intake.client.get(f"/v1/attachments/{loose}", headers=who), 404,
                    "attachment.not_found")
        assert (await intake.client.get(f"/v1/attachments/{loose}/content",
                                        headers=a)).content == PDF
        problem(await upload(intake, who=service(mesh, "dossiers.submit")), 403,
                "auth.forbidden")

        parts = [await upload_id(intake, who=a) for _ in range(2)]
        body["documents"] = [
            {"component_code": "to_khai_khai_sinh", "source": "upload",
             "attachment_ids": [parts[0]]},
            {"component_code": "giay_chung_sinh", "source": "upload",
             "attachment_ids": [parts[1]]},
            {"component_code": "giay_to_tuy_than", "source": "data_store",
             "data_store_ref": "vneid:cccd"}]
        await submit(intake, body, a)
        attached = parts[0]
        # the ward's officers (any role) and the owner, in any later session
        for who in (desk(mesh, ward(mesh), "processor"), citizen(mesh, body)):
            r = await intake.client.get(f"/v1/attachments/{attached}/content", headers=who)
            assert r.status_code == 200 and r.content == PDF
        problem(await intake.client.get(f"/v1/attachments/{attached}",
                                        headers=desk(mesh, commune(mesh))), 403,
                "auth.agency_forbidden")
        problem(await intake.client.get(f"/v1/attachments/{attached}", headers=b), 404,
                "attachment.not_found")


NEW = {
    "national_code": "1.999002", "name_vi": "Thủ tục mẫu của phường", "field_vi": "Hộ tịch",
    "level": "commune", "statutory_time": {"amount": 2, "unit": "working_days"},
    "components": [{"code": "don", "name_vi": "Đơn đề nghị"}],
}


class TestCatalog:
    async def test_catalog_writers(self, mesh: Mesh, intake) -> None:
        ward_admin = desk(mesh, ward(mesh), "agency_admin")
        mine = {**NEW, "agencies": [ward(mesh)], "reception_points": [ward(mesh)]}
        for who, code in ((desk(mesh), "auth.forbidden"),  # not an agency_admin
                          (citizen(mesh, "038095000555"), "auth.forbidden"),
                          (service(mesh, "dossiers.submit"), "auth.forbidden")):
            problem(await intake.client.post("/v1/procedures", json=mine, headers=who), 403,
                    code)
        for agencies in ([commune(mesh)], [ward(mesh), commune(mesh)], []):
            problem(await intake.client.post("/v1/procedures", json={
                **mine, "agencies": agencies}, headers=ward_admin), 403,
                "auth.agency_forbidden")
        created = await intake.client.post("/v1/procedures", json=mine, headers=ward_admin)
        assert created.status_code == 201, created.text
        # taking a procedure over for another agency needs that agency too
        problem(await intake.client.put("/v1/procedures/1.999002", json={
            **mine, "agencies": [commune(mesh)]}, headers=desk(mesh, commune(mesh),
                                                             "agency_admin")), 403,
            "auth.agency_forbidden")

        # 1.001193 is decided by both communes: an admin of one of them is not enough
        problem(await intake.client.post("/v1/procedures/1.001193/publication", json={},
                                         headers=ward_admin), 403, "auth.agency_forbidden")
        both = mesh.mint.officer({ward(mesh): ["agency_admin"], commune(mesh): ["agency_admin"]})
        r = await intake.client.post("/v1/procedures/1.001193/publication", json={},
                                     headers=both)
        assert r.status_code == 200, r.text
        r = await intake.client.post("/v1/procedures/1.999002/publication", json={},
                                     headers=catalog_admin(mesh))
        assert r.status_code == 200, r.text

    async def test_imports_need_every_agency_the_file_names(self, mesh: Mesh,
                                                          intake) -> None:
        ward_admin = desk(mesh, ward(mesh), "agency_admin")
        received_elsewhere = {**NEW, "agencies": [ward(mesh)],
                              "reception_points": [ward(mesh), centre(mesh)]}
        problem(await intake.client.post("/v1/procedures/import", json={
            "procedures": [received_elsewhere]}, headers=ward_admin), 403,
            "auth.agency_forbidden")
        own = {**NEW, "agencies": [ward(mesh)], "reception_points": [ward(mesh)]}
        r = await intake.client.post("/v1/procedures/import", json={"procedures": [own]},
                                     params={"publish": "true"}, headers=ward_admin)
        assert r.status_code == 200 and r.json()["published"] == ["1.999002"], r.text
        # the whole exported catalog names every agency: a service imports it
        doc = (await intake.client.get("/v1/procedures/export")).json()
        problem(await intake.client.post("/v1/procedures/import", json=doc,
                                         headers=ward_admin), 403, "auth.agency_forbidden")
        sheet = (await intake.client.get("/v1/procedures/export",
                                         params={"format": "csv"})).text
        problem(await intake.client.post("/v1/procedures/import.csv", content=sheet.encode(),
                                         headers={"content-type": "text/csv",
                                                  **ward_admin}), 403,
                "auth.agency_forbidden")
        r = await intake.client.post("/v1/procedures/import", json=doc,
                                     headers=catalog_admin(mesh))
        assert r.status_code == 200, r.text

    async def test_agencies_are_registered_under_their_parent(self, mesh: Mesh,
                                                             intake) -> None:
        child = {"code": f"001.00.17.{mesh.province}", "name_vi": "Điểm tiếp nhận (mẫu)",
                 "level": "other"}
        centre_admin = desk(mesh, centre(mesh), "agency_admin")
        problem(await intake.client.post("/v1/agencies", json=child, headers=centre_admin),
                403, "auth.forbidden")  # top level: a service only
        problem(await intake.client.post("/v1/agencies", json={
            **child, "parent_code": centre(mesh)}, headers=desk(mesh, ward(mesh),
                                                              "agency_admin")), 403,
            "auth.agency_forbidden")
        # replacing another agency needs that agency (or its parent) too
        problem(await intake.client.post("/v1/agencies", json={
            **child, "parent_code": centre(mesh), "replaces": [commune(mesh)]},
            headers=centre_admin), 403, "auth.agency_forbidden")
        r = await intake.client.post("/v1/agencies", json={**child, "parent_code": centre(mesh)},
                                     headers=centre_admin)
        assert r.status_code == 201, r.text


class TestEvents:
    async def test_owner_reference_and_vneid_flag(self, mesh: Mesh, intake) -> None:
        key = intake.settings.resolved_owner_ref_key()
        web_body = await online_body(intake, mesh)
        web = (await submit(intake, web_body, citizen(mesh, web_body)))["code"]
        counter = dossier_body(ward(mesh), receive_now=True)
        at_counter = (await submit(intake, counter, desk(mesh)))["code"]
        legacy = dossier_body(ward(mesh), applicant={"kind": "individual",
                                                     "id_number": "038095123",
                                                     "full_name": "Trần Văn Cũ"})
        old = (await submit(intake, legacy, desk(mesh)))["code"]
        await act(intake, web, "reception", who=desk(mesh))

        events: dict[tuple[str, str], dict] = {
            (e.data["dossier_code"], e.type.split(".")[-2]): e.data
            for e in await dossier_events(mesh, 5)}
        online_submitted = DossierSubmittedV1.model_validate(events[web, "submitted"])
        assert online_submitted.owner_ref == owner_ref(web_body["applicant"]["id_number"], key)
        assert online_submitted.vneid_verified is True
        assert events[web, "received"]["owner_ref"] == online_submitted.owner_ref

        desk_submitted = DossierSubmittedV1.model_validate(events[at_counter, "submitted"])
        assert desk_submitted.owner_ref == owner_ref(counter["applicant"]["id_number"], key)
        assert desk_submitted.vneid_verified is False
        received = DossierReceivedV1.model_validate(events[at_counter, "received"])
        assert received.owner_ref == desk_submitted.owner_ref

        # a legacy 9-digit number has no owner reference; no event carries a number
        assert events[old, "submitted"]["owner_ref"] is None
        wire = json.dumps(list(events.values()))
        for number in (web_body["applicant"]["id_number"], counter["applicant"]["id_number"],
                       "038095123"):
            assert number not in wire
