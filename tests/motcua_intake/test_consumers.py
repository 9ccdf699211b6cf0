"""Workflow's case events as intake mirrors them for tracking (the wire format of each)."""

from __future__ import annotations

from datetime import datetime, timedelta

import nats

from motcua.contracts.workflow import CaseExtendedV1
from motcua.db import utcnow
from motcua.events import Envelope
from motcua.testing import Mesh, wait_for
from tests.e2e.helpers import dossier_body
from tests.motcua_intake.helpers import desk, submit, ward


class TestExtension:
    async def test_new_appointment_and_reason_reach_tracking(self, mesh: Mesh,
                                                             intake) -> None:
        body = dossier_body(ward(mesh), receive_now=True)
        dossier = await submit(intake, body, desk(mesh))
        new_due = utcnow() + timedelta(days=10)
        data = CaseExtendedV1(case_id="c1", dossier_code=dossier["code"],
                              agency_code=ward(mesh), occurred_at=utcnow(), apology_id="a1",
                              original_due_at=utcnow(), new_due_at=new_due,
                              reason="Cần xác minh thêm", notice_in_time=True)
        envelope = Envelope.wrap(data, province=mesh.province, key=dossier["code"], sequence=4)
        nc = await nats.connect(mesh.nats_url)
        try:
            await nc.jetstream().publish(data.subject(mesh.province), envelope.to_bytes())
        finally:
            await nc.close()
        factor = body["applicant"]["id_number"][-4:]

        async def moved():  # type: ignore[no-untyped-def]
            view = (await intake.client.get(f"/v1/tracking/{dossier['code']}",
                                            params={"factor": factor})).json()
            due = datetime.fromisoformat(view["due_at"])
            return view if due != datetime.fromisoformat(dossier["due_at"]) else None

        view = await wait_for(moved, what="new appointment")
        assert datetime.fromisoformat(view["due_at"]) == new_due
        assert "Cần xác minh thêm" in view["timeline"][-1]["note_vi"]


def test_intake_is_delivered_only_the_case_events_it_mirrors() -> None:
    """Its durable's filter names exactly the workflow events it has handlers for."""
    from motcua.contracts import workflow as wf
    from motcua.events import EventData
    from motcua.streams import CONSUMERS
    from motcua_intake.consumers import handlers

    spec = next(c for c in CONSUMERS if c.durable == "intake-workflow")
    mirrored = set(handlers()["intake-workflow"])
    contracts = [c for c in vars(wf).values() if isinstance(c, type)
                 and issubclass(c, EventData) and c.__module__ == wf.__name__
                 and "event" in vars(c)]
    assert len(contracts) > len(mirrored) == 3
    for contract in contracts:
        delivered = spec.receives(contract.subject("H56"), "H56")
        assert delivered == (contract.event_type() in mirrored), contract
