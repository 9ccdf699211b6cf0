"""Who may call what (docs/workflow.md, "Who may call what"): mesh tokens on every route,
officers limited to the cases of their agencies and the roles of the step, citizens to
their own deadline, the calendar public."""

from __future__ import annotations

from typing import Any

import httpx

from motcua.auth import owner_ref, undeclared_routes
from motcua.testing import Mesh
from motcua_workflow.main import create_app
from tests.motcua_workflow.helpers import (
    Intake,
    ManualClock,
    act,
    agency,
    at,
    officer,
    start_workflow,
    wait_case,
)

OWNER_ID = "038095001234"
OTHER_ID = "001099004321"


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code, body
    return body


async def _two_agencies(mesh: Mesh, clock: ManualClock) -> tuple[Any, str, str, str, str]:
    """Workflow with one received case at agency A and one at agency B."""
    wf = await start_workflow(mesh, clock)
    a, b = agency(mesh, 1), agency(mesh, 2)
    key = wf.settings.resolved_owner_ref_key()
    async with Intake(mesh) as intake:
        case_a, case_b = intake.code(a), intake.code(b)
        await intake.submit(case_a, a, owner_ref=owner_ref(OWNER_ID, key))
        await intake.receive(case_a, a, at(2026, 3, 2, 8))
        await intake.receive(case_b, b, at(2026, 3, 2, 8))
        await wait_case(wf, case_a, status=2)
        await wait_case(wf, case_b, status=2)
    return wf, a, b, case_a, case_b


class TestDeclarations:
    def test_every_route_declares_its_callers(self):
        assert undeclared_routes(create_app()) == []


class TestTokens:
    async def test_no_token_or_a_bad_one_is_401(self, mesh: Mesh) -> None:
        wf, _, _, case_a, _ = await _two_agencies(mesh, ManualClock(at(2026, 3, 2, 8)))
        anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=wf.manager.app),
                                      base_url="http://workflow")
        async with anonymous:
            for method, url in (("GET", f"/v1/cases/{case_a}"), ("GET", "/v1/cases"),
                                ("GET", f"/v1/cases/{case_a}/deadline"),
                                ("POST", f"/v1/cases/{case_a}/actions"),
                                ("GET", "/v1/tasks"), ("GET", "/v1/process-definitions"),
                                ("POST", "/v1/process-definitions/import")):
                response = await anonymous.request(method, url, json={"action": "forward"})
                _problem(response, 401, "auth.token_missing")
            forged = await anonymous.get(f"/v1/cases/{case_a}",
                                         headers={"authorization": "Bearer not.a.token"})
            _problem(forged, 401, "auth.token_invalid")
            # The working calendar is public.
            due = await anonymous.get("/v1/calendar/due-date", params={
                "start": "2026-03-02T08:00:00+07:00", "amount": 5, "unit": "working_days"})
            assert due.status_code == 200, due.text
            assert due.json()["due_at"] == "2026-03-09T08:00:00+07:00"
            off = await anonymous.get("/v1/calendar/days-off",
                                      params={"first": "2026-02-16", "last": "2026-02-20"})
            assert off.status_code == 200 and off.json()["working_days"] == 0


