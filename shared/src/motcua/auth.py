"""Mesh tokens: verify identity-bridge's JWTs and declare who may call each endpoint.

identity-bridge signs short-lived access tokens (``typ: at+jwt``, ES256) with rotating
keys published at ``/.well-known/jwks.json``. Every service verifies them here:
signature against the cached JWKS (refetched on an unknown ``kid``, at most once per
``auth_jwks_min_refresh_s``), algorithm pinned to :data:`ALGORITHMS` (so ``alg=none``
and HMAC-with-the-public-key are refused before any key is touched), ``iss``, ``aud``,
``exp``, ``nbf`` and ``iat`` with a small leeway. A token that passed is remembered
until it expires (a bounded cache keyed by the whole token): a client that sends the
same token again costs a dictionary lookup and a key check instead of an ECDSA
verification, and is refused as soon as the token expires or its key leaves the JWKS.

An endpoint declares its callers with a dependency::

    @router.get("/v1/cases/{code}")
    async def get_case(code: str, who: Annotated[Principal, require(kind="officer")]): ...

    @router.get("/v1/tracking/{code}", dependencies=[PUBLIC])
    async def track(code: str): ...

:func:`undeclared_routes` lists the routes that declare neither, for a test to fail on.

Problems::

    Unauthorized (401)        auth.token_missing, auth.token_invalid, auth.token_expired
    Forbidden (403)           auth.forbidden, auth.agency_forbidden,
                              auth.assurance_insufficient
    KeysUnavailable (503)     auth.keys_unavailable (the JWKS could not be fetched)

Token claims (beyond the registered ones): ``kind`` (citizen | officer | service),
``scope`` (space separated), ``pid`` (citizen's personal ID number), ``loa`` (citizen's
assurance level, 1 or 2), ``agencies`` (officer: agency code → roles), ``client_id``
(service), ``name``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import Key, KeySet

from motcua.config import MeshSettings
from motcua.errors import Forbidden, Problem, Unauthorized
from motcua.logging import get_logger

log = get_logger("motcua.auth")

Kind = Literal["citizen", "officer", "service"]
KINDS: tuple[Kind, ...] = ("citizen", "officer", "service")
#: Officer roles (vai trò cán bộ), held per agency.
ROLES = ("receptionist", "processor", "approver", "agency_admin", "auditor")
#: The only signature algorithms a mesh token may use.
ALGORITHMS = ("ES256",)
#: ``typ`` of a mesh access token (RFC 9068), so an ID token or other JWT is not accepted.
TOKEN_TYPE = "at+jwt"


class TokenMissing(Unauthorized):
    code = "auth.token_missing"
    title = "A bearer token is required"


class TokenInvalid(Unauthorized):
    code = "auth.token_invalid"
    title = "The bearer token is not valid"


class TokenExpired(Unauthorized):
    code = "auth.token_expired"
    title = "The bearer token has expired"


class NotAllowed(Forbidden):
    code = "auth.forbidden"
    title = "Not allowed"


class AgencyForbidden(Forbidden):
    code = "auth.agency_forbidden"
    title = "Not allowed for this agency"


class AssuranceInsufficient(Forbidden):
    code = "auth.assurance_insufficient"
    title = "A higher identity assurance level is required"


class KeysUnavailable(Problem):
    status = 503
    code = "auth.keys_unavailable"
    title = "Token signing keys are unavailable"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a citizen, an officer or another service of the mesh."""

    subject: str
    kind: Kind
    #: Citizen's 12-digit personal ID (never logged: excluded from repr).
    personal_id: str | None = field(default=None, repr=False)
    #: Citizen's identity assurance level (1 or 2, as VNeID's LoA1/LoA2).
    assurance: int | None = None
    #: Officer's agencies, each with the roles held there.
    memberships: Mapping[str, frozenset[str]] = field(default_factory=dict)
    scopes: frozenset[str] = frozenset()
    client_id: str | None = None
    name: str | None = field(default=None, repr=False)
    token_id: str | None = None
    expires_at: datetime | None = None

    @property
    def agencies(self) -> frozenset[str]:
        """Agency codes the officer belongs to."""
        return frozenset(self.memberships)

    @property
    def roles(self) -> frozenset[str]:
        """Every role the officer holds, in any agency."""
        return frozenset(r for roles in self.memberships.values() for r in roles)

    def has_role(self, *roles: str, agency: str | None = None) -> bool:
        """Whether the officer holds one of ``roles`` (in ``agency`` when given)."""
        held = self.memberships.get(agency, frozenset()) if agency is not None else self.roles
        return self.kind == "officer" and bool(held & set(roles))

    def has_scopes(self, *scopes: str) -> bool:
        """Whether every one of ``scopes`` was granted."""
        return set(scopes) <= self.scopes

    def can_see_agency(self, code: str) -> bool:
        """Whether this caller may see the agency's records.

        Officers: members of that agency. Services: yes (they are constrained by scopes).
        Citizens: no (they see their own records, see :meth:`is_person`).
        """
        if self.kind == "service":
            return True
        return self.kind == "officer" and code in self.memberships

    def ensure_agency(self, code: str, *roles: str) -> None:
        """Raise :class:`AgencyForbidden` unless allowed for ``code`` (with one of ``roles``)."""
        if not self.can_see_agency(code):
            raise AgencyForbidden("not a member of this agency")
        if roles and self.kind == "officer" and not self.has_role(*roles, agency=code):
            raise AgencyForbidden(f"requires one of the roles {', '.join(roles)} here")

    def is_person(self, personal_id: str | None) -> bool:
        """Whether this is the citizen with ``personal_id``."""
        return (self.kind == "citizen" and personal_id is not None
                and self.personal_id == personal_id)

    def owns(self, ref: str | None, key: str) -> bool:
        """Whether this is the citizen whose :func:`owner_ref` under ``key`` is ``ref``."""
        return (self.kind == "citizen" and self.personal_id is not None and ref is not None
                and hmac.compare_digest(owner_ref(self.personal_id, key), ref))

    def ensure_assurance(self, level: int) -> None:
        """Raise :class:`AssuranceInsufficient` unless a citizen at ``level`` or above."""
        if self.kind == "citizen" and (self.assurance or 0) < level:
            raise AssuranceInsufficient(f"identity assurance level {level} is required",
                                        required_level=level)


