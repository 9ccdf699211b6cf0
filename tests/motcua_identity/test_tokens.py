"""Client-credentials tokens, the JWKS and key rotation, staff admin, the dev sign-in."""

from __future__ import annotations

import base64

from sqlalchemy import select

from motcua.testing import Mesh
from motcua_identity.keys.models import SigningKey
from tests.motcua_identity.helpers import ADMIN, CLIENTS, bearer, service_token, start_identity

SECRET = CLIENTS["intake"]["secret"]


class TestClientCredentials:
    async def test_token_for_a_configured_client(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        response = await bridge.client.post(
            "/v1/oauth2/token", data={"grant_type": "client_credentials",
                                      "scope": "population.read"}, auth=("intake", SECRET))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "Bearer" and body["scope"] == "population.read"
        assert body["expires_in"] == bridge.settings.service_token_ttl_s
        assert response.headers["cache-control"] == "no-store"
        me = await bridge.client.get("/v1/me", headers=bearer(body["access_token"]))
        assert me.json()["kind"] == "service" and me.json()["scopes"] == ["population.read"]

    async def test_secret_in_the_form_works_too(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        response = await bridge.client.post("/v1/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": "intake", "client_secret": SECRET})
        assert response.status_code == 200, response.text

    async def test_refusals_are_problems_with_oauth_error_codes(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        cases = [
            ({"grant_type": "client_credentials"}, ("intake", "wrong-secret-000000"), 401,
             "oauth.invalid_client", "invalid_client"),
            ({"grant_type": "client_credentials"}, ("nobody", SECRET), 401,
             "oauth.invalid_client", "invalid_client"),
            ({"grant_type": "password"}, ("intake", SECRET), 400,
             "oauth.unsupported_grant_type", "unsupported_grant_type"),
            ({"grant_type": "client_credentials", "scope": "identity.keys.rotate"},
             ("intake", SECRET), 400, "oauth.invalid_scope", "invalid_scope"),
        ]
        for form, auth, status, code, error in cases:
            response = await bridge.client.post("/v1/oauth2/token", data=form, auth=auth)
            assert response.status_code == status, (form, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] == code and response.json()["error"] == error
        missing = await bridge.client.post("/v1/oauth2/token",
                                           data={"grant_type": "client_credentials"})
        assert missing.status_code == 401
        as_json = await bridge.client.post("/v1/oauth2/token",
                                           json={"grant_type": "client_credentials"},
                                           auth=("intake", SECRET))
        assert as_json.status_code == 400 and as_json.json()["code"] == "oauth.invalid_request"
        both = await bridge.client.post(
            "/v1/oauth2/token", data={"grant_type": "client_credentials",
                                      "client_secret": SECRET}, auth=("intake", SECRET))
        assert both.status_code == 400
        garbled = await bridge.client.post(
            "/v1/oauth2/token", data={"grant_type": "client_credentials"},
            headers={"authorization": "Basic " + base64.b64encode(b"\xff\xfe").decode()})
        assert garbled.status_code == 401


class TestKeys:
    async def test_rotation_publishes_current_and_previous_only(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        first = (await bridge.client.get("/.well-known/jwks.json")).json()["keys"]
        assert len(first) == 1 and first[0]["alg"] == "ES256" and "d" not in first[0]
        old_token = await service_token(bridge)
        admin = await service_token(bridge, ADMIN[0])
        for _ in range(2):
            response = await bridge.client.post("/v1/keys/rotation", headers=bearer(admin))
            assert response.status_code == 200, response.text
        keys = (await bridge.client.get("/.well-known/jwks.json")).json()["keys"]
        assert len(keys) == 2 and first[0]["kid"] not in {k["kid"] for k in keys}
        # A token signed by the retired key no longer opens anything.
        response = await bridge.client.get("/v1/me", headers=bearer(old_token))
        assert response.status_code == 401 and response.json()["code"] == "auth.token_invalid"

    async def test_rotation_needs_the_scope(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        token = await service_token(bridge)
        response = await bridge.client.post("/v1/keys/rotation", headers=bearer(token))
        assert response.status_code == 403 and response.json()["code"] == "auth.forbidden"
        assert (await bridge.client.post("/v1/keys/rotation")).status_code == 401

    async def test_private_keys_are_encrypted_at_rest(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh, key_encryption_secret="a long operator secret")
        await service_token(bridge)
        async with bridge.runtime.sessions() as session:
            row = (await session.execute(select(SigningKey))).scalars().one()
        assert row.encrypted and '"d"' not in row.private_jwk
        assert row.private_jwk.count(".") == 4  # compact JWE


class TestStaffAdministration:
    async def test_agency_admins_manage_only_their_agency(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh, dev_login_enabled=True)
        a, b = f"000.01.17.{mesh.province}", f"000.02.17.{mesh.province}"
        admin = await service_token(bridge, ADMIN[0])
        boss = await bridge.client.post("/v1/staff", headers=bearer(admin) | {
            "Idempotency-Key": "boss-1"}, json={
                "full_name": "Quản Trị A", "username": "admin-a", "password": "mat-khau-a1",
                "agencies": {a: ["agency_admin"]}})
        assert boss.status_code == 201, boss.text
        replay = await bridge.client.post("/v1/staff", headers=bearer(admin) | {
            "Idempotency-Key": "boss-1"}, json={
                "full_name": "Quản Trị A", "username": "admin-a", "password": "mat-khau-a1",
                "agencies": {a: ["agency_admin"]}})
        assert replay.json()["id"] == boss.json()["id"]
        assert replay.headers["idempotent-replayed"] == "true"

        login = await bridge.client.post("/v1/auth/dev-login", json={
            "username": "admin-a", "password": "mat-khau-a1"})
        assert login.status_code == 200, login.text
        assert login.json()["agencies"] == {a: ["agency_admin"]}
        token = login.json()["access_token"]

        clerk = await bridge.client.post("/v1/staff", headers=bearer(token), json={
            "full_name": "Tiếp Nhận A", "agencies": {a: ["receptionist"]}})
        assert clerk.status_code == 201, clerk.text
        clerk_id = clerk.json()["id"]
        elsewhere = await bridge.client.post("/v1/staff", headers=bearer(token), json={
            "full_name": "Tiếp Nhận B", "agencies": {b: ["receptionist"]}})
        assert elsewhere.status_code == 403
        assert elsewhere.json()["code"] == "auth.agency_forbidden"

        moved = await bridge.client.put(f"/v1/staff/{clerk_id}/agencies/{a}",
                                        headers=bearer(token),
                                        json={"roles": ["receptionist", "processor"]})
        assert moved.json()["agencies"] == {a: ["processor", "receptionist"]}
        denied = await bridge.client.put(f"/v1/staff/{clerk_id}/agencies/{b}",
                                         headers=bearer(token), json={"roles": ["approver"]})
        assert denied.status_code == 403
        seen = await bridge.client.get(f"/v1/staff/{clerk_id}", headers=bearer(token))
        assert seen.status_code == 200
        bad_role = await bridge.client.put(f"/v1/staff/{clerk_id}/agencies/{a}",
                                           headers=bearer(token), json={"roles": ["root"]})
        assert bad_role.status_code == 422

    async def test_citizens_cannot_administer_staff(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        token = await service_token(bridge)  # a service without identity.staff.admin
        response = await bridge.client.post("/v1/staff", headers=bearer(token), json={
            "full_name": "X", "agencies": {}})
        assert response.status_code == 403


class TestDevSignIn:
    async def test_disabled_by_default(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh)
        response = await bridge.client.post("/v1/auth/dev-login",
                                            json={"username": "x", "password": "y"})
        assert response.status_code == 404
        assert response.json()["code"] == "auth.dev_login_disabled"
        admin = await service_token(bridge, ADMIN[0])
        refused = await bridge.client.post("/v1/staff", headers=bearer(admin), json={
            "full_name": "X", "username": "x", "password": "long-password"})
        assert refused.status_code == 422
        assert refused.json()["code"] == "staff.password_not_allowed"

    async def test_wrong_password(self, mesh: Mesh) -> None:
        bridge = await start_identity(mesh, dev_login_enabled=True)
        admin = await service_token(bridge, ADMIN[0])
        await bridge.client.post("/v1/staff", headers=bearer(admin), json={
            "full_name": "Y", "username": "y", "password": "right-password"})
        for username, password in (("y", "wrong-password"), ("nobody", "right-password")):
            response = await bridge.client.post("/v1/auth/dev-login", json={
                "username": username, "password": password})
            assert response.status_code == 401
            assert response.json()["code"] == "auth.invalid_credentials"
