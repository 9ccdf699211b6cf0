"""Inboxes per agency, role and officer; claim and assign; due-soon and overdue counts."""

from __future__ import annotations

from motcua.testing import Mesh
from motcua_workflow.tasks.models import Task
from motcua_workflow.tasks.service import Scope
from tests.motcua_workflow.helpers import (
    Intake,
    ManualClock,
    act,
    agency,
    at,
    officer,
    start_workflow,
    wait_case,
    when,
)


class TestInbox:
    async def test_claim_assign_and_counts(self, mesh: Mesh) -> None:
        clock = ManualClock(at(2026, 3, 2, 8))
        wf = await start_workflow(mesh, clock)
        a, b = agency(mesh, 1), agency(mesh, 2)
        async with Intake(mesh) as intake:
            codes = [intake.code(a), intake.code(a), intake.code(b)]
            for code, ag in zip(codes, (a, a, b), strict=True):
                await intake.receive(code, ag, at(2026, 3, 2, 8))
            for code in codes:
                await wait_case(wf, code, status=2)

        page = (await wf.client.get("/v1/tasks", params={"agency": a, "limit": 1})).json()
        assert len(page["items"]) == 1 and page["next_cursor"]
        rest = (await wf.client.get("/v1/tasks", params={"agency": a,
                                                         "cursor": page["next_cursor"]})).json()
        assert len(rest["items"]) == 1 and rest["next_cursor"] is None
        first, second = page["items"][0], rest["items"][0]

        s1 = officer(mesh, a, "processor", name="s1")
        s2 = officer(mesh, a, "processor", name="s2")
        claimed = await wf.client.post(f"/v1/tasks/{first['id']}/claim", headers=s1)
        assert claimed.status_code == 200
        again = await wf.client.post(f"/v1/tasks/{first['id']}/claim", headers=s1)
        assert again.status_code == 200  # claiming one's own task again is harmless
        taken = await wf.client.post(f"/v1/tasks/{first['id']}/claim", headers=s2)
        assert taken.status_code == 409 and taken.json()["code"] == "task.claimed_by_other"
        leader = officer(mesh, a, "approver", name="l1")
        wrong_role = await wf.client.post(f"/v1/tasks/{second['id']}/claim", headers=leader)
        assert wrong_role.status_code == 403
        assert wrong_role.json()["code"] == "auth.agency_forbidden"
        elsewhere = await wf.client.post(f"/v1/tasks/{second['id']}/claim",
                                         headers=officer(mesh, b, "processor"))
        assert elsewhere.status_code == 403
        assert elsewhere.json()["code"] == "auth.agency_forbidden"
        by_processor = await wf.client.post(f"/v1/tasks/{second['id']}/assignment",
                                            json={"assignee_id": "s2@" + a}, headers=s1)
        assert by_processor.status_code == 403
        assigned = await wf.client.post(f"/v1/tasks/{second['id']}/assignment",
                                        json={"assignee_id": "s2@" + a}, headers=leader)
        assert assigned.json()["assignee_id"] == "s2@" + a

        mine = (await wf.client.get("/v1/tasks", params={"assignee": "s1@" + a},
                                    headers=s1)).json()
        assert [t["id"] for t in mine["items"]] == [first["id"]]
        counts = (await wf.client.get("/v1/tasks/counts", params={"agency": a})).json()
        assert counts == {"agency_code": a, "open": 2, "unassigned": 0, "due_soon": 0,
                          "overdue": 0}

        # The default process step has 24 working hours: due Thu 05/03 08:00, due soon
        # from its last quarter (6 h before): Wed 04/03 09:00.
        assert when(first["due_at"]) == at(2026, 3, 5, 8)
        clock.set(at(2026, 3, 4, 10))
        counts = (await wf.client.get("/v1/tasks/counts", params={"agency": a})).json()
        assert (counts["due_soon"], counts["overdue"]) == (2, 0)
        clock.set(at(2026, 3, 5, 9))
        counts = (await wf.client.get("/v1/tasks/counts", params={"agency": a})).json()
        assert (counts["due_soon"], counts["overdue"]) == (0, 2)
        overdue = (await wf.client.get("/v1/tasks", params={"agency": a,
                                                            "due": "overdue"})).json()
        assert len(overdue["items"]) == 2

        # Acting on a claimed task's case takes that officer; the next step's task is new.
        await act(wf, first["dossier_code"], {"action": "forward"}, s1)
        done = (await wf.client.get(f"/v1/tasks/{first['id']}", headers=s1)).json()
        assert (done["state"], done["done_by"], done["outcome"]) == ("done", "s1@" + a,
                                                                     "forward")
        leaders = (await wf.client.get("/v1/tasks", params={"agency": a, "role": "approver"})
                   ).json()
        assert [t["step_key"] for t in leaders["items"]] == ["approve"]


class TestScope:
    def test_an_agency_scope_restricts_queries(self):
        assert Scope().condition() is None
        condition = Scope(frozenset({"A"})).condition()
        assert condition is not None and Task.agency_code.key in str(condition)