def owner_ref(personal_id: str, key: str) -> str:
    """The dossier owner reference: HMAC-SHA256 of the personal ID under the mesh key.

    Events and other services' records carry this instead of the number; a citizen's
    token (``pid``) yields the same reference, so ownership can be checked anywhere
    without the number leaving intake and identity-bridge.
    """
    digest = hmac.new(key.encode(), personal_id.encode(), hashlib.sha256).hexdigest()
    return "own1_" + digest[:40]


# --- keys -----------------------------------------------------------------------------


class KeySource(Protocol):
    """Where a verifier finds the public key for a ``kid``."""

    async def get(self, kid: str) -> Key | None:
        """The key, or None when unknown."""
        ...


class StaticKeys:
    """A fixed key set (the issuer's own keys, or a test's)."""

    def __init__(self, keys: KeySet | Mapping[str, Any]) -> None:
        self._keys = keys if isinstance(keys, KeySet) else KeySet.import_key_set(keys)

    async def get(self, kid: str) -> Key | None:
        """The key with ``kid``."""
        return _find(self._keys, kid)


class JwksSource:
    """Public keys fetched from a JWKS URL and cached.

    Refetched when older than ``max_age_s``, and when a token names an unknown ``kid``
    (a key rotated in) — but at most once per ``min_refresh_s``, so a flood of tokens
    with made-up ``kid`` values cannot turn into a flood of fetches. When a fetch fails
    the cached keys keep serving, and ``last_fetch_failed`` says so (a key not found
    then may exist at the issuer).
    """

    def __init__(self, url: str, *, max_age_s: float = 3600.0, min_refresh_s: float = 30.0,
                 timeout_s: float = 5.0, transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._max_age = max_age_s
        self._min_refresh = min_refresh_s
        self._timeout = timeout_s
        self._transport = transport
        self._clock = clock
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()
        self.fetches = 0
        self.last_fetch_failed = False

    async def get(self, kid: str) -> Key | None:
        """The key with ``kid``, refreshing the cache when stale or when ``kid`` is new."""
        if self._keys is None or self._clock() - self._fetched_at > self._max_age:
            await self._refresh()
        key = _find(self._keys, kid)
        if key is None:
            await self._refresh()
            key = _find(self._keys, kid)
        return key

    async def key_set(self) -> KeySet:
        """Every cached key (fetched first if needed)."""
        if self._keys is None or self._clock() - self._fetched_at > self._max_age:
            await self._refresh()
        assert self._keys is not None
        return self._keys

    async def _refresh(self) -> None:
        async with self._lock:
            now = self._clock()
            if now - self._attempted_at < self._min_refresh:
                # Fetched (or tried) a moment ago: do not hammer the issuer.
                if self._keys is None:
                    raise KeysUnavailable("the signing keys could not be fetched",
                                          retry_after=5)
                return
            self._attempted_at = now
            self.fetches += 1
            try:
                async with httpx.AsyncClient(transport=self._transport,
                                             timeout=self._timeout) as client:
                    response = await client.get(self.url, headers={"accept": "application/json"})
                    response.raise_for_status()
                    keys = KeySet.import_key_set(response.json())
            except Exception as exc:
                log.warning("jwks_fetch_failed", url=self.url, error_type=type(exc).__name__)
                self.last_fetch_failed = True
                if self._keys is None:
                    raise KeysUnavailable("the signing keys could not be fetched",
                                          retry_after=5) from exc
                return
            self._keys = keys
            self._fetched_at = now
            self.last_fetch_failed = False


def _find(keys: KeySet | None, kid: str) -> Key | None:
    if keys is None:
        return None
    for key in keys.keys:
        if key.kid == kid:
            return key
    return None


# --- verification ---------------------------------------------------------------------


class TokenVerifier:
    """Verifies mesh access tokens and turns their claims into a :class:`Principal`."""

    def __init__(self, keys: KeySource, *, issuer: str, audience: str, leeway_s: int = 30,
                 algorithms: Collection[str] = ALGORITHMS, cache_size: int = 4096,
                 clock: Callable[[], float] = time.time) -> None:
        unsafe = {a for a in algorithms if a == "none" or a.startswith("HS")}
        if unsafe:
            raise ValueError(f"algorithms not allowed for mesh tokens: {sorted(unsafe)}")
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway_s
        self.algorithms = tuple(algorithms)
        self._clock = clock
        self._cache_size = cache_size
        #: Token → (caller, key id, key, the last second it is accepted), least recent first.
        self._verified: OrderedDict[str, tuple[Principal, str, Key, float]] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: MeshSettings, *,
                      transport: httpx.AsyncBaseTransport | None = None) -> TokenVerifier:
        """A verifier fetching keys from ``auth_jwks_url`` (``transport`` for tests)."""
        source = JwksSource(settings.resolved_auth_jwks_url(),
                            max_age_s=settings.auth_jwks_max_age_s,
                            min_refresh_s=settings.auth_jwks_min_refresh_s, transport=transport)
        return cls(source, issuer=settings.resolved_auth_issuer(),
                   audience=settings.resolved_auth_audience(), leeway_s=settings.auth_leeway_s)

    async def verify(self, token: str) -> Principal:
        """The caller named by a valid token; :class:`Unauthorized` otherwise."""
        known = self._verified.get(token)
        if known is not None:
            principal, kid, key, until = known
            if self._clock() > until:
                self._verified.pop(token, None)
                raise TokenExpired("the token has expired")
            current = await self.keys.get(kid)
            if current is None:  # the key was withdrawn
                self._verified.pop(token, None)
                raise TokenInvalid("unknown signing key")
            if current is key:
                if token in self._verified:  # (another request may have dropped it)
                    self._verified.move_to_end(token)
                return principal
            # The key set was reloaded: verify again against the key as published now.
        principal, kid, key, until = await self._verify(token)
        if self._cache_size > 0:
            self._verified[token] = (principal, kid, key, until)
            if len(self._verified) > self._cache_size:
                self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, str, Key, float]:
        """Full verification: the caller, the key (and its id) that signed the token, and
        the last second it is valid."""
        try:
            header = jws.extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise TokenInvalid("not a compact JWS") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.algorithms:
            raise TokenInvalid(f"algorithm {alg!r} is not accepted")
        if header.get("typ") != TOKEN_TYPE:
            raise TokenInvalid(f"token type must be {TOKEN_TYPE}")
        if not isinstance(kid, str) or not kid:
            raise TokenInvalid("the token names no signing key")
        key = await self.keys.get(kid)
        if key is None:
            raise TokenInvalid("unknown signing key")
        try:
            claims = jwt.decode(token, key, algorithms=list(self.algorithms)).claims
            jwt.JWTClaimsRegistry(
                leeway=self.leeway,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
            ).validate(claims)
        except ExpiredTokenError as exc:
            raise TokenExpired("the token has expired") from exc
        except JoseError as exc:
            raise TokenInvalid(_describe(exc)) from exc
        return principal_from_claims(claims), kid, key, float(claims["exp"]) + self.leeway


