"""Helpers for identity-bridge tests: start it, sign in through the test provider."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from motcua.auth import TokenVerifier
from motcua.testing import Mesh, RunningService
from motcua_identity.main import create_app

REDIRECT_URI = "https://dichvucong.motcua.test/dang-nhap/callback"
ADMIN = ("ops-admin", "ops-admin-secret-0123456789")
CLIENTS = {
    "intake": {"secret": "intake-secret-0123456789",
               "scopes": ["mesh", "population.read", "documents.read", "documents.write",
                          "documents.reuse"]},
    ADMIN[0]: {"secret": ADMIN[1], "scopes": ["identity.staff.admin", "identity.keys.rotate"]},
    "metrics": {"secret": "metrics-secret-0123456789", "scopes": ["mesh"]},
}


def oidc(provider: Any, **overrides: Any) -> dict[str, Any]:
    """Relying-party settings against the test provider."""
    return {"discovery_url": provider.discovery_url, "client_id": "motcua-h56",
            "client_secret": "rp-secret", "redirect_uri": REDIRECT_URI,
            "scopes": ["openid", "profile", "email"]} | overrides


async def start_identity(mesh: Mesh, provider: Any = None, **overrides: Any) -> RunningService:
    """Start identity-bridge with test clients and, given a provider, OIDC sign-in."""
    await mesh.prepare("identity-bridge")
    values: dict[str, Any] = {"service_clients": CLIENTS, "auth_jwks_min_refresh_s": 0}
    if provider is not None:
        values |= {"citizen_oidc": oidc(provider, acr_values=["LoA1", "LoA2"]),
                   "staff_oidc": oidc(provider)}
    settings = mesh.settings("identity-bridge", **(values | overrides))
    service = await mesh.start("identity-bridge", app=create_app(settings))
    service.settings = settings
    return service


def bearer(token: str) -> dict[str, str]:
    """The Authorization header."""
    return {"authorization": f"Bearer {token}"}


async def service_token(bridge: RunningService, client_id: str = "intake",
                        scope: str | None = None) -> str:
    """A client-credentials token for a configured test client."""
    secret = (CLIENTS[client_id]["secret"])
    form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    response = await bridge.client.post("/v1/oauth2/token", data=form, auth=(client_id, secret))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def authorize_at_provider(authorization_url: str, sub: str) -> dict[str, str]:
    """Act as the user's browser at the provider: pick ``sub``, follow to the redirect."""
    async with httpx.AsyncClient() as browser:
        page = await browser.get(authorization_url)
        assert page.status_code == 200, page.text
        answer = await browser.post(authorization_url, data={"sub": sub})
    assert answer.status_code in (302, 303), answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def start_login(bridge: RunningService, audience: str = "citizen",
                      min_assurance: int | None = None) -> dict[str, Any]:
    """POST /v1/auth/logins."""
    body: dict[str, Any] = {"audience": audience}
    if min_assurance is not None:
        body["min_assurance"] = min_assurance
    response = await bridge.client.post("/v1/auth/logins", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def sign_in(bridge: RunningService, sub: str, audience: str = "citizen",
                  min_assurance: int | None = None) -> httpx.Response:
    """The whole flow: start, the provider's page, the callback; answers the callback."""
    started = await start_login(bridge, audience, min_assurance)
    returned = await authorize_at_provider(started["authorization_url"], sub)
    assert returned["state"] == started["state"]
    return await bridge.client.post("/v1/auth/callback",
                                    json={"state": returned["state"], "code": returned["code"]})


def verifier_for(bridge: RunningService) -> TokenVerifier:
    """A motcua.auth verifier fetching identity-bridge's JWKS over HTTP (as other services)."""
    return TokenVerifier.from_settings(bridge.settings,
                                       transport=httpx.ASGITransport(app=bridge.app))
