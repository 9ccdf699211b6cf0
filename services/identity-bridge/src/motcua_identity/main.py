"""The identity-bridge service app (OIDC, accounts, JWKS: grows with the identity issue)."""

from __future__ import annotations

from fastapi import FastAPI
from motcua.config import ServiceSettings
from motcua.service import create_service_app

from motcua_identity.config import Settings
from motcua_identity.idnumbers.router import router as idnumbers_router


def create_app(settings: ServiceSettings | None = None, **_: object) -> FastAPI:
    """Build the identity-bridge app."""
    return create_service_app(
        settings or Settings(), title="Motcua identity-bridge",
        description="VNeID-style login, ID-number validation, population lookups, mesh "
                    "tokens, citizen data store.", routers=[idnumbers_router])
