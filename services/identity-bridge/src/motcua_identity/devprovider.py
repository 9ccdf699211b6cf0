"""A VNeID stand-in for local runs: ``oidc-provider-mock`` as a `motcua up` companion.

Registered under the ``motcua.extras`` entry-point group as ``vneid-simulator`` (port
8111, ``MOTCUA_VNEID_SIMULATOR_*``). ``oidc-provider-mock`` (a development dependency of
the workspace) is a real OpenID provider built on authlib; it serves plain HTTP, so this
is for development only. Users are the synthetic citizens of the bundled population
registry (``vneid-1`` … with VNeID-style claims) plus any a client registers with the
provider's own ``PUT /users/{sub}`` (claims as a JSON object), which is what
`motcua simulate` does for its synthetic citizens.

:meth:`VneidSimulator.mesh_environment` is what `motcua up` sets for the mesh (unless
the variables are already set, and never in production): identity-bridge's citizen
sign-in against this provider, and the development staff sign-in (``dev-login``).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from motcua.config import service_settings

#: Where `motcua up` runs the provider (next to the payments simulator's 8110).
PROVIDER_PORT = 8111
#: The client identity-bridge registers as (the mock accepts any client and secret).
CLIENT_ID = "motcua-dev"
CLIENT_SECRET = "motcua-dev-secret"

_SAMPLE = Path(__file__).parent / "population" / "sample_citizens.json"

_Base = service_settings("vneid-simulator")


class VneidSimulatorSettings(_Base):  # type: ignore[misc, valid-type]
    """Settings of the stand-in provider."""

    port: int = PROVIDER_PORT
    #: Refuse authorization requests without a nonce (identity-bridge always sends one).
    require_nonce: bool = True


def sample_users() -> list[dict[str, Any]]:
    """The bundled synthetic citizens as provider users (``sub`` + VNeID claims)."""
    users = []
    for n, citizen in enumerate(json.loads(_SAMPLE.read_text(encoding="utf-8")), start=1):
        born = date.fromisoformat(citizen["NgayThangNamSinh"])
        users.append({"sub": f"vneid-{n}", "SoDinhDanh": citizen["SoDinhDanh"],
                      "HoVaTen": citizen["HoVaTen"],
                      "NgayThangNamSinh": born.strftime("%d/%m/%Y"), "acr": "LoA2"})
    return users


def create_app(settings: VneidSimulatorSettings | None = None, **_: object) -> Any:
    """The provider as an ASGI app (the mock is a Flask app; uvicorn's WSGI adapter)."""
    settings = settings or VneidSimulatorSettings()
    # The provider refuses plain HTTP unless told this is not production.
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    with warnings.catch_warnings():
        # authlib turns its own deprecation warnings on when imported; the mock uses them.
        import authlib.deprecate  # noqa: F401

        warnings.simplefilter("ignore", DeprecationWarning)
        import oidc_provider_mock
        from uvicorn.middleware.wsgi import WSGIMiddleware

        users = [oidc_provider_mock.User(sub=u["sub"], claims={k: v for k, v in u.items()
                                                               if k != "sub"})
                 for u in sample_users()]
        flask_app = oidc_provider_mock.app(require_nonce=settings.require_nonce,
                                           user_claims=users)
        return WSGIMiddleware(flask_app)


def installed() -> bool:
    """Whether ``oidc-provider-mock`` is installed (a development dependency)."""
    try:
        import importlib.util

        return importlib.util.find_spec("oidc_provider_mock") is not None
    except (ImportError, ValueError):
        return False


@dataclass(frozen=True)
class VneidSimulator:
    """The `motcua up` companion: name, settings class, app factory, mesh settings."""

    name: str
    settings: type[VneidSimulatorSettings]
    create_app: Any

    def available(self) -> bool:
        """Whether it runs here: development only, with the mock installed (`motcua up`
        skips it otherwise)."""
        return self.settings().environment != "production" and installed()

    def url(self) -> str:
        """Where the provider is served."""
        s = self.settings()
        return s.local_url(s.resolved_port())

    def mesh_environment(self) -> dict[str, str]:
        """Environment for the mesh: citizen sign-in at this provider and the development
        staff sign-in. Empty in production or when the mock is not installed."""
        if not self.available():
            return {}
        from motcua_identity.config import Settings

        bridge = Settings()
        citizen = {
            "discovery_url": f"{self.url()}/.well-known/openid-configuration",
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "redirect_uri": f"{bridge.local_url(bridge.resolved_port())}/v1/auth/callback",
            "scopes": ["openid", "profile", "email"], "acr_values": ["LoA1", "LoA2"],
        }
        return {"MOTCUA_IDENTITY_BRIDGE_CITIZEN_OIDC": json.dumps(citizen),
                "MOTCUA_IDENTITY_BRIDGE_DEV_LOGIN_ENABLED": "true"}


PROVIDER = VneidSimulator("vneid-simulator", VneidSimulatorSettings, create_app)
