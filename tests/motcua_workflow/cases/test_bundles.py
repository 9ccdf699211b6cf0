"""A bundle dossier (liên thông) runs its member procedures as sub-cases that finish
together: the bundle completes when the last member does, and returns all results."""

from __future__ import annotations

from motcua.auth import owner_ref
from motcua.testing import Mesh
from tests.motcua_workflow.helpers import (
    Intake,
    ManualClock,
    act,
    agency,
    at,
    officer,
    outbox_events,
    start_workflow,
    wait_case,
)

MEMBERS = ["1.001193", "1.004222", "1.014137"]


def _result(n: int) -> dict:
    return {"name": f"ket-qua-{n}.pdf", "media_type": "application/pdf",
            "sha256": f"{n:x}" * 64}


class TestBundle:
    async def test_members_finish_together(self, mesh: Mesh) -> None:
        wf = await start_workflow(mesh, ManualClock(at(2026, 3, 2, 8)))
        a, police = agency(mesh, 1), agency(mesh, 2)
        ref = owner_ref("038095001234", wf.settings.resolved_owner_ref_key())
        async with Intake(mesh) as intake:
            code = intake.code(a)
            await intake.submit(code, a, procedure="2.000986", bundle_code="2.000986",
                                member_procedures=MEMBERS, owner_ref=ref)
            await intake.receive(code, a, at(2026, 3, 2, 8), amount=20, procedure="2.000986")
            case = await wait_case(wf, code, status=2)
        assert case["members"] == [f"{code}~{m}" for m in MEMBERS]
        member = await wait_case(wf, f"{code}~1.004222")
        assert member["parent_dossier_code"] == code
        assert member["due_at"] == case["due_at"]

        desk = officer(mesh, a, "receptionist")
        early = await act(wf, code, {"action": "complete"}, desk, status=409)
        assert early["code"] == "case.members_unfinished"
        assert early["unfinished"] == MEMBERS

        # The residence member goes to the police, which acknowledges and finishes it.
        await act(wf, f"{code}~1.004222", {"action": "transfer", "to_agency_code": police},
                  officer(mesh, a, "processor"))
        await act(wf, f"{code}~1.004222", {"action": "acknowledge"},
                  officer(mesh, police, "processor"))
        # The police see the member they work on, not the bundle or its other members.
        police_reader = officer(mesh, police, "auditor")
        assert (await wf.client.get(f"/v1/cases/{code}~1.004222",
                                    headers=police_reader)).status_code == 200
        for other in (code, f"{code}~1.001193"):
            hidden = await wf.client.get(f"/v1/cases/{other}", headers=police_reader)
            assert hidden.status_code == 403
        for n, m in enumerate(MEMBERS, start=1):
            holder = police if m == "1.004222" else a
            await act(wf, f"{code}~{m}", {"action": "forward"},
                      officer(mesh, holder, "processor"))
            await act(wf, f"{code}~{m}", {"action": "approve"},
                      officer(mesh, holder, "approver"))
            await act(wf, f"{code}~{m}", {"action": "complete", "result": _result(n)},
                      officer(mesh, holder, "receptionist"))
            bundle = await wait_case(wf, code)
            assert bundle["status"] == (9 if n == len(MEMBERS) else 2)

        member_return = await act(wf, f"{code}~1.001193", {
            "action": "return_result", "channel": "direct"}, desk, status=409)
        assert member_return["code"] == "case.bundle_member_action"
        await act(wf, code, {"action": "return_result", "channel": "online"}, desk)
        for m in MEMBERS:
            assert (await wait_case(wf, f"{code}~{m}"))["status"] == 10

        events = await outbox_events(wf, code)
        completed = next(e for e in events if e.type.endswith("completed.v1"))
        assert sorted(completed.data["member_results"]) == MEMBERS
        assert completed.data["classification"] == "early"
        # Members publish no status events of their own (metrics counts dossiers).
        assert all(e.subject == code for e in events if e.type.endswith("status_changed.v1"))
        transfers = await outbox_events(wf, f"{code}~1.004222")
        assert [e.type.split(".")[-2] for e in transfers] == ["transferred",
                                                              "transfer_acknowledged"]
        # Members carry the bundle's owner reference too; the completion files results.
        assert {e.data["owner_ref"] for e in [*transfers, completed]} == {ref}
