"""Sign-in through a real OpenID provider, ending in a mesh token (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from motcua.events import Envelope
from motcua.testing import FakeClock, Mesh, RunningService, wait_for
from motcua_identity.accounts.models import Account
from motcua_identity.login.models import LoginAttempt
from motcua_identity.login.oidc import code_challenge
from motcua_identity.main import create_app
from tests.e2e.helpers import stream_messages
from tests.motcua_identity.conftest import PID_AN, PID_BINH, STAFF_EMAIL
from tests.motcua_identity.helpers import (
    ADMIN,
    authorize_at_provider,
    bearer,
    oidc,
    service_token,
    sign_in,
    start_identity,
    start_login,
    verifier_for,
)


class TestCitizenSignIn:
    async def test_login_ends_in_a_mesh_token_for_that_citizen(self, mesh: Mesh,
                                                               provider) -> None:
        bridge = await start_identity(mesh, provider)
        response = await sign_in(bridge, "vneid-an")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["kind"] == "citizen" and body["assurance_level"] == 2
        assert response.headers["cache-control"] == "no-store"

        who = await verifier_for(bridge).verify(body["access_token"])
        assert (who.kind, who.subject, who.personal_id, who.assurance) == \
            ("citizen", body["account_id"], PID_AN, 2)
        assert who.name == "Nguyễn Văn An"

        me = await bridge.client.get("/v1/me", headers=bearer(body["access_token"]))
        assert me.status_code == 200, me.text
        assert me.json()["personal_id_masked"] == "********1234"
        # The sign-in was checked against the (synthetic) population database.
        assert me.json()["population_verified"] is True
        assert me.json()["birth_date"] == "1995-03-02"

        messages = await wait_for(
            lambda: stream_messages(mesh.nats_url, mesh.province, "identity",
                                    "account.linked"), what="identity.linked")
        event = Envelope.from_bytes(messages[0].data)
        assert event.type == "vn.motcua.identity.account.linked.v1"
        assert event.data["assurance_level"] == 2 and event.data["population_verified"]
        assert PID_AN not in messages[0].data.decode()

    async def test_authorization_request_uses_pkce_state_nonce_and_acr(self, mesh: Mesh,
                                                                      provider) -> None:
        bridge = await start_identity(mesh, provider)
        started = await start_login(bridge, min_assurance=2)
        query = {k: v[0] for k, v in
                 parse_qs(urlsplit(started["authorization_url"]).query).items()}
        assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
        assert query["state"] == started["state"] and len(query["nonce"]) >= 32
        assert query["acr_values"] == "LoA2"
        async with bridge.runtime.sessions() as session:
            attempt = await session.get(LoginAttempt, started["state"])
        assert query["code_challenge"] == code_challenge(attempt.code_verifier)
        assert query["nonce"] == attempt.nonce

    async def test_the_same_subject_signs_in_to_the_same_account(self, mesh: Mesh,
                                                                provider) -> None:
        bridge = await start_identity(mesh, provider)
        first = (await sign_in(bridge, "vneid-binh")).json()
        again = (await sign_in(bridge, "vneid-binh")).json()
        assert first["account_id"] == again["account_id"]
        assert first["assurance_level"] == 1
        async with bridge.runtime.sessions() as session:
            accounts = (await session.execute(select(Account).where(
                Account.personal_id == PID_BINH))).scalars().all()
        assert len(accounts) == 1

    async def test_a_required_level_2_refuses_a_level_1_sign_in(self, mesh: Mesh,
                                                               provider) -> None:
        bridge = await start_identity(mesh, provider)
        response = await sign_in(bridge, "vneid-binh", min_assurance=2)
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "auth.assurance_insufficient"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert (await sign_in(bridge, "vneid-an", min_assurance=2)).status_code == 200

    async def test_a_state_is_used_once(self, mesh: Mesh, provider) -> None:
        bridge = await start_identity(mesh, provider)
        started = await start_login(bridge)
        returned = await authorize_at_provider(started["authorization_url"], "vneid-an")
        body = {"state": returned["state"], "code": returned["code"]}
        assert (await bridge.client.post("/v1/auth/callback", json=body)).status_code == 200
        replay = await bridge.client.post("/v1/auth/callback", json=body)
        assert replay.status_code == 409 and replay.json()["code"] == "login.state_used"
        unknown = await bridge.client.post("/v1/auth/callback",
                                           json={"state": "nope", "code": "x"})
        assert unknown.status_code == 400 and unknown.json()["code"] == "login.state_unknown"

    async def test_a_forged_code_is_refused(self, mesh: Mesh, provider) -> None:
        bridge = await start_identity(mesh, provider)
        started = await start_login(bridge)
        response = await bridge.client.post("/v1/auth/callback",
                                            json={"state": started["state"], "code": "forged"})
        assert response.status_code == 401 and response.json()["code"] == \
            "login.provider_refused"

    async def test_the_redirect_keeps_the_parameters_a_provider_adds(self, mesh: Mesh,
                                                                    provider) -> None:
        """The browser's redirect carries whatever the provider adds (``iss`` per RFC
        9207, ``session_state``...): the callback takes it as it comes (other routes
        refuse query parameters they do not declare)."""
        bridge = await start_identity(mesh, provider)
        started = await start_login(bridge)
        returned = await authorize_at_provider(started["authorization_url"], "vneid-an")
        response = await bridge.client.get("/v1/auth/callback", params=returned | {
            "iss": "https://vneid.example", "session_state": "s-1", "scope": "openid"})
        assert response.status_code == 200, response.text
        assert response.json()["kind"] == "citizen" and response.json()["access_token"]

    async def test_the_provider_denying_is_a_problem(self, mesh: Mesh, provider) -> None:
        bridge = await start_identity(mesh, provider)
        started = await start_login(bridge)
        response = await bridge.client.get("/v1/auth/callback", params={
            "state": started["state"], "error": "access_denied"})
        assert response.status_code == 401
        assert response.json()["provider_error"] == "access_denied"

    async def test_an_invalid_personal_id_claim_is_refused(self, mesh: Mesh, provider) -> None:
        bridge = await start_identity(mesh, provider)
        response = await sign_in(bridge, "vneid-bad-id")
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "login.personal_id_invalid"

    async def test_no_provider_configured(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        response = await bridge.client.post("/v1/auth/logins", json={"audience": "citizen"})
        assert response.status_code == 404 and response.json()["code"] == "login.not_configured"


class TestStaffSignIn:
    async def test_registered_officer_signs_in_with_agency_roles(self, mesh: Mesh,
                                                                provider) -> None:
        bridge = await start_identity(mesh, provider)
        agency = f"000.01.17.{mesh.province}"
        admin = await service_token(bridge, ADMIN[0])
        created = await bridge.client.post("/v1/staff", headers=bearer(admin), json={
            "full_name": "Trần Xử Lý", "email": STAFF_EMAIL,
            "agencies": {agency: ["processor", "receptionist"]}})
        assert created.status_code == 201, created.text

        response = await sign_in(bridge, "staff-xuly", audience="staff")
        assert response.status_code == 200, response.text
        who = await verifier_for(bridge).verify(response.json()["access_token"])
        assert who.kind == "officer" and who.subject == created.json()["id"]
        assert who.can_see_agency(agency) and not who.can_see_agency("000.02.17.H56")
        assert who.has_role("processor", agency=agency) and not who.has_role("approver")

        events = await wait_for(lambda: stream_messages(mesh.nats_url, mesh.province,
                                                        "identity", "account.linked"),
                                what="staff link event")
        assert json.loads(events[0].data)["data"]["kind"] == "officer"

    async def test_unregistered_staff_are_refused(self, mesh: Mesh, provider) -> None:
        bridge = await start_identity(mesh, provider)
        response = await sign_in(bridge, "staff-stranger", audience="staff")
        assert response.status_code == 403 and response.json()["code"] == \
            "staff.not_registered"


class _Outage(httpx.AsyncBaseTransport):
    """The real network to the test provider, except its token endpoint: ``failing``
    raises each of its errors in turn (as a dead provider's connection would), ``held``
    keeps the request waiting until set, and ``on_exchange`` runs as one arrives."""

    def __init__(self) -> None:
        self.real = httpx.AsyncHTTPTransport()
        self.failing: list[type[httpx.TransportError]] = []
        self.held: asyncio.Event | None = None
        self.waiting = 0
        self.exchanges = 0
        self.on_exchange: Callable[[], None] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/token"):
            self.exchanges += 1
            if self.on_exchange is not None:
                self.on_exchange()
            if self.failing:
                raise self.failing.pop(0)("the provider did not answer", request=request)
            if self.held is not None:
                self.waiting += 1
                await self.held.wait()
        return await self.real.handle_async_request(request)


async def _bridge_with(mesh: Mesh, provider: Any, network: _Outage,
                       **guard: Any) -> RunningService:
    await mesh.prepare("identity-bridge")
    settings = mesh.settings("identity-bridge", service_clients={},
                             citizen_oidc=oidc(provider), **guard)
    return await mesh.start("identity-bridge",
                            app=create_app(settings, oidc_transport=network))


async def _returned(bridge: RunningService) -> dict[str, str]:
    """A login started and signed in at the provider: the callback's state and code."""
    started = await start_login(bridge)
    returned = await authorize_at_provider(started["authorization_url"], "vneid-an")
    return {"state": returned["state"], "code": returned["code"]}


class TestProviderGuard:
    """A provider that stops answering is paused after failures in a row: callbacks are
    refused at once with 503 and Retry-After, nothing asked and the login not used up;
    after the pause one trial callback completes and resumes sign-ins."""

    async def test_a_dead_provider_is_paused_then_a_trial_resumes_it(self, mesh: Mesh,
                                                                     provider) -> None:
        network = _Outage()
        bridge = await _bridge_with(mesh, provider, network, oidc_failures_to_pause=2,
                                    oidc_pause_s=30)
        client = bridge.app.state.identity.providers["citizen"]
        client.guard.clock = clock = FakeClock()
        assert (await sign_in(bridge, "vneid-an")).status_code == 200

        network.failing = [httpx.ConnectError, httpx.ReadTimeout]
        for _ in range(2):
            failed = await sign_in(bridge, "vneid-an")
            assert failed.status_code == 502
            assert failed.json()["code"] == "login.provider_unavailable"
        callback = await _returned(bridge)
        refused = await bridge.client.post("/v1/auth/callback", json=callback)
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "login.provider_paused"
        assert refused.headers["retry-after"] == "30"
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert network.exchanges == 3  # the refused callback asked nothing

        clock.now += 30
        # The discovery document goes stale while the trial is under way: the trial
        # goes on with the one it has instead of asking the guard a second time (which,
        # a trial being under way, would refuse it).
        network.on_exchange = lambda: setattr(client, "_metadata_at", float("-inf"))
        # The refused callback did not use the login up: its retry is the trial.
        trial = await bridge.client.post("/v1/auth/callback", json=callback)
        assert trial.status_code == 200, trial.text
        assert client.guard.state == "closed" and network.exchanges == 4
        network.on_exchange = None
        assert (await sign_in(bridge, "vneid-an")).status_code == 200
        metrics = (await bridge.client.get("/metrics")).text
        assert ('motcua_guard_pauses_total{guard="oidc_citizen",service="identity-bridge"} 1.0'
                in metrics)
        assert ('motcua_guard_refused_calls_total{guard="oidc_citizen",reason="paused",'
                'service="identity-bridge"} 1.0' in metrics)

    async def test_callbacks_beyond_the_limit_are_refused_at_once(self, mesh: Mesh,
                                                                  provider) -> None:
        network = _Outage()
        bridge = await _bridge_with(mesh, provider, network, oidc_max_calls=1)
        first, second = await _returned(bridge), await _returned(bridge)
        network.held = asyncio.Event()
        waiting = asyncio.create_task(bridge.client.post("/v1/auth/callback", json=first))
        await wait_for(lambda: network.waiting == 1, what="the first exchange held")
        busy = await bridge.client.post("/v1/auth/callback", json=second)
        assert busy.status_code == 503 and busy.json()["code"] == "login.provider_busy"
        assert busy.headers["retry-after"] == "1" and network.exchanges == 1
        network.held.set()
        assert (await waiting).status_code == 200
        assert (await bridge.client.post("/v1/auth/callback", json=second)).status_code == 200

    async def test_a_refusal_is_an_answer_and_clears_the_count(self, mesh: Mesh,
                                                               provider) -> None:
        """A forged code, refused by a provider that is up, counts as its answer: the
        failures before it and after it are not in a row."""
        network = _Outage()
        bridge = await _bridge_with(mesh, provider, network, oidc_failures_to_pause=2)
        guard = bridge.app.state.identity.providers["citizen"].guard

        async def outage() -> None:
            network.failing = [httpx.ConnectError]
            assert (await sign_in(bridge, "vneid-an")).status_code == 502

        await outage()
        forged = await bridge.client.post("/v1/auth/callback", json=(
            await _returned(bridge)) | {"code": "forged"})
        assert forged.json()["code"] == "login.provider_refused"
        await outage()
        assert guard.state == "closed" and guard.failures_in_a_row == 1
        await outage()
        assert guard.state == "paused"

    async def test_an_expired_or_used_login_is_answered_before_the_provider(
            self, mesh: Mesh, provider) -> None:
        """Even while the provider is paused, a used login is 409 and not a 503 that
        tells the client to retry it."""
        network = _Outage()
        bridge = await _bridge_with(mesh, provider, network, oidc_failures_to_pause=1)
        callback = await _returned(bridge)
        assert (await bridge.client.post("/v1/auth/callback", json=callback)).status_code \
            == 200
        network.failing = [httpx.ConnectError]
        assert (await sign_in(bridge, "vneid-an")).status_code == 502
        assert bridge.app.state.identity.providers["citizen"].guard.state == "paused"
        again = await bridge.client.post("/v1/auth/callback", json=callback)
        assert again.status_code == 409 and again.json()["code"] == "login.state_used"