def _describe(exc: JoseError) -> str:
    claim = getattr(exc, "claim", None)
    if claim:
        return f"claim {claim!r} is missing or not valid"
    return "the signature or payload is not valid"


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Build a :class:`Principal` from verified claims (:class:`TokenInvalid` if malformed)."""
    kind = claims.get("kind")
    if kind not in KINDS:
        raise TokenInvalid("claim 'kind' is missing or not valid")
    scope = claims.get("scope", "")
    agencies = claims.get("agencies") or {}
    loa = claims.get("loa")
    pid = claims.get("pid")
    well_formed = (
        isinstance(scope, str) and isinstance(agencies, dict)
        and all(isinstance(r, list) and all(isinstance(x, str) for x in r)
                for r in agencies.values())
        and (loa is None or loa in (1, 2)) and (pid is None or isinstance(pid, str)))
    if not well_formed:
        raise TokenInvalid("claims are malformed")
    if kind == "citizen" and (pid is None or loa is None):
        raise TokenInvalid("a citizen token must carry 'pid' and 'loa'")
    exp = claims.get("exp")
    return Principal(
        subject=str(claims["sub"]), kind=kind, personal_id=pid if kind == "citizen" else None,
        assurance=loa if kind == "citizen" else None,
        memberships={a: frozenset(r) for a, r in agencies.items()} if kind == "officer" else {},
        scopes=frozenset(scope.split()), client_id=claims.get("client_id"),
        name=claims.get("name"), token_id=claims.get("jti"),
        expires_at=datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None)


# --- FastAPI dependencies ---------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, scheme_name="meshToken",
                     description="Mesh access token from identity-bridge")


def use_verifier(app: FastAPI, verifier: TokenVerifier) -> None:
    """Make ``app`` verify tokens with ``verifier`` (default: built from its settings)."""
    app.state.auth_verifier = verifier


def get_verifier(request: Request) -> TokenVerifier:
    """The app's verifier, built from ``app.state.settings`` on first use."""
    state = request.app.state
    verifier = getattr(state, "auth_verifier", None)
    if verifier is None:
        verifier = TokenVerifier.from_settings(state.settings)
        state.auth_verifier = verifier
    return verifier


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> Principal | None:
    """The caller when a token is sent (a bad token is still refused), else None.

    FastAPI caches it per request, so several dependencies share one verification.
    """
    header = request.headers.get("authorization")
    if header is None:
        return None
    if credentials is None or not credentials.credentials:
        raise TokenInvalid("use 'Authorization: Bearer <token>'")
    return await get_verifier(request).verify(credentials.credentials)


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The authenticated caller (401 without a valid token)."""
    if principal is None:
        raise TokenMissing("send 'Authorization: Bearer <token>'")
    return principal


current_principal.__motcua_access__ = "protected"  # type: ignore[attr-defined]

CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require(kind: Kind | Iterable[Kind] | None = None, *, roles: Collection[str] = (),
            scopes: Collection[str] = (), assurance: int | None = None) -> Any:
    """A dependency admitting only the callers described; it yields the :class:`Principal`.

    ``kind`` limits the kinds of caller (default: any). Each remaining condition applies
    to the kind it concerns: ``roles`` to officers (one of them, in any agency — check
    the resource's agency with :meth:`Principal.ensure_agency`), ``scopes`` to services
    (all of them), ``assurance`` to citizens (this level or above).
    """
    kinds = set(KINDS if kind is None else ([kind] if isinstance(kind, str) else kind))
    unknown_roles = set(roles) - set(ROLES)
    if kinds - set(KINDS) or unknown_roles:
        raise ValueError(f"unknown kind or role in require(): {kinds - set(KINDS)} "
                         f"{unknown_roles}")

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.kind not in kinds:
            raise NotAllowed(f"not allowed for a {principal.kind}")
        if principal.kind == "officer" and roles and not principal.has_role(*roles):
            raise NotAllowed(f"requires one of the roles {', '.join(sorted(roles))}")
        if principal.kind == "service" and not principal.has_scopes(*scopes):
            raise NotAllowed(f"requires the scopes {' '.join(sorted(scopes))}")
        if principal.kind == "citizen" and assurance is not None:
            principal.ensure_assurance(assurance)
        return principal

    check.__motcua_access__ = "protected"  # type: ignore[attr-defined]
    return Depends(check)


async def _public() -> None:
    """Marks a route as callable without a token."""


_public.__motcua_access__ = "public"  # type: ignore[attr-defined]
#: ``dependencies=[PUBLIC]`` declares a route public.
PUBLIC: Any = Depends(_public)


def access_of(route: Any) -> str | None:
    """``"public"``, ``"protected"`` or None (undeclared) for one route.

    ``route`` is an :class:`APIRoute` or FastAPI's route context of an included router
    (whose dependant carries the router's own dependencies too).
    """
    found: set[str] = set()
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        mark = getattr(dependant.call, "__motcua_access__", None)
        if mark:
            found.add(mark)
        stack.extend(dependant.dependencies)
    if "protected" in found:
        return "protected"
    return "public" if "public" in found else None


#: Operational endpoints of every service (``motcua.service``), public by design.
OPERATIONS = frozenset({"/healthz", "/readyz", "/metrics"})


def api_routes(app: FastAPI) -> list[Any]:
    """Every API route of ``app``, through included routers (FastAPI includes lazily)."""
    return [r for r in iter_route_contexts(app.routes)
            if isinstance(r.original_route, APIRoute)]


def undeclared_routes(app: FastAPI) -> list[str]:
    """Routes that declare neither :data:`PUBLIC` nor a principal dependency."""
    return sorted(f"{','.join(sorted(r.methods))} {r.path}" for r in api_routes(app)
                  if r.path not in OPERATIONS and access_of(r) is None)
