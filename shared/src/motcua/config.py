"""Settings read from the environment.

Every service has its own settings class built by :func:`service_settings`, reading
``MOTCUA_<SERVICE>_*`` first and then the mesh-wide ``MOTCUA_*`` variables, so one
environment can describe the whole mesh (``MOTCUA_NATS_URL``) while each service keeps
its own database (``MOTCUA_INTAKE_DATABASE_URL``) and port.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORTS = {
    "intake": 8101,
    "workflow": 8102,
    "payments": 8103,
    "identity-bridge": 8104,
    "metrics": 8105,
}
#: Our own NATS port for local runs, so `motcua up` never collides with a NATS on 4222.
DEFAULT_NATS_PORT = 4322
_PROVINCE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")


class MeshSettings(BaseSettings):
    """Settings shared by the whole mesh (``MOTCUA_*``)."""

    # A refused value is never repeated in the error (it may be a secret).
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore",
                                      hide_input_in_errors=True)

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./var")
    province: str = Field("H56", description="Province level-1 code (Decision 20/2020), e.g. H56")
    nats_url: str = f"nats://127.0.0.1:{DEFAULT_NATS_PORT}"
    host: str = "127.0.0.1"
    log_level: str = "INFO"
    log_json: bool = True
    #: Mesh tokens (``motcua.auth``): who signs them, whom they are for, where the keys are.
    #: Empty means the province default (see the ``resolved_auth_*`` methods).
    auth_issuer: str = ""
    auth_audience: str = ""
    auth_jwks_url: str = ""
    #: Clock skew tolerated on ``exp``/``nbf``/``iat``.
    auth_leeway_s: int = 30
    #: Refetch the JWKS after this long, and on an unknown ``kid`` at most once per floor.
    auth_jwks_max_age_s: float = 3600.0
    auth_jwks_min_refresh_s: float = 30.0
    #: Key of the dossier owner reference (``motcua.auth.owner_ref``): a keyed hash of the
    #: applicant's personal ID that events carry instead of the number, so every service
    #: can tell a citizen's own records. Same value on every service; required in production.
    owner_ref_key: str = ""

    @field_validator("province")
    @classmethod
    def _province_code(cls, value: str) -> str:
        if not _PROVINCE.match(value):
            raise ValueError("province must look like a level-1 code such as H56")
        return value

    @model_validator(mode="after")
    def _production_secrets(self) -> MeshSettings:
        if self.environment == "production" and len(self.owner_ref_key) < 32:
            raise ValueError("owner_ref_key (MOTCUA_OWNER_REF_KEY) of at least 32 characters "
                             "is required in production")
        return self

    def resolved_owner_ref_key(self) -> str:
        """The owner reference key (a fixed development key outside production)."""
        return self.owner_ref_key or "motcua-development-owner-ref-key-not-secret"

    def resolved_auth_issuer(self) -> str:
        """The mesh tokens' ``iss``: identity-bridge of this province by default."""
        return self.auth_issuer or f"urn:motcua:{self.province}:identity"

    def resolved_auth_audience(self) -> str:
        """The ``aud`` every service of this province accepts."""
        return self.auth_audience or f"urn:motcua:{self.province}:mesh"

    def local_url(self, port: int) -> str:
        """The base URL of a process of the mesh listening on this host at ``port``
        (``host``, or the loopback for a wildcard bind address)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{port}"

    def resolved_auth_jwks_url(self) -> str:
        """Where identity-bridge publishes its public keys: by default on this host, at
        the port identity-bridge is given (``MOTCUA_IDENTITY_BRIDGE_PORT``, else 8104).
        Services on other hosts (containers) set ``MOTCUA_AUTH_JWKS_URL``."""
        if self.auth_jwks_url:
            return self.auth_jwks_url
        port = service_settings("identity-bridge")().resolved_port()
        return f"{self.local_url(port)}/.well-known/jwks.json"


class ServiceSettings(MeshSettings):
    """Settings of one service; subclassed per service with its own env prefix."""

    service: str = "service"
    port: int = 0
    database_url: str = ""
    #: PostgreSQL connections kept per service process: the requests' and consumers'
    #: pool, and the side pool of counters and the relay (``max_connections`` must allow
    #: their sum per process). Ignored on SQLite (one connection per process).
    database_pool_size: int = Field(default=30, ge=1)
    database_side_pool_size: int = Field(default=8, ge=1)
    #: Longest a request waits for each pooled connection (SQLite's one, PostgreSQL's
    #: pools) before it answers 503 service.busy with Retry-After; consumers and the relay
    #: wait up to 30 s (motcua.db.waiting_at_most). Shorter than clients wait for an
    #: answer, so an overloaded service refuses quickly instead of applying requests
    #: whose clients already gave up.
    database_request_wait_s: float = Field(default=5.0, gt=0)
    #: Outbox relay: rows claimed per batch and the idle poll (a commit wakes it at once).
    relay_batch: int = 200
    relay_idle_poll_s: float = 1.0
    relay_max_backoff_s: float = 5.0
    #: Consumers: deliveries before a message is dead-lettered, and the redelivery delays.
    consumer_max_deliver: int = 5
    consumer_backoff_s: list[float] = [1.0, 5.0, 15.0, 30.0, 60.0]
    consumer_batch: int = 100
    #: Messages applied per database transaction (a savepoint each, one commit).
    consumer_txn_batch: int = 50
    #: Requests one service process works on at once (not counting those waiting for
    #: their client); beyond, 503 service.busy at once (motcua.http.InFlightLimitMiddleware;
    #: the operations endpoints and /.well-known/ are not counted).
    max_requests_in_flight: int = Field(default=128, ge=1)
    #: Largest request body accepted by JSON endpoints.
    max_body_bytes: int = 1_048_576
    #: Cyclic garbage collector of a process that runs this one service (``motcua
    #: serve``): what startup built is frozen (never scanned again) and a young-generation
    #: collection runs after this many more allocations than deallocations instead of
    #: Python's 700. 0 leaves the collector as Python sets it. See docs/architecture.md.
    gc_gen0_threshold: int = Field(default=5_000, ge=0)

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file per service in the data directory."""
        if self.database_url:
            return self.database_url
        path = (self.data_dir / f"{self.service}.db").resolve()
        return f"sqlite+aiosqlite:///{path}"

    def resolved_port(self) -> int:
        """The HTTP port, defaulting to the service's row in the port table."""
        return self.port or DEFAULT_PORTS.get(self.service, 8100)


def service_settings(service: str) -> type[ServiceSettings]:
    """Build the settings class of ``service`` reading ``MOTCUA_<SERVICE>_*`` then ``MOTCUA_*``."""
    prefix = "MOTCUA_" + service.upper().replace("-", "_") + "_"

    class _Settings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix=prefix, extra="ignore")

        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                       dotenv_settings, file_secret_settings):
            # Service-specific variables win over mesh-wide ones.
            return (init_settings, env_settings, _MeshEnv(settings_cls), file_secret_settings)

    _Settings.__name__ = f"{service.title().replace('-', '')}Settings"
    _Settings.model_fields["service"].default = service
    _Settings.model_rebuild(force=True)
    return _Settings


class _MeshEnv:
    """A settings source reading the mesh-wide ``MOTCUA_*`` variables."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        self._fields = settings_cls.model_fields

    def __call__(self) -> dict[str, object]:
        found: dict[str, object] = {}
        for name in self._fields:
            value = os.environ.get(f"MOTCUA_{name.upper()}")
            if value is not None:
                # Complex values (lists) come as JSON, as pydantic-settings expects.
                found[name] = json.loads(value) if value[:1] in "[{" else value
        return found
