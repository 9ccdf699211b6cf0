"""identity-bridge settings: ``MOTCUA_IDENTITY_BRIDGE_*`` then ``MOTCUA_*``.

Structured settings (OIDC providers, service clients) come as JSON, for example::

    MOTCUA_IDENTITY_BRIDGE_CITIZEN_OIDC='{
      "discovery_url": "https://vneid.example/.well-known/openid-configuration",
      "client_id": "h56", "client_auth": "private_key_jwt", "private_key_jwk": {...},
      "redirect_uri": "https://dichvucong.h56.example/dang-nhap/callback", "acr_values": ["LoA2"]}'
    MOTCUA_IDENTITY_BRIDGE_SERVICE_CLIENTS='{"intake": {"secret": "...",
      "scopes": ["population.read"]}}'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from motcua.config import service_settings

#: Scopes a service client may be granted (space-separated in ``scope``).
SCOPES = (
    "population.read",      # look citizens up in the population database
    "documents.read",       # read the citizen data store
    "documents.write",      # store documents and results
    "documents.reuse",      # attach stored documents to dossiers
    "identity.staff.admin",  # manage staff accounts of any agency
    "identity.keys.rotate",  # rotate the mesh signing key
    "mesh",                 # plain service-to-service calls
    # Scopes the other services check (docs/security.md):
    "catalog.write",        # intake: publish and edit procedures and agencies
    "dossiers.submit",      # intake: submit dossiers (e.g. the national portal)
    "dossiers.read",        # intake: read any dossier
    "cases.read",           # workflow: read cases
    "cases.write",          # workflow: act on cases
    "definitions.read",     # workflow: read process definitions
    "definitions.write",    # workflow: store process definitions
    "payments.read",        # payments: read assessments, payments, receipts
    "payments.reconcile",   # payments: reconciliation and ledger checks
    "metrics.read",         # metrics: dossier-level drill-down and national records
)


class ClaimNames(BaseModel):
    """Where the provider puts each fact (VNeID-style names by default)."""

    model_config = ConfigDict(extra="forbid")
    personal_id: str = "SoDinhDanh"
    full_name: str = "HoVaTen"
    birth_date: str = "NgayThangNamSinh"
    assurance: str = "acr"
    email: str = "email"


class OidcProvider(BaseModel):
    """One OpenID Connect provider this service signs people in with."""

    model_config = ConfigDict(extra="forbid")
    discovery_url: str
    client_id: str
    client_secret: SecretStr | None = None
    client_auth: Literal["client_secret_basic", "client_secret_post", "private_key_jwt"] = \
        "client_secret_basic"
    #: Private JWK (RSA or EC) for ``private_key_jwt``; its public half is registered
    #: with the provider.
    private_key_jwk: dict[str, Any] | None = None
    redirect_uri: str
    scopes: list[str] = ["openid", "profile"]
    #: Requested assurance (``acr_values``), e.g. ["LoA2"]; a login may also demand a level.
    acr_values: list[str] = []
    claims: ClaimNames = ClaimNames()
    #: Assurance claim values → level (1 or 2).
    assurance_levels: dict[str, int] = {"LoA1": 1, "LoA2": 2}
    #: Accepted ID-token signature algorithms (never ``none`` or HMAC).
    id_token_algorithms: list[str] = ["RS256", "PS256", "ES256"]
    #: Also read the userinfo endpoint (claims missing from the ID token).
    use_userinfo: bool = True

    @model_validator(mode="after")
    def _client_authentication(self) -> OidcProvider:
        if self.client_auth == "private_key_jwt" and not self.private_key_jwk:
            raise ValueError("private_key_jwt needs private_key_jwk")
        if self.client_auth != "private_key_jwt" and self.client_secret is None:
            raise ValueError(f"{self.client_auth} needs client_secret")
        if any(a == "none" or a.startswith("HS") for a in self.id_token_algorithms):
            raise ValueError("id_token_algorithms may not contain none or HS*")
        return self


class ServiceClient(BaseModel):
    """A mesh service allowed the client-credentials grant."""

    model_config = ConfigDict(extra="forbid")
    secret: SecretStr = Field(min_length=16)
    scopes: list[Literal[SCOPES]] = ["mesh"]  # type: ignore[valid-type]


_Base = service_settings("identity-bridge")


class Settings(_Base):  # type: ignore[misc, valid-type]
    """Settings of identity-bridge."""

    #: Lifetime of a citizen's or officer's mesh token, and of a service's.
    access_token_ttl_s: int = Field(600, ge=60, le=3600)
    service_token_ttl_s: int = Field(300, ge=60, le=3600)
    #: The signing key is rotated after this many days (the previous one stays published).
    key_rotation_days: float = Field(30.0, gt=0)
    #: Encrypts private signing keys at rest; required in production.
    key_encryption_secret: SecretStr | None = None
    citizen_oidc: OidcProvider | None = None
    staff_oidc: OidcProvider | None = None
    #: How long a started login may take to come back.
    login_ttl_s: int = Field(600, ge=60, le=3600)
    #: Each provider's back channel (discovery, token and userinfo endpoints): how long
    #: one request may take, and the guard in front of it (motcua.guard): at most
    #: ``oidc_max_calls`` callbacks waiting for it at once (the next: 503
    #: login.provider_busy); after ``oidc_failures_to_pause`` failures in a row,
    #: callbacks are refused for ``oidc_pause_s`` (503 login.provider_paused), then one
    #: trial decides.
    oidc_timeout_s: float = Field(10.0, gt=0, le=60)
    oidc_max_calls: int = Field(16, ge=1)
    oidc_failures_to_pause: int = Field(5, ge=1)
    oidc_pause_s: float = Field(30.0, gt=0)
    service_clients: dict[str, ServiceClient] = {}
    #: Development-only staff sign-in by username and password. Refused in production.
    dev_login_enabled: bool = False
    population_backend: Literal["local", "http"] = "local"
    population_url: str = ""
    population_client_id: str = ""
    population_api_key: SecretStr | None = None
    population_timeout_s: float = 5.0
    #: The guard in front of the http backend (motcua.guard): at most this many lookups
    #: waiting at once (the next: 503 population.busy); after this many failures in a
    #: row, lookups are refused for ``population_pause_s`` (503 population.paused), then
    #: one trial lookup decides.
    population_max_calls: int = Field(8, ge=1)
    population_failures_to_pause: int = Field(5, ge=1)
    population_pause_s: float = Field(30.0, gt=0)
    #: Synthetic citizens for the local registry (default: the bundled sample).
    population_registry_file: Path | None = None
    #: Population lookups allowed per actor per minute.
    population_rate_limit: int = Field(30, ge=1)

    @model_validator(mode="after")
    def _production_safety(self) -> Settings:
        if self.environment == "production":
            if self.dev_login_enabled:
                raise ValueError("dev_login_enabled cannot be set in production")
            if self.key_encryption_secret is None:
                raise ValueError("key_encryption_secret is required in production")
            if self.population_backend == "local":
                raise ValueError(
                    "the local population registry is for development only: set "
                    "MOTCUA_IDENTITY_BRIDGE_POPULATION_BACKEND=http and "
                    "MOTCUA_IDENTITY_BRIDGE_POPULATION_URL in production")
        if self.population_backend == "http" and not self.population_url:
            raise ValueError("population_backend=http needs population_url")
        return self