class TestOfficers:
    async def test_an_officer_sees_and_acts_only_for_their_agencies(self, mesh: Mesh) -> None:
        wf, a, b, case_a, case_b = await _two_agencies(mesh, ManualClock(at(2026, 3, 2, 8)))
        officer_a = officer(mesh, a, "processor", "approver")

        # Agency B's case: no read of any kind, no action, no task.
        for path in ("", "/tasks", "/deadline", "/apology", "/process-log",
                     "/process-log/verification"):
            response = await wf.client.get(f"/v1/cases/{case_b}{path}", headers=officer_a)
            _problem(response, 403, "auth.agency_forbidden")
        _problem(await wf.client.post(f"/v1/cases/{case_b}/actions", json={"action": "forward"},
                                      headers=officer_a), 403, "auth.agency_forbidden")
        _problem(await wf.client.post(f"/v1/cases/{case_b}/apology", json={"reason": "x"},
                                      headers=officer_a), 403, "auth.agency_forbidden")
        _problem(await wf.client.post(f"/v1/cases/{case_b}/extension", json={"reason": "x"},
                                      headers=officer_a), 403, "auth.agency_forbidden")
        task_b = (await wf.client.get(f"/v1/cases/{case_b}/tasks")).json()[0]
        _problem(await wf.client.get(f"/v1/tasks/{task_b['id']}", headers=officer_a), 403,
                 "auth.agency_forbidden")
        _problem(await wf.client.post(f"/v1/tasks/{task_b['id']}/claim", headers=officer_a),
                 403, "auth.agency_forbidden")
        _problem(await wf.client.post(f"/v1/tasks/{task_b['id']}/assignment",
                                      json={"assignee_id": "x"}, headers=officer_a),
                 403, "auth.agency_forbidden")

        # Lists hold agency A's work only; asking for B's is refused.
        cases = (await wf.client.get("/v1/cases", headers=officer_a)).json()
        assert [c["dossier_code"] for c in cases["items"]] == [case_a]
        tasks = (await wf.client.get("/v1/tasks", headers=officer_a)).json()
        assert {t["dossier_code"] for t in tasks["items"]} == {case_a}
        counts = (await wf.client.get("/v1/tasks/counts", headers=officer_a)).json()
        assert counts["open"] == 1
        for url in ("/v1/cases", "/v1/tasks", "/v1/tasks/counts"):
            response = await wf.client.get(url, params={"agency": b}, headers=officer_a)
            _problem(response, 403, "auth.agency_forbidden")
        # A read-only service sees both.
        everything = (await wf.client.get("/v1/cases")).json()
        assert {c["dossier_code"] for c in everything["items"]} == {case_a, case_b}

        # Their own agency's case: read and act, recorded under their token's subject.
        assert (await wf.client.get(f"/v1/cases/{case_a}", headers=officer_a)).status_code == 200
        await act(wf, case_a, {"action": "forward"}, officer_a)
        log = (await wf.client.get(f"/v1/cases/{case_a}/process-log", headers=officer_a)).json()
        assert (log[-1]["action"], log[-1]["actor_id"]) == ("forward", "o1@" + a)

    async def test_the_step_role_is_needed_in_the_holding_agency(self, mesh: Mesh) -> None:
        wf, a, b, case_a, _ = await _two_agencies(mesh, ManualClock(at(2026, 3, 2, 8)))
        # An approver of A, and a processor of B (the role, but in another agency).
        for who in (officer(mesh, a, "approver"), officer(mesh, a, "receptionist"),
                    mesh.mint.officer({a: ["approver"], b: ["processor"]})):
            problem = await act(wf, case_a, {"action": "forward"}, who, status=403)
            assert problem["code"] == "auth.agency_forbidden"
        # An auditor reads but never acts; claims are refused for the wrong role too.
        auditor = officer(mesh, a, "auditor")
        assert (await wf.client.get(f"/v1/cases/{case_a}", headers=auditor)).status_code == 200
        refused = await act(wf, case_a, {"action": "forward"}, auditor, status=403)
        assert refused["code"] == "auth.forbidden"
        task = (await wf.client.get(f"/v1/cases/{case_a}/tasks")).json()[0]
        _problem(await wf.client.post(f"/v1/tasks/{task['id']}/claim",
                                      headers=officer(mesh, a, "approver")),
                 403, "auth.agency_forbidden")
        # The case is untouched.
        assert (await wait_case(wf, case_a))["current_step"] == "process"


class TestServicesAndCitizens:
    async def test_services_by_scope_citizens_their_own_deadline(self, mesh: Mesh) -> None:
        wf, a, _, case_a, case_b = await _two_agencies(mesh, ManualClock(at(2026, 3, 2, 8)))
        no_scope = mesh.mint.service("metrics")
        _problem(await wf.client.get(f"/v1/cases/{case_a}", headers=no_scope), 403,
                 "auth.forbidden")
        # Actions are done by officers, never by a service, whatever its scopes.
        writer = mesh.mint.service("robot", "cases.read", "cases.write")
        _problem(await wf.client.post(f"/v1/cases/{case_a}/actions", json={"action": "forward"},
                                      headers=writer), 403, "auth.forbidden")
        # Only the province's tooling stores process definitions, not an agency admin.
        admin = officer(mesh, a, "agency_admin")
        _problem(await wf.client.post("/v1/process-definitions/import", content=b"{}",
                                      headers={"content-type": "application/json", **admin}),
                 403, "auth.forbidden")
        assert (await wf.client.get("/v1/process-definitions", headers=admin)).status_code == 200

        owner = mesh.mint.citizen(OWNER_ID)
        mine = await wf.client.get(f"/v1/cases/{case_a}/deadline", headers=owner)
        assert mine.status_code == 200, mine.text
        assert mine.json()["due_at"] == "2026-03-09T08:00:00+07:00"
        assert mine.json()["history"][0]["text_en"]
        # Someone else's case, a case with no owner known, and no case at all look alike.
        stranger = mesh.mint.citizen(OTHER_ID)
        _problem(await wf.client.get(f"/v1/cases/{case_a}/deadline", headers=stranger), 404,
                 "case.not_found")
        _problem(await wf.client.get(f"/v1/cases/{case_b}/deadline", headers=owner), 404,
                 "case.not_found")
        _problem(await wf.client.get("/v1/cases/NOPE-1/deadline", headers=owner), 404,
                 "case.not_found")
        # The rest of the case is for officers and services.
        _problem(await wf.client.get(f"/v1/cases/{case_a}", headers=owner), 403,
                 "auth.forbidden")
        _problem(await wf.client.get("/v1/cases", headers=owner), 403, "auth.forbidden")
