"""Population lookups: who may ask, the log of every lookup, rate limits, HTTP adapter."""

from __future__ import annotations

import json
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from motcua.events import Envelope
from motcua.testing import FakeClock, Mesh, wait_for
from motcua_identity.population.models import PopulationLookup
from motcua_identity.population.registry import HttpPopulationRegistry, PopulationUnavailable
from tests.e2e.helpers import stream_messages
from tests.motcua_identity.conftest import PID_AN, PID_BINH
from tests.motcua_identity.helpers import ADMIN, bearer, service_token, sign_in, start_identity


async def start_with_database(mesh: Mesh, database: Any) -> Any:
    """identity-bridge with the http population backend, whose requests ``database``
    (an httpx MockTransport handler) answers."""
    from motcua_identity.main import create_app
    from tests.motcua_identity.helpers import CLIENTS

    await mesh.prepare("identity-bridge")
    settings = mesh.settings("identity-bridge", service_clients=CLIENTS,
                             population_backend="http",
                             population_url="https://dancu.example/api")
    return await mesh.start("identity-bridge", app=create_app(
        settings, population_transport=httpx.MockTransport(database)))


async def officer_token(bridge, agency: str, roles: list[str]) -> str:
    """Register an officer of ``agency`` and sign them in (dev sign-in)."""
    admin = await service_token(bridge, ADMIN[0])
    username = f"officer-{agency}-{'-'.join(roles)}"
    created = await bridge.client.post("/v1/staff", headers=bearer(admin), json={
        "full_name": "Cán Bộ", "username": username, "password": "mat-khau-123",
        "agencies": {agency: roles}})
    assert created.status_code == 201, created.text
    response = await bridge.client.post("/v1/auth/dev-login", json={
        "username": username, "password": "mat-khau-123"})
    return response.json()["access_token"]


