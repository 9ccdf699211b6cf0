"""The thin slice: intake → dossier.submitted → workflow case → status → metrics count."""

from __future__ import annotations

import json

from motcua.events import Envelope
from motcua.testing import Mesh, wait_for
from tests.e2e.helpers import agency, counts, dossier_body, start_slice, stream_messages


class TestSlice:
    async def test_submission_reaches_workflow_and_metrics(self, mesh: Mesh) -> None:
        svc = await start_slice(mesh)
        response = await svc["intake"].client.post(
            "/v1/dossiers", json=dossier_body(agency(mesh)),
            headers={"X-Correlation-ID": "corr-slice-1"})
        assert response.status_code == 201, response.text
        code = response.json()["code"]
        assert code.startswith(f"{agency(mesh)}-") and code.endswith("-0001")
        assert response.json()["applicant"]["id_number_masked"].startswith("********")

        await wait_for(lambda: _counted(svc["metrics"], 1), what="metrics count")
        case = await svc["workflow"].client.get(f"/v1/cases/{code}")
        assert case.status_code == 200
        assert case.json()["status"] == 1

        # The correlation id given to intake travels through workflow's events.
        events = await stream_messages(mesh.nats_url, mesh.province, "workflow")
        envelopes = [Envelope.from_bytes(m.data) for m in events]
        assert {e.type for e in envelopes} == {"vn.motcua.workflow.case.started.v1",
                                               "vn.motcua.workflow.case.status_changed.v1"}
        assert all(e.correlationid == "corr-slice-1" for e in envelopes)
        submitted = await stream_messages(mesh.nats_url, mesh.province, "intake", "dossier.>")
        assert all(e.causationid == Envelope.from_bytes(submitted[0].data).id
                   for e in envelopes)

    async def test_event_envelope_is_cloudevents_shaped(self, mesh: Mesh) -> None:
        svc = await start_slice(mesh, "intake")
        await svc["intake"].client.post("/v1/dossiers", json=dossier_body(agency(mesh)))
        msgs = await wait_for(
            lambda: stream_messages(mesh.nats_url, mesh.province, "intake", "dossier.>"),
            what="published event")
        raw = json.loads(msgs[0].data)
        assert raw["specversion"] == "1.0"
        assert raw["type"] == "vn.motcua.intake.dossier.submitted.v1"
        assert raw["source"] == f"/motcua/{mesh.province}/intake"
        assert msgs[0].subject == f"motcua.{mesh.province}.intake.dossier.submitted"
        assert msgs[0].headers["Nats-Msg-Id"] == raw["id"]
        assert raw["sequence"] == 1
        # Events carry ids and facts, not the applicant's personal data.
        assert "038095" not in msgs[0].data.decode()


async def _counted(metrics, n: int) -> bool:
    c = await counts(metrics)
    return c["submitted"] == n and c["cases_opened"] == n and c["by_status"] == {"1": n}
