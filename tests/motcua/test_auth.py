"""motcua.auth: token verification, JWKS caching, and the endpoint dependencies."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from motcua.auth import (
    PUBLIC,
    CurrentPrincipal,
    JwksSource,
    OptionalPrincipal,
    Principal,
    StaticKeys,
    TokenExpired,
    TokenInvalid,
    TokenVerifier,
    require,
    undeclared_routes,
    use_verifier,
)
from motcua.errors import PROBLEM_JSON, install_problem_handlers
from motcua.migrate import upgrade_async
from motcua.testing import FakeClock

ISSUER = "urn:motcua:H56:identity"
AUDIENCE = "urn:motcua:H56:mesh"
JWKS_URL = "http://identity-bridge/.well-known/jwks.json"
PID = "038095001234"
AGENCY_A, AGENCY_B = "000.01.17.H56", "000.02.17.H56"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class Issuer:
    """Signs test tokens the way identity-bridge does."""

    def __init__(self) -> None:
        self.keys = [self.new_key()]

    @staticmethod
    def new_key() -> ECKey:
        return ECKey.generate_key("P-256", parameters={"alg": "ES256", "use": "sig"},
                                  private=True, auto_kid=True)

    @property
    def key(self) -> ECKey:
        return self.keys[-1]

    def jwks(self) -> dict[str, Any]:
        return KeySet(self.keys).as_dict(private=False)

    def claims(self, kind: str = "citizen", **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": f"{kind}-1",
                                "iat": now, "nbf": now, "exp": now + 300, "jti": "t-1",
                                "kind": kind}
        if kind == "citizen":
            base |= {"pid": PID, "loa": 2, "name": "Nguyễn Văn An"}
        if kind == "officer":
            base |= {"agencies": {AGENCY_A: ["processor", "receptionist"]}}
        if kind == "service":
            base |= {"client_id": "intake", "scope": "population.read mesh"}
        return base | overrides

    def token(self, kind: str = "citizen", *, key: Any = None, header: dict | None = None,
              **claims: Any) -> str:
        key = key or self.key
        head = {"alg": "ES256", "kid": self.key.kid, "typ": "at+jwt"} | (header or {})
        return jwt.encode(head, self.claims(kind, **claims), key, algorithms=[head["alg"]])


class Jwks:
    """A JWKS endpoint (httpx MockTransport) that counts fetches."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self.fetches = 0
        self.down = False

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.fetches += 1
            if self.down:
                return httpx.Response(503)
            return httpx.Response(200, json=self.issuer.jwks())
        return httpx.MockTransport(handle)


def make_app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    use_verifier(app, verifier)

    @app.get("/public", dependencies=[PUBLIC])
    async def public(who: OptionalPrincipal) -> dict[str, Any]:
        return {"signed_in": who is not None}

    @app.get("/me")
    async def me(who: CurrentPrincipal) -> dict[str, Any]:
        return {"subject": who.subject, "kind": who.kind, "pid": who.personal_id,
                "loa": who.assurance, "agencies": sorted(who.agencies),
                "scopes": sorted(who.scopes)}

    @app.get("/processing")
    async def processing(
            who: Annotated[Principal, require(kind="officer", roles=["processor"])]) -> str:
        return who.subject

    @app.get("/agencies/{code}")
    async def agency(code: str, who: CurrentPrincipal) -> str:
        who.ensure_agency(code)
        return code

    @app.get("/population", dependencies=[require(kind="service", scopes=["population.read"])])
    async def population() -> str:
        return "ok"

    @app.get("/level-2")
    async def level_2(who: Annotated[Principal, require(kind="citizen", assurance=2)]) -> str:
        return who.subject

    return app


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def jwks(issuer: Issuer) -> Jwks:
    return Jwks(issuer)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def source(jwks: Jwks, clock: FakeClock) -> JwksSource:
    return JwksSource(JWKS_URL, transport=jwks.transport(), min_refresh_s=30, max_age_s=3600,
                      clock=clock)


