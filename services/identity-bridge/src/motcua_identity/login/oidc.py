"""OpenID Connect relying party for any provider found from its discovery URL.

Authorization code flow with PKCE (S256), ``state`` and ``nonce``, ``acr_values``, and
client authentication by ``client_secret_basic``, ``client_secret_post`` or
``private_key_jwt``. The ID token is verified with joserfc against the provider's JWKS
(cached, refetched on an unknown ``kid``): algorithm from the configured list (never
``none`` or HMAC), ``iss`` equal to the discovered issuer, ``aud`` containing our client
id (and ``azp`` when there are several), ``exp``, ``iat`` and ``nonce``.

Calls to the provider's back channel pass a :class:`motcua.guard.CallGuard` when one
is given (:meth:`OidcClient.call`): the discovery fetch, and the code's exchange with
the ID token's check and userinfo as one call (``service.complete``). A provider that
stops answering thus costs each sign-in at most one timeout until the guard pauses,
and then a 503 at once, instead of sign-ins piling up to the service's in-flight limit
while they wait for it (which would stop every other route of identity-bridge too).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import time
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from motcua.auth import JwksSource, KeysUnavailable
from motcua.errors import Problem
from motcua.guard import CallGuard, CallRefused
from motcua.ids import new_id
from motcua.logging import get_logger
from motcua_identity.config import OidcProvider

log = get_logger("motcua_identity.oidc")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class ProviderUnavailable(Problem):
    status = 502
    code = "login.provider_unavailable"
    title = "The identity provider could not be reached"


class ProviderBusy(Problem):
    status = 503
    code = "login.provider_busy"
    title = "Every sign-in this service completes at once is waiting for the identity provider"


class ProviderPaused(Problem):
    status = 503
    code = "login.provider_paused"
    title = "Sign-ins are paused after repeated failures of the identity provider"


class ProviderRefused(Problem):
    status = 401
    code = "login.provider_refused"
    title = "The identity provider did not sign the user in"


class IdTokenInvalid(Problem):
    status = 401
    code = "login.id_token_invalid"
    title = "The identity provider's ID token is not valid"


def judge(exc: BaseException) -> bool | None:
    """For the guard: the provider unreachable or failing is its failure; a refusal or
    a token we do not accept is an answer; anything else says nothing about it."""
    if isinstance(exc, ProviderUnavailable | KeysUnavailable):
        return True
    if isinstance(exc, ProviderRefused | IdTokenInvalid):
        return False
    return None


def new_code_verifier() -> str:
    """A PKCE code verifier (RFC 7636 §4.1: 43–128 unreserved characters)."""
    return secrets.token_urlsafe(64)[:96]


def code_challenge(verifier: str) -> str:
    """The S256 code challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    """One provider, as configured in settings."""

    def __init__(self, config: OidcProvider, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 timeout_s: float = 10.0, guard: CallGuard | None = None) -> None:
        self.config = config
        self.guard = guard
        self._transport = transport
        self._timeout = timeout_s
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = float("-inf")
        self._jwks: JwksSource | None = None

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self._transport, timeout=self._timeout)

    def call(self) -> AbstractAsyncContextManager[Any]:
        """One call to the provider, admitted by the guard (``async with client.call():``
        at once), or 503 ``login.provider_busy`` / ``login.provider_paused`` with
        Retry-After and nothing asked."""
        if self.guard is None:
            return contextlib.nullcontext()
        try:
            return self.guard.call()
        except CallRefused as exc:
            raise exc.problem(ProviderBusy, ProviderPaused,
                              nothing_done="Nothing was asked") from exc

    async def metadata(self, *, refresh: bool = True) -> dict[str, Any]:
        """The provider's discovery document (cached for an hour; with ``refresh`` False,
        the cached one however old: inside a guarded call, which must not ask the
        guard again)."""
        stale = time.monotonic() - self._metadata_at > 3600
        if self._metadata is None or (refresh and stale):
            async with self.call():
                doc = await self._discover()
            self._metadata, self._metadata_at = doc, time.monotonic()
            if self._jwks is None or self._jwks.url != doc["jwks_uri"]:
                self._jwks = JwksSource(doc["jwks_uri"], transport=self._transport)
        return self._metadata

    async def _discover(self) -> dict[str, Any]:
        try:
            async with self._http() as http:
                response = await http.get(self.config.discovery_url)
                response.raise_for_status()
                doc = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("oidc_discovery_failed", error_type=type(exc).__name__)
            raise ProviderUnavailable("discovery failed") from exc
        required = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if not isinstance(doc, dict) or any(not doc.get(k) for k in required):
            raise ProviderUnavailable("the discovery document is incomplete")
        return doc

    async def authorization_url(self, *, state: str, nonce: str, verifier: str,
                                acr_values: list[str]) -> str:
        """Where to send the user's browser."""
        meta = await self.metadata()
        params = {
            "response_type": "code", "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri, "scope": " ".join(self.config.scopes),
            "state": state, "nonce": nonce, "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if acr_values:
            params["acr_values"] = " ".join(acr_values)
        endpoint = meta["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

    def client_assertion(self, audience: str) -> str:
        """A ``private_key_jwt`` assertion (RFC 7523) for the token endpoint."""
        jwk = dict(self.config.private_key_jwk or {})
        key = ECKey.import_key(jwk) if jwk.get("kty") == "EC" else RSAKey.import_key(jwk)
        alg = jwk.get("alg") or ("ES256" if jwk.get("kty") == "EC" else "RS256")
        now = int(time.time())
        header: dict[str, Any] = {"alg": alg}
        if key.kid:
            header["kid"] = key.kid
        claims = {"iss": self.config.client_id, "sub": self.config.client_id, "aud": audience,
                  "jti": new_id(), "iat": now, "exp": now + 60}
        return jwt.encode(header, claims, key, algorithms=[alg])

    async def exchange(self, code: str, verifier: str) -> dict[str, Any]:
        """Trade the authorization code for tokens."""
        meta = await self.metadata(refresh=False)
        endpoint = meta["token_endpoint"]
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.config.redirect_uri, "code_verifier": verifier}
        headers = {"accept": "application/json"}
        secret = self.config.client_secret.get_secret_value() if self.config.client_secret \
            else ""
        match self.config.client_auth:
            case "client_secret_basic":
                pair = f"{quote(self.config.client_id, safe='')}:{quote(secret, safe='')}"
                headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
            case "client_secret_post":
                form |= {"client_id": self.config.client_id, "client_secret": secret}
            case "private_key_jwt":
                form |= {"client_id": self.config.client_id,
                         "client_assertion_type": ASSERTION_TYPE,
                         "client_assertion": self.client_assertion(endpoint)}
        try:
            async with self._http() as http:
                response = await http.post(endpoint, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable("the token endpoint could not be reached") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict) or \
                not body.get("id_token"):
            error = body.get("error") if isinstance(body, dict) else None
            log.warning("oidc_token_refused", status=response.status_code, error=error)
            if response.status_code >= 500:
                raise ProviderUnavailable("the token endpoint failed")
            raise ProviderRefused(f"the provider refused the code ({error or 'no id_token'})",
                                  provider_error=error)
        return body

    async def id_token_claims(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """Verify the ID token and return its claims."""
        meta = await self.metadata(refresh=False)
        algorithms = self.config.id_token_algorithms
        try:
            header = jws.extract_compact(id_token.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise IdTokenInvalid("not a compact JWS") from exc
        if header.get("alg") not in algorithms:
            raise IdTokenInvalid(f"algorithm {header.get('alg')!r} is not accepted")
        assert self._jwks is not None
        kid = header.get("kid")
        if kid:
            key: Any = await self._jwks.get(kid)
        else:
            keys = await self._jwks.key_set()
            key = keys.keys[0] if len(keys.keys) == 1 else None
        if key is None:
            if self._jwks.last_fetch_failed:
                # The provider's key set could not be fetched: the key may well exist.
                raise ProviderUnavailable("the provider's signing keys could not be fetched")
            raise IdTokenInvalid("unknown signing key")
        try:
            claims = jwt.decode(id_token, key, algorithms=algorithms).claims
            jwt.JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": meta["issuer"]},
                aud={"essential": True, "value": self.config.client_id},
                sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(claims)
        except JoseError as exc:
            raise IdTokenInvalid(f"{type(exc).__name__}: "
                                 f"{getattr(exc, 'claim', None) or 'signature'}") from exc
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != self.config.client_id:
            raise IdTokenInvalid("azp does not name this client")
        return claims

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        """Claims from the userinfo endpoint (empty when the provider has none)."""
        meta = await self.metadata(refresh=False)
        endpoint = meta.get("userinfo_endpoint")
        if not endpoint or not self.config.use_userinfo:
            return {}
        try:
            async with self._http() as http:
                response = await http.get(endpoint,
                                          headers={"authorization": f"Bearer {access_token}"})
                response.raise_for_status()
                body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable("the userinfo endpoint failed") from exc
        return body if isinstance(body, dict) else {}
