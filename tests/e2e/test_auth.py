"""Mesh tokens across the services (issue 5, "How it will be checked").

* A citizen signs in through identity-bridge against a real OpenID provider (the VNeID
  stand-in) with a script of httpx calls; the mesh token it ends with opens that
  citizen's own dossiers at intake, and nothing else. Intake verifies it with
  identity-bridge's published JWKS, as in production.
* Every service refuses forged, expired, wrong-issuer, wrong-audience and ``alg=none``
  tokens, and every route of every service declares who may call it.
* No personal ID number reaches any log line on the way.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from motcua.auth import undeclared_routes, use_verifier
from motcua.registry import discover
from motcua.testing import Mesh, RunningService, threadpool_dependencies
from tests.e2e.helpers import agency, dossier_body
from tests.motcua_identity.conftest import PID_AN, PID_BINH, provider  # noqa: F401
from tests.motcua_identity.helpers import (
    CLIENTS,
    bearer,
    sign_in,
    start_identity,
    verifier_for,
)

PORTAL = {"portal": {"secret": "portal-secret-0123456789", "scopes": ["dossiers.submit"]}}

#: A protected read of each service (any caller kind may be refused with 403/404, but
#: a bad token must be refused with 401 before anything else).
PROTECTED = {
    "intake": "/v1/dossiers",
    "workflow": "/v1/tasks",
    "payments": "/v1/receipts",
    "identity-bridge": "/v1/me",
    "metrics": "/v1/national/records/000.01.17.H56-261122-0001",
}


async def _trusting_identity(mesh: Mesh, bridge: RunningService, name: str) -> RunningService:
    """Start ``name`` verifying tokens against identity-bridge's JWKS."""
    await mesh.prepare(name)
    app = mesh.specs[name].create_app(mesh.settings(name))
    use_verifier(app, verifier_for(bridge))
    service = await mesh.start(name, app=app)
    if name == "intake":
        await mesh.specs["intake"].seed(mesh.settings("intake"))
    return service


class TestCitizenLogin:
    async def test_the_login_token_opens_the_citizens_own_dossiers_only(
            self, mesh: Mesh, provider: Any, capfd: pytest.CaptureFixture[str]) -> None:  # noqa: F811
        bridge = await start_identity(mesh, provider, service_clients=CLIENTS | PORTAL)
        intake = await _trusting_identity(mesh, bridge, "intake")

        # The national portal (a mesh service) files one dossier for each of two citizens.
        token = await bridge.client.post(
            "/v1/oauth2/token",
            data={"grant_type": "client_credentials", "scope": "dossiers.submit"},
            auth=("portal", PORTAL["portal"]["secret"]))
        assert token.status_code == 200, token.text
        portal = bearer(token.json()["access_token"])
        codes = {}
        for pid in (PID_AN, PID_BINH):
            body = dossier_body(agency(mesh))
            body["applicant"]["id_number"] = pid
            r = await intake.client.post("/v1/dossiers", json=body, headers=portal)
            assert r.status_code == 201, r.text
            codes[pid] = r.json()["code"]

        # An signs in: provider page → callback → mesh token.
        callback = await sign_in(bridge, "vneid-an")
        assert callback.status_code == 200, callback.text
        an = bearer(callback.json()["access_token"])

        mine = await intake.client.get("/v1/dossiers", headers=an)
        assert mine.status_code == 200, mine.text
        assert [d["code"] for d in mine.json()["items"]] == [codes[PID_AN]]
        assert (await intake.client.get(f"/v1/dossiers/{codes[PID_AN]}",
                                        headers=an)).status_code == 200
        other = await intake.client.get(f"/v1/dossiers/{codes[PID_BINH]}", headers=an)
        assert other.status_code == 404
        withdraw = await intake.client.post(f"/v1/dossiers/{codes[PID_BINH]}/withdrawal",
                                            json={"reason": "thử"}, headers=an)
        assert withdraw.status_code == 404
        # Without a token nothing opens.
        assert (await intake.client.get(f"/v1/dossiers/{codes[PID_AN]}")).status_code == 401

        logged = capfd.readouterr()
        for pid in (PID_AN, PID_BINH):
            assert pid not in logged.out and pid not in logged.err


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _bad_tokens(mesh: Mesh) -> dict[str, str]:
    mint = mesh.mint
    now = int(time.time())
    stranger = ECKey.generate_key("P-256", private=True)
    claims = {"iss": mint.issuer, "aud": mint.audience, "sub": "officer-x", "iat": now,
              "exp": now + 300, "kind": "officer",
              "agencies": {agency(mesh): ["processor", "auditor", "receptionist"]}}
    header = {"alg": "ES256", "kid": mint.key.kid, "typ": "at+jwt"}
    return {
        # Same kid, another key: the signature does not verify.
        "forged": jwt.encode(header, claims, stranger, algorithms=["ES256"]),
        "expired": mint.token("officer", ttl_s=-3600, agencies=claims["agencies"]),
        "wrong_issuer": mint.token("officer", iss="urn:motcua:XX:identity",
                                   agencies=claims["agencies"]),
        "wrong_audience": mint.token("officer", aud="urn:motcua:XX:mesh",
                                     agencies=claims["agencies"]),
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'at+jwt', 'kid': mint.key.kid})}."
                    f"{_b64(claims)}.",
        "garbage": "not-a-jwt",
    }


class TestEveryService:
    @pytest.mark.parametrize("name", list(PROTECTED))
    async def test_bad_tokens_are_refused(self, mesh: Mesh, name: str) -> None:
        service = await mesh.start(name)
        if name == "identity-bridge":
            # identity-bridge verifies with its own keys: trust the mint there too.
            use_verifier(service.app, mesh.mint.verifier())
        for label, token in _bad_tokens(mesh).items():
            r = await service.client.get(PROTECTED[name], headers=bearer(token))
            assert r.status_code == 401, (label, r.status_code, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] in ("auth.token_invalid", "auth.token_expired"), label
            assert r.headers["www-authenticate"].startswith("Bearer")
        missing = await service.client.get(PROTECTED[name])
        assert missing.status_code == 401
        good = mesh.mint.officer(agency(mesh))
        assert (await service.client.get(PROTECTED[name], headers=good)).status_code != 401


@pytest.mark.parametrize("name", list(PROTECTED))
def test_every_route_declares_its_callers(name: str) -> None:
    spec = discover()[name]
    assert undeclared_routes(spec.create_app(spec.settings())) == []


@pytest.mark.parametrize("name", list(PROTECTED))
def test_no_dependency_runs_in_the_threadpool(name: str) -> None:
    # A plain ``def`` dependency is run in a worker thread on every request.
    spec = discover()[name]
    assert threadpool_dependencies(spec.create_app(spec.settings())) == []
