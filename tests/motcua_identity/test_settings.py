"""identity-bridge settings that must never reach production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from motcua_identity.config import Settings
from motcua_identity.main import create_app

PRODUCTION = {"environment": "production", "key_encryption_secret": "s3cret",
              "owner_ref_key": "o" * 32,
              "population_backend": "http", "population_url": "https://dancu.example/api"}


class TestProductionSafety:
    def test_dev_login_cannot_be_enabled_in_production(self) -> None:
        with pytest.raises(ValidationError, match="dev_login_enabled"):
            Settings(**PRODUCTION, dev_login_enabled=True)

    def test_nor_through_the_environment(self, monkeypatch) -> None:
        monkeypatch.setenv("MOTCUA_ENVIRONMENT", "production")
        monkeypatch.setenv("MOTCUA_IDENTITY_BRIDGE_DEV_LOGIN_ENABLED", "true")
        with pytest.raises(ValidationError, match="dev_login_enabled"):
            Settings(key_encryption_secret="s3cret", population_backend="http",
                     owner_ref_key="o" * 32,
                     population_url="https://dancu.example/api")

    def test_production_needs_key_encryption_and_a_real_population_database(self) -> None:
        with pytest.raises(ValidationError, match="key_encryption_secret"):
            Settings(**(PRODUCTION | {"key_encryption_secret": None}))
        with pytest.raises(ValidationError, match="development only"):
            Settings(**(PRODUCTION | {"population_backend": "local"}))
        assert Settings(**PRODUCTION).dev_login_enabled is False

    def test_oidc_client_authentication_is_complete(self) -> None:
        base = {"discovery_url": "https://p/.well-known/openid-configuration",
                "client_id": "c", "redirect_uri": "https://rp/cb"}
        with pytest.raises(ValidationError, match="client_secret"):
            Settings(citizen_oidc=base)
        with pytest.raises(ValidationError, match="private_key_jwk"):
            Settings(citizen_oidc=base | {"client_auth": "private_key_jwt"})
        with pytest.raises(ValidationError, match="none or HS"):
            Settings(citizen_oidc=base | {"client_secret": "s",
                                          "id_token_algorithms": ["RS256", "HS256"]})

    def test_every_route_declares_who_may_call_it(self) -> None:
        from motcua.auth import undeclared_routes

        assert undeclared_routes(create_app(Settings())) == []