@pytest.fixture
async def client(source: JwksSource):
    app = make_app(TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://svc") as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["code"] == code
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer ")


class TestValidTokens:
    async def test_citizen_token_gives_the_principal(self, client, issuer) -> None:
        response = await client.get("/me", headers=bearer(issuer.token()))
        assert response.status_code == 200, response.text
        assert response.json() == {"subject": "citizen-1", "kind": "citizen", "pid": PID,
                                   "loa": 2, "agencies": [], "scopes": []}

    async def test_officer_and_service_tokens(self, client, issuer) -> None:
        officer = await client.get("/me", headers=bearer(issuer.token("officer")))
        assert officer.json()["agencies"] == [AGENCY_A]
        service = await client.get("/me", headers=bearer(issuer.token("service")))
        assert service.json()["scopes"] == ["mesh", "population.read"]

    async def test_public_route_needs_no_token_but_refuses_a_bad_one(self, client,
                                                                      issuer) -> None:
        assert (await client.get("/public")).json() == {"signed_in": False}
        assert (await client.get("/public", headers=bearer(issuer.token()))).json() == \
            {"signed_in": True}
        await assert_problem(await client.get("/public", headers=bearer("x.y.z")),
                             401, "auth.token_invalid")


class TestRejectedTokens:
    async def test_missing_token(self, client) -> None:
        await assert_problem(await client.get("/me"), 401, "auth.token_missing")

    async def test_not_a_bearer_token(self, client) -> None:
        response = await client.get("/me", headers={"authorization": "Basic dXNlcjpwdw=="})
        await assert_problem(response, 401, "auth.token_invalid")

    async def test_forged_signature(self, client, issuer) -> None:
        forged = issuer.token(key=Issuer.new_key())  # same kid, another key
        await assert_problem(await client.get("/me", headers=bearer(forged)),
                             401, "auth.token_invalid")

    async def test_tampered_payload(self, client, issuer) -> None:
        head, _, sig = issuer.token().split(".")
        payload = _b64(issuer.claims(pid="001088012345"))
        await assert_problem(await client.get("/me", headers=bearer(f"{head}.{payload}.{sig}")),
                             401, "auth.token_invalid")

    async def test_expired(self, client, issuer) -> None:
        token = issuer.token(exp=int(time.time()) - 120, iat=int(time.time()) - 600)
        await assert_problem(await client.get("/me", headers=bearer(token)),
                             401, "auth.token_expired")

    async def test_not_yet_valid(self, client, issuer) -> None:
        token = issuer.token(nbf=int(time.time()) + 600)
        await assert_problem(await client.get("/me", headers=bearer(token)),
                             401, "auth.token_invalid")

    async def test_wrong_issuer(self, client, issuer) -> None:
        token = issuer.token(iss="urn:motcua:H01:identity")
        await assert_problem(await client.get("/me", headers=bearer(token)),
                             401, "auth.token_invalid")

    async def test_wrong_audience(self, client, issuer) -> None:
        token = issuer.token(aud="urn:motcua:H01:mesh")
        await assert_problem(await client.get("/me", headers=bearer(token)),
                             401, "auth.token_invalid")

    async def test_missing_expiry(self, client, issuer) -> None:
        claims = issuer.claims()
        del claims["exp"]
        token = jwt.encode({"alg": "ES256", "kid": issuer.key.kid, "typ": "at+jwt"}, claims,
                           issuer.key, algorithms=["ES256"])
        await assert_problem(await client.get("/me", headers=bearer(token)),
                             401, "auth.token_invalid")

    async def test_alg_none(self, client, issuer, jwks) -> None:
        head = _b64({"alg": "none", "typ": "at+jwt", "kid": issuer.key.kid})
        token = f"{head}.{_b64(issuer.claims())}."
        await assert_problem(await client.get("/me", headers=bearer(token)),
                             401, "auth.token_invalid")
        assert jwks.fetches == 0  # refused before any key was looked at

    async def test_hmac_with_the_public_key(self, client, issuer) -> None:
        public = json.dumps(issuer.key.as_dict(private=False)).encode()
        token = issuer.token(key=OctKey.import_key(public), header={"alg": "HS256"})
        await assert_problem(await client.get("/me", headers=bearer(token)),
                             401, "auth.token_invalid")

    async def test_other_algorithm_with_a_published_kid(self, client, issuer) -> None:
        rsa = RSAKey.generate_key(2048, private=True)
        token = issuer.token(key=rsa, header={"alg": "RS256"})
        await assert_problem(await client.get("/me", headers=bearer(token)),
                             401, "auth.token_invalid")

    async def test_wrong_token_type(self, client, issuer) -> None:
        token = issuer.token(header={"typ": "JWT"})
        await assert_problem(await client.get("/me", headers=bearer(token)),
                             401, "auth.token_invalid")

    async def test_unknown_kind(self, client, issuer) -> None:
        await assert_problem(await client.get("/me", headers=bearer(issuer.token(kind="root"))),
                             401, "auth.token_invalid")

    async def test_citizen_without_personal_id(self, client, issuer) -> None:
        await assert_problem(await client.get("/me", headers=bearer(issuer.token(pid=None))),
                             401, "auth.token_invalid")

    async def test_garbage(self, client) -> None:
        for junk in ("abc", "a.b.c", "..", "Bearer"):
            await assert_problem(await client.get("/me", headers=bearer(junk)),
                                 401, "auth.token_invalid")
        latin = {"authorization": "Bearer é.é.é".encode("latin-1")}
        await assert_problem(await client.get("/me", headers=latin), 401, "auth.token_invalid")


class TestForbidden:
    async def test_officer_without_the_role(self, client, issuer) -> None:
        token = issuer.token("officer", agencies={AGENCY_A: ["receptionist"]})
        await assert_problem(await client.get("/processing", headers=bearer(token)),
                             403, "auth.forbidden")

    async def test_citizen_on_an_officer_route(self, client, issuer) -> None:
        await assert_problem(await client.get("/processing", headers=bearer(issuer.token())),
                             403, "auth.forbidden")

    async def test_officer_of_another_agency(self, client, issuer) -> None:
        token = issuer.token("officer")
        assert (await client.get(f"/agencies/{AGENCY_A}", headers=bearer(token))).status_code \
            == 200
        await assert_problem(await client.get(f"/agencies/{AGENCY_B}", headers=bearer(token)),
                             403, "auth.agency_forbidden")

    async def test_service_without_the_scope(self, client, issuer) -> None:
        assert (await client.get("/population",
                                 headers=bearer(issuer.token("service")))).status_code == 200
        token = issuer.token("service", scope="mesh")
        await assert_problem(await client.get("/population", headers=bearer(token)),
                             403, "auth.forbidden")

    async def test_assurance_level(self, client, issuer) -> None:
        assert (await client.get("/level-2", headers=bearer(issuer.token()))).status_code == 200
        response = await client.get("/level-2", headers=bearer(issuer.token(loa=1)))
        await assert_problem(response, 403, "auth.assurance_insufficient")
        assert response.json()["required_level"] == 2


class TestJwksCache:
    async def test_keys_are_fetched_once_and_cached(self, client, issuer, jwks) -> None:
        for _ in range(3):
            assert (await client.get("/me", headers=bearer(issuer.token()))).status_code == 200
        assert jwks.fetches == 1

    async def test_unknown_kid_refreshes_at_most_once_per_floor(self, client, issuer, jwks,
                                                               clock) -> None:
        await client.get("/me", headers=bearer(issuer.token()))
        for n in range(5):
            token = issuer.token(header={"kid": f"made-up-{n}"})
            await assert_problem(await client.get("/me", headers=bearer(token)),
                                 401, "auth.token_invalid")
        assert jwks.fetches == 1  # the floor has not passed since the first fetch
        clock.now += 31
        await client.get("/me", headers=bearer(issuer.token(header={"kid": "made-up-x"})))
        assert jwks.fetches == 2

    async def test_a_rotated_key_is_picked_up(self, client, issuer, jwks, clock) -> None:
        old = issuer.token()
        assert (await client.get("/me", headers=bearer(old))).status_code == 200
        issuer.keys.append(Issuer.new_key())
        clock.now += 31
        assert (await client.get("/me", headers=bearer(issuer.token()))).status_code == 200
        assert (await client.get("/me", headers=bearer(old))).status_code == 200
        assert jwks.fetches == 2

    async def test_stale_cache_is_refetched(self, client, issuer, jwks, clock) -> None:
        await client.get("/me", headers=bearer(issuer.token()))
        clock.now += 3601
        await client.get("/me", headers=bearer(issuer.token()))
        assert jwks.fetches == 2

    async def test_keys_unavailable_is_503_without_hammering_the_issuer(
            self, client, issuer, jwks, clock) -> None:
        jwks.down = True
        for _ in range(3):
            response = await client.get("/me", headers=bearer(issuer.token()))
            await assert_problem(response, 503, "auth.keys_unavailable")
        assert response.headers["retry-after"] == "5"
        assert jwks.fetches == 1
        jwks.down = False
        clock.now += 31
        assert (await client.get("/me", headers=bearer(issuer.token()))).status_code == 200

    async def test_cached_keys_survive_an_outage(self, client, issuer, jwks, clock) -> None:
        await client.get("/me", headers=bearer(issuer.token()))
        jwks.down = True
        clock.now += 3601
        assert (await client.get("/me", headers=bearer(issuer.token()))).status_code == 200


class TestVerifiedTokens:
    """A verified token is remembered until it expires: no second signature check, but
    still refused once expired or once its key is withdrawn."""

    class Keys:
        def __init__(self, issuer: Issuer) -> None:
            self.issuer = issuer
            self.withdrawn: set[str] = set()
            self.reload()

        def reload(self) -> None:
            """A fresh key set with the same keys (as after a JWKS refetch)."""
            self.static = StaticKeys(self.issuer.jwks())

        async def get(self, kid: str) -> Any:
            if kid in self.withdrawn:
                return None
            return await self.static.get(kid)

    @pytest.fixture
    def decodes(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """Every token whose signature is checked."""
        import motcua.auth as auth
        seen: list[str] = []
        real = auth.jwt.decode

        def counting(token: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(token)
            return real(token, *args, **kwargs)

        monkeypatch.setattr(auth.jwt, "decode", counting)
        return seen

    def _rig(self, issuer: Issuer, **kwargs: Any) -> tuple[TokenVerifier, Keys, FakeClock]:
        """A verifier on :class:`Keys` whose clock starts at the current whole second."""
        keys, clock = self.Keys(issuer), FakeClock()
        clock.now = float(int(time.time()))
        return (TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, clock=clock, **kwargs),
                keys, clock)

    async def test_a_token_sent_again_is_not_verified_again(self, issuer, decodes) -> None:
        verifier, _, _ = self._rig(issuer)
        one, two = issuer.token(), issuer.token("officer")
        first = await verifier.verify(one)
        assert await verifier.verify(one) == first
        assert (await verifier.verify(two)).kind == "officer"
        assert decodes == [one, two]

    async def test_a_remembered_token_expires(self, issuer, decodes) -> None:
        verifier, _, clock = self._rig(issuer, leeway_s=30)
        token = issuer.token(exp=int(clock.now) + 60)
        await verifier.verify(token)
        clock.now += 60 + 30  # the last accepted second (exp + leeway)
        await verifier.verify(token)
        clock.now += 1
        with pytest.raises(TokenExpired):
            await verifier.verify(token)
        assert len(decodes) == 1

    async def test_a_remembered_token_of_a_withdrawn_key_is_refused(self, issuer,
                                                                    decodes) -> None:
        verifier, keys, _ = self._rig(issuer)
        token = issuer.token()
        await verifier.verify(token)
        await verifier.verify(token)
        assert decodes == [token]  # remembered
        keys.withdrawn.add(issuer.key.kid)
        with pytest.raises(TokenInvalid):
            await verifier.verify(token)

    async def test_after_a_key_set_reload_a_token_is_verified_again(self, issuer,
                                                                   decodes) -> None:
        verifier, keys, _ = self._rig(issuer)
        token = issuer.token()
        await verifier.verify(token)
        keys.reload()
        await verifier.verify(token)  # checked against the key as published now
        await verifier.verify(token)
        assert decodes == [token, token]

    async def test_the_memory_is_bounded(self, issuer, decodes) -> None:
        verifier, _, _ = self._rig(issuer, cache_size=2)
        tokens = [issuer.token(jti=f"t-{n}") for n in range(3)]
        await verifier.verify(tokens[0])
        await verifier.verify(tokens[1])
        await verifier.verify(tokens[0])  # used again: now the most recent
        await verifier.verify(tokens[2])  # forgets the least recently used, tokens[1]
        await verifier.verify(tokens[0])
        await verifier.verify(tokens[1])
        assert decodes == [tokens[0], tokens[1], tokens[2], tokens[1]]


class TestDeclarations:
    def test_undeclared_routes_are_listed(self, issuer) -> None:
        app = make_app(TokenVerifier(StaticKeys(issuer.jwks()), issuer=ISSUER,
                                     audience=AUDIENCE))
        assert undeclared_routes(app) == []

        @app.get("/forgotten")
        async def forgotten() -> str:
            return "open"

        assert undeclared_routes(app) == ["GET /forgotten"]

    def test_routes_of_included_routers_are_checked(self) -> None:
        # FastAPI includes routers lazily: their routes are not in app.routes as APIRoute.
        app = FastAPI()
        router = APIRouter(prefix="/v1")

        @router.get("/open")
        async def open_() -> str:
            return "open"

        @router.get("/declared", dependencies=[PUBLIC])
        async def declared() -> str:
            return "ok"

        @router.get("/guarded")
        async def guarded(who: CurrentPrincipal) -> str:
            return who.subject

        app.include_router(router)
        assert undeclared_routes(app) == ["GET /v1/open"]

    def test_router_level_dependencies_count(self) -> None:
        app = FastAPI()
        router = APIRouter(dependencies=[require(kind="officer")])

        @router.get("/cases")
        async def cases() -> list[str]:
            return []

        app.include_router(router, prefix="/v1")
        assert undeclared_routes(app) == []

    def test_unknown_role_or_kind_fails_at_definition(self) -> None:
        with pytest.raises(ValueError):
            require(roles=["superuser"])
        with pytest.raises(ValueError):
            require(kind="robot")  # type: ignore[arg-type]

    def test_hmac_cannot_be_configured(self, issuer) -> None:
        with pytest.raises(ValueError):
            TokenVerifier(StaticKeys(issuer.jwks()), issuer=ISSUER, audience=AUDIENCE,
                          algorithms=["ES256", "HS256"])

    def test_principal_repr_hides_the_personal_id(self) -> None:
        p = Principal(subject="a", kind="citizen", personal_id=PID, assurance=2)
        assert PID not in repr(p)
        assert p.is_person(PID) and not p.is_person("001088012345")
        assert not p.can_see_agency(AGENCY_A)


class TestWithIdentityBridge:
    """Tokens from the real identity-bridge, keys fetched from its JWKS endpoint."""

    @pytest.fixture
    async def bridge(self, tmp_path: Path, nats_server):
        from motcua_identity import migrations_dir
        from motcua_identity.config import Settings
        from motcua_identity.main import create_app

        url = f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}"
        await upgrade_async(migrations_dir(), url)
        settings = Settings(
            database_url=url, nats_url=nats_server.url, environment="test", province="H56",
            auth_jwks_min_refresh_s=0, service_clients={
                "intake": {"secret": "intake-secret-0123456789", "scopes": ["mesh"]},
                "ops": {"secret": "ops-secret-0123456789ab",
                        "scopes": ["identity.keys.rotate"]}})
        app = create_app(settings)
        async with LifespanManager(app) as manager:
            yield settings, manager.app

    async def _token(self, app: Any, client_id: str, secret: str) -> str:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://identity-bridge") as c:
            response = await c.post("/v1/oauth2/token", data={"grant_type": "client_credentials"},
                                    auth=(client_id, secret))
            assert response.status_code == 200, response.text
            return response.json()["access_token"]

    async def test_verifies_tokens_and_follows_rotation(self, bridge) -> None:
        settings, app = bridge
        verifier = TokenVerifier.from_settings(settings, transport=httpx.ASGITransport(app=app))
        token = await self._token(app, "intake", "intake-secret-0123456789")
        who = await verifier.verify(token)
        assert (who.kind, who.subject, who.client_id) == ("service", "service:intake", "intake")

        ops = await self._token(app, "ops", "ops-secret-0123456789ab")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://identity-bridge") as c:
            rotated = await c.post("/v1/keys/rotation", headers=bearer(ops))
            assert rotated.status_code == 200, rotated.text
            assert (await c.post("/v1/keys/rotation", headers=bearer(token))).status_code == 403
        after = await self._token(app, "intake", "intake-secret-0123456789")
        assert (await verifier.verify(after)).subject == "service:intake"
        assert (await verifier.verify(token)).subject == "service:intake"  # previous key


class TestOwnerRef:
    KEY = "k" * 32

    def test_the_citizen_owns_the_reference_of_their_number(self) -> None:
        from motcua.auth import owner_ref
        ref = owner_ref(PID, self.KEY)
        me = Principal(subject="c", kind="citizen", personal_id=PID, assurance=2)
        other = Principal(subject="d", kind="citizen", personal_id="001099000001", assurance=2)
        officer = Principal(subject="o", kind="officer")
        assert me.owns(ref, self.KEY)
        assert not other.owns(ref, self.KEY)
        assert not officer.owns(ref, self.KEY)
        assert not me.owns(None, self.KEY)
        assert not me.owns(owner_ref(PID, "another key of 32 characters...."), self.KEY)

    def test_the_reference_does_not_contain_the_number(self) -> None:
        from motcua.auth import owner_ref
        assert PID not in owner_ref(PID, self.KEY)
        assert owner_ref(PID, self.KEY) == owner_ref(PID, self.KEY)

    def test_production_requires_a_key(self) -> None:
        from motcua.config import MeshSettings
        with pytest.raises(ValueError, match="owner_ref_key"):
            MeshSettings(environment="production")
        MeshSettings(environment="production", owner_ref_key="x" * 32)