class TestLookups:
    async def test_officer_lookup_is_logged_with_purpose_actor_and_dossier(
            self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh, dev_login_enabled=True)
        agency = f"000.01.17.{mesh.province}"
        token = await officer_token(bridge, agency, ["receptionist"])
        dossier = f"{agency}-261122-0001"
        response = await bridge.client.post("/v1/population/lookups", headers=bearer(token),
                                            json={"personal_id": PID_AN,
                                                  "purpose": "reception",
                                                  "dossier_code": dossier})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["found"] and body["citizen"]["full_name"] == "Nguyễn Văn An"
        assert body["applicant"] == {"kind": "individual", "id_number": PID_AN,
                                     "full_name": "Nguyễn Văn An"}
        async with bridge.runtime.sessions() as session:
            row = await session.get(PopulationLookup, body["lookup_id"])
        assert (row.purpose, row.dossier_code, row.outcome, row.actor_kind) == \
            ("reception", dossier, "found", "officer")
        messages = await wait_for(lambda: stream_messages(
            mesh.nats_url, mesh.province, "identity", "population.looked_up"), what="event")
        event = Envelope.from_bytes(messages[0].data)
        assert event.data["dossier_code"] == dossier and event.data["found"]
        assert PID_AN not in messages[0].data.decode()

        # Another agency's dossier is not this officer's business.
        other = await bridge.client.post("/v1/population/lookups", headers=bearer(token), json={
            "personal_id": PID_AN, "purpose": "reception",
            "dossier_code": f"000.02.17.{mesh.province}-261122-0001"})
        assert other.status_code == 403 and other.json()["code"] == "auth.agency_forbidden"

    async def test_unknown_citizen_and_invalid_number(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        token = await service_token(bridge, "intake")
        unknown = await bridge.client.post("/v1/population/lookups", headers=bearer(token),
                                           json={"personal_id": "001203004567",
                                                 "purpose": "prefill"})
        assert unknown.status_code == 200 and unknown.json() == {
            "lookup_id": unknown.json()["lookup_id"], "found": False, "citizen": None,
            "applicant": None}
        invalid = await bridge.client.post("/v1/population/lookups", headers=bearer(token),
                                           json={"personal_id": "999095001234",
                                                 "purpose": "prefill"})
        assert invalid.status_code == 422
        assert invalid.json()["errors"][0]["code"] == "province.unknown"

    async def test_who_may_look_up(self, mesh: Mesh, provider) -> None:
        bridge = await start_identity(mesh, provider, dev_login_enabled=True)
        body = {"personal_id": PID_AN, "purpose": "prefill"}
        assert (await bridge.client.post("/v1/population/lookups", json=body)).status_code \
            == 401
        no_scope = await service_token(bridge, "metrics")
        assert (await bridge.client.post("/v1/population/lookups", headers=bearer(no_scope),
                                         json=body)).status_code == 403
        auditor = await officer_token(bridge, f"000.01.17.{mesh.province}", ["auditor"])
        assert (await bridge.client.post("/v1/population/lookups", headers=bearer(auditor),
                                         json=body)).status_code == 403
        citizen = (await sign_in(bridge, "vneid-an")).json()["access_token"]
        own = await bridge.client.post("/v1/population/lookups", headers=bearer(citizen),
                                       json=body)
        assert own.status_code == 200, own.text
        someone_else = await bridge.client.post(
            "/v1/population/lookups", headers=bearer(citizen),
            json={"personal_id": PID_BINH, "purpose": "prefill"})
        assert someone_else.status_code == 403

        # The citizen sees who looked them up; auditors see it too.
        mine = await bridge.client.get("/v1/population/lookups", headers=bearer(citizen))
        assert mine.status_code == 200
        assert {e["purpose"] for e in mine.json()} == {"login_verification", "prefill"}
        assert all(e["personal_id_masked"] == "********1234" for e in mine.json())
        audit = await bridge.client.get("/v1/population/lookups", headers=bearer(auditor),
                                        params={"personal_id": PID_AN})
        assert audit.status_code == 200 and len(audit.json()) == 2

    async def test_lookups_are_rate_limited_per_actor(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh, population_rate_limit=3)
        token = await service_token(bridge, "intake")
        body = {"personal_id": PID_AN, "purpose": "prefill"}
        for _ in range(3):
            ok = await bridge.client.post("/v1/population/lookups", headers=bearer(token),
                                          json=body)
            assert ok.status_code == 200
        limited = await bridge.client.post("/v1/population/lookups", headers=bearer(token),
                                           json=body)
        assert limited.status_code == 429 and limited.json()["code"] == \
            "population.rate_limited"
        assert limited.headers["retry-after"] == "60"


class TestHttpAdapter:
    """The HTTP adapter against a fake gateway speaking the documented wire format."""

    async def test_found_not_found_and_down(self, mesh: Mesh) -> None:
        seen: list[httpx.Request] = []

        def gateway(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            asked = json.loads(request.content)
            if asked["SoDinhDanh"] == PID_AN:
                return httpx.Response(200, json={
                    "SoDinhDanh": PID_AN, "HoVaTen": "Nguyễn Văn An",
                    "NgayThangNamSinh": "02/03/1995", "GioiTinh": 1,
                    "NoiThuongTru": "Thanh Hóa"})
            if asked["SoDinhDanh"] == PID_BINH:
                return httpx.Response(404)
            return httpx.Response(500)

        registry = HttpPopulationRegistry("https://dancu.example/api/tra-cuu",
                                          client_id="h56", api_key="k-123",
                                          transport=httpx.MockTransport(gateway))
        found = await registry.find(PID_AN, purpose="reception", dossier_code="D-1")
        assert found is not None and found.birth_date.isoformat() == "1995-03-02"
        assert found.gender == "male"
        assert seen[0].headers["authorization"] == "Bearer k-123"
        assert seen[0].headers["x-client-id"] == "h56"
        assert json.loads(seen[0].content) == {"SoDinhDanh": PID_AN, "MucDich": "reception",
                                               "MaHoSo": "D-1"}
        assert await registry.find(PID_BINH, purpose="prefill", dossier_code=None) is None
        try:
            await registry.find("001203004567", purpose="prefill", dossier_code=None)
            raise AssertionError("expected PopulationUnavailable")
        except PopulationUnavailable:
            pass

    async def test_a_failed_lookup_is_still_logged(self, mesh: Mesh) -> None:
        def down(request: httpx.Request) -> httpx.Response:
            return httpx.Response(502)

        bridge = await start_with_database(mesh, down)
        token = await service_token(bridge, "intake")
        response = await bridge.client.post("/v1/population/lookups", headers=bearer(token),
                                            json={"personal_id": PID_AN,
                                                  "purpose": "prefill"})
        assert response.status_code == 503
        assert response.json()["code"] == "population.unavailable"
        async with bridge.runtime.sessions() as session:
            rows = (await session.execute(select(PopulationLookup))).scalars().all()
        assert [r.outcome for r in rows] == ["failed"]

    async def test_a_dead_population_database_is_paused_then_one_trial_resumes_it(
            self, mesh: Mesh) -> None:
        """Five failures in a row pause lookups: the next is refused at once, nothing
        asked (still logged as failed); after the pause one trial lookup goes through."""
        state = {"up": False, "asked": 0}

        def database(request: httpx.Request) -> httpx.Response:
            state["asked"] += 1
            if not state["up"]:
                return httpx.Response(502)
            return httpx.Response(200, json={"SoDinhDanh": PID_AN, "HoVaTen": "Nguyễn Văn An",
                                             "NgayThangNamSinh": "1995-03-02",
                                             "GioiTinh": "1"})

        bridge = await start_with_database(mesh, database)
        guard = bridge.app.state.identity.population.guard
        guard.clock = clock = FakeClock()
        token = await service_token(bridge, "intake")

        async def look_up() -> httpx.Response:
            return await bridge.client.post("/v1/population/lookups", headers=bearer(token),
                                            json={"personal_id": PID_AN, "purpose": "prefill"})

        for _ in range(5):
            assert (await look_up()).json()["code"] == "population.unavailable"
        refused = await look_up()
        assert refused.status_code == 503 and refused.json()["code"] == "population.paused"
        assert refused.headers["retry-after"] == "30" and state["asked"] == 5
        state["up"] = True
        clock.now += 30
        found = await look_up()
        assert found.status_code == 200 and found.json()["found"] is True
        assert state["asked"] == 6 and guard.state == "closed"
        async with bridge.runtime.sessions() as session:
            rows = (await session.execute(select(PopulationLookup))).scalars().all()
        assert sorted(r.outcome for r in rows) == ["failed"] * 6 + ["found"]
        metrics = (await bridge.client.get("/metrics")).text
        [pauses] = [s.value for f in text_string_to_metric_families(metrics) for s in f.samples
                    if s.name == "motcua_guard_pauses_total"
                    and s.labels == {"service": "identity-bridge",
                                     "guard": "population_database"}]
        assert pauses == 1
