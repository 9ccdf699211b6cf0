"""The relying party's checks on what a provider sends, against a fake provider.

The fake speaks the OpenID wire format (discovery, JWKS, token endpoint) through an
httpx MockTransport, so each bad answer can be produced on purpose.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from motcua.auth import KeysUnavailable
from motcua_identity.config import OidcProvider
from motcua_identity.login.oidc import (
    ASSERTION_TYPE,
    IdTokenInvalid,
    OidcClient,
    ProviderRefused,
    ProviderUnavailable,
    judge,
)

ISSUER = "https://vneid.fake"
CLIENT = "motcua-h56"
NONCE = "n-0123456789"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class FakeProvider:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"alg": "RS256"}, private=True,
                                       auto_kid=True)
        self.id_token = ""
        self.token_requests: list[httpx.Request] = []
        self.token_status = 200
        self.jwks_status = 200

    def sign(self, header: dict | None = None, key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": CLIENT, "sub": "s-1", "iat": now, "exp": now + 300,
                "nonce": NONCE, "SoDinhDanh": "038095001234"} | claims
        head = {"alg": "RS256", "kid": self.key.kid} | (header or {})
        return jwt.encode(head, body, key or self.key, algorithms=[head["alg"]])

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            path = request.url.path
            if path == "/.well-known/openid-configuration":
                return httpx.Response(200, json={
                    "issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token", "jwks_uri": f"{ISSUER}/jwks"})
            if path == "/jwks":
                if self.jwks_status != 200:
                    return httpx.Response(self.jwks_status)
                return httpx.Response(200, json=KeySet([self.key]).as_dict(private=False))
            if path == "/token":
                self.token_requests.append(request)
                if self.token_status != 200:
                    return httpx.Response(self.token_status, json={"error": "invalid_grant"})
                return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer",
                                                 "id_token": self.id_token})
            return httpx.Response(404)
        return httpx.MockTransport(handle)


def config(**overrides: Any) -> OidcProvider:
    return OidcProvider(**({"discovery_url": f"{ISSUER}/.well-known/openid-configuration",
                            "client_id": CLIENT, "client_secret": "s3cret",
                            "redirect_uri": "https://rp/cb"} | overrides))


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def client(fake: FakeProvider) -> OidcClient:
    return OidcClient(config(), transport=fake.transport())


class TestIdToken:
    async def test_a_good_token(self, client, fake) -> None:
        claims = await client.id_token_claims(fake.sign(), nonce=NONCE)
        assert claims["SoDinhDanh"] == "038095001234"

    @pytest.mark.parametrize("claims", [
        {"nonce": "another"}, {"aud": "someone-else"}, {"iss": "https://evil"},
        {"exp": int(time.time()) - 3600}, {"iat": int(time.time()) + 3600},
        {"aud": [CLIENT, "other"], "azp": "other"},
    ], ids=["nonce", "audience", "issuer", "expired", "future", "azp"])
    async def test_bad_claims(self, client, fake, claims) -> None:
        with pytest.raises(IdTokenInvalid):
            await client.id_token_claims(fake.sign(**claims), nonce=NONCE)

    async def test_several_audiences_with_our_azp(self, client, fake) -> None:
        token = fake.sign(aud=[CLIENT, "other"], azp=CLIENT)
        assert (await client.id_token_claims(token, nonce=NONCE))["azp"] == CLIENT

    async def test_forged_and_confused_signatures(self, client, fake) -> None:
        other = RSAKey.generate_key(2048, private=True)
        hmac = OctKey.import_key(json.dumps(fake.key.as_dict(private=False)).encode())
        tokens = [
            fake.sign(key=other),
            fake.sign(header={"alg": "HS256"}, key=hmac),
            f"{_b64({'alg': 'none', 'kid': fake.key.kid})}."
            f"{_b64({'iss': ISSUER, 'aud': CLIENT, 'nonce': NONCE})}.",
            fake.sign(header={"kid": "unknown"}),
            fake.sign(header={"alg": "ES256"}, key=ECKey.generate_key("P-256", private=True)),
            "not-a-jwt",
        ]
        for token in tokens:
            with pytest.raises(IdTokenInvalid):
                await client.id_token_claims(token, nonce=NONCE)


class TestKeysOutOfReach:
    """The provider's key set unreachable is the provider failing (the guard counts it,
    docs/identity.md), not a token we refuse."""

    async def test_no_keys_cached(self, client, fake) -> None:
        fake.jwks_status = 503
        with pytest.raises(KeysUnavailable) as refused:
            await client.id_token_claims(fake.sign(), nonce=NONCE)
        assert judge(refused.value) is True

    async def test_a_new_key_while_the_key_set_is_down(self, client, fake) -> None:
        await client.id_token_claims(fake.sign(), nonce=NONCE)  # keys cached
        fake.key = RSAKey.generate_key(2048, parameters={"alg": "RS256"}, private=True,
                                       auto_kid=True)  # the provider rotated its key
        fake.jwks_status = 503
        keys = client._jwks
        keys._clock = lambda: time.monotonic() + 60  # past the refetch limit
        with pytest.raises(ProviderUnavailable) as failed:
            await client.id_token_claims(fake.sign(), nonce=NONCE)
        assert judge(failed.value) is True
        fake.jwks_status = 200
        keys._clock = lambda: time.monotonic() + 120
        assert (await client.id_token_claims(fake.sign(), nonce=NONCE))["sub"] == "s-1"

    async def test_an_unknown_key_with_the_key_set_up_is_refused(self, client, fake) -> None:
        await client.id_token_claims(fake.sign(), nonce=NONCE)
        client._jwks._clock = lambda: time.monotonic() + 60
        with pytest.raises(IdTokenInvalid) as refused:
            await client.id_token_claims(fake.sign(header={"kid": "unknown"}), nonce=NONCE)
        assert judge(refused.value) is False


class TestTokenRequest:
    async def test_client_secret_basic_with_pkce(self, client, fake) -> None:
        fake.id_token = fake.sign()
        await client.exchange("code-1", "verifier-1")
        request = fake.token_requests[0]
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        assert form == {"grant_type": "authorization_code", "code": "code-1",
                        "redirect_uri": "https://rp/cb", "code_verifier": "verifier-1"}
        assert request.headers["authorization"] == \
            "Basic " + base64.b64encode(f"{CLIENT}:s3cret".encode()).decode()

    async def test_client_secret_post(self, fake) -> None:
        fake.id_token = fake.sign()
        client = OidcClient(config(client_auth="client_secret_post"),
                            transport=fake.transport())
        await client.exchange("code-1", "verifier-1")
        form = parse_qs(fake.token_requests[0].content.decode())
        assert form["client_id"] == [CLIENT] and form["client_secret"] == ["s3cret"]
        assert "authorization" not in fake.token_requests[0].headers

    async def test_private_key_jwt(self, fake) -> None:
        ours = ECKey.generate_key("P-256", parameters={"alg": "ES256"}, private=True,
                                  auto_kid=True)
        fake.id_token = fake.sign()
        client = OidcClient(config(client_auth="private_key_jwt", client_secret=None,
                                   private_key_jwk=ours.as_dict(private=True)),
                            transport=fake.transport())
        await client.exchange("code-1", "verifier-1")
        form = {k: v[0] for k, v in parse_qs(fake.token_requests[0].content.decode()).items()}
        assert form["client_assertion_type"] == ASSERTION_TYPE and "client_secret" not in form
        # The provider verifies the assertion with our registered public key.
        public = ECKey.import_key(ours.as_dict(private=False))
        assertion = jwt.decode(form["client_assertion"], public, algorithms=["ES256"])
        claims = assertion.claims
        assert claims["iss"] == claims["sub"] == CLIENT
        assert claims["aud"] == f"{ISSUER}/token" and claims["exp"] > claims["iat"]
        assert assertion.header["kid"] == ours.kid

    async def test_refusals_and_outages(self, client, fake) -> None:
        fake.token_status = 400
        with pytest.raises(ProviderRefused):
            await client.exchange("bad", "v")
        fake.token_status = 503
        with pytest.raises(ProviderUnavailable):
            await client.exchange("bad", "v")

    async def test_broken_discovery(self) -> None:
        broken = OidcClient(config(), transport=httpx.MockTransport(
            lambda r: httpx.Response(200, json={"issuer": ISSUER})))
        with pytest.raises(ProviderUnavailable):
            await broken.metadata()
