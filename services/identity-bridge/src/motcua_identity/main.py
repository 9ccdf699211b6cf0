"""The identity-bridge service app: sign-in, accounts, mesh tokens and keys, population
lookups, the citizen data store (with workflow's results filed from ``case.completed``),
ID-number validation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from fastapi import FastAPI

from motcua.auth import TokenVerifier, use_verifier
from motcua.config import ServiceSettings
from motcua.guard import CallGuard
from motcua.logging import get_logger
from motcua.outbox import FaultHook
from motcua.service import Runtime, create_service_app
from motcua_identity.accounts.router import router as accounts_router
from motcua_identity.config import Settings
from motcua_identity.consumers import handlers
from motcua_identity.context import Identity
from motcua_identity.documents.router import router as documents_router
from motcua_identity.documents.service import backfill_owner_refs
from motcua_identity.idnumbers.router import router as idnumbers_router
from motcua_identity.keys.router import router as keys_router
from motcua_identity.keys.service import DatabaseKeys, KeyRing
from motcua_identity.login.oidc import OidcClient
from motcua_identity.login.oidc import judge as oidc_judge
from motcua_identity.login.router import router as login_router
from motcua_identity.population.registry import (
    GuardedPopulationRegistry,
    HttpPopulationRegistry,
    LocalPopulationRegistry,
    PopulationRegistry,
    judge,
)
from motcua_identity.population.router import router as population_router
from motcua_identity.tokens.router import router as tokens_router

log = get_logger("motcua_identity")
KEY_CHECK_INTERVAL_S = 3600.0
BACKFILL_RETRY_S = 60.0


def _population(settings: Settings,
                transport: httpx.AsyncBaseTransport | None) -> PopulationRegistry:
    if settings.population_backend == "http":
        key = settings.population_api_key.get_secret_value() \
            if settings.population_api_key else None
        guard = CallGuard("population_database", max_calls=settings.population_max_calls,
                          failures_to_pause=settings.population_failures_to_pause,
                          pause_s=settings.population_pause_s, judge=judge)
        return GuardedPopulationRegistry(HttpPopulationRegistry(
            settings.population_url, client_id=settings.population_client_id, api_key=key,
            timeout_s=settings.population_timeout_s, transport=transport), guard)
    return LocalPopulationRegistry(settings.population_registry_file)


def create_app(settings: ServiceSettings | None = None, *,
               fault_hook: FaultHook | None = None,
               oidc_transport: httpx.AsyncBaseTransport | None = None,
               population_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """Build the identity-bridge app (transports are test seams for outside systems)."""
    settings = settings if isinstance(settings, Settings) else \
        Settings(**(settings.model_dump() if settings else {}))
    secret = settings.key_encryption_secret
    ring = KeyRing(secret.get_secret_value() if secret else None)
    ctx = Identity(settings=settings, keys=ring,
                   population=_population(settings, population_transport))
    for audience, provider in (("citizen", settings.citizen_oidc),
                               ("staff", settings.staff_oidc)):
        if provider is not None:
            ctx.providers[audience] = OidcClient(
                provider, transport=oidc_transport, timeout_s=settings.oidc_timeout_s,
                guard=CallGuard(f"oidc_{audience}", max_calls=settings.oidc_max_calls,
                                failures_to_pause=settings.oidc_failures_to_pause,
                                pause_s=settings.oidc_pause_s, judge=oidc_judge))

    async def maintain_keys(rt: Runtime) -> None:
        """Create the first key, then rotate by age (safe with several replicas)."""
        max_age = timedelta(days=settings.key_rotation_days)
        while True:
            try:
                async with rt.sessions() as session, session.begin():
                    await ring.rotate_if_due(session, max_age)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("key_maintenance_failed", error_type=type(exc).__name__)
            await asyncio.sleep(KEY_CHECK_INTERVAL_S)

    async def backfill_documents(rt: Runtime) -> None:
        """Give documents stored before owner references theirs (in batches, then stop)."""
        key = settings.resolved_owner_ref_key()
        while True:
            try:
                async with rt.sessions() as session, session.begin():
                    done = await backfill_owner_refs(session, key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("owner_ref_backfill_failed", error_type=type(exc).__name__)
                await asyncio.sleep(BACKFILL_RETRY_S)
                continue
            if done == 0:
                return
            log.info("owner_refs_backfilled", documents=done)

    app = create_service_app(
        settings, title="Motcua identity-bridge",
        description="VNeID-style sign-in, accounts and staff, mesh tokens and their keys, "
                    "population lookups, the citizen data store, ID-number validation.",
        routers=[keys_router, tokens_router, login_router, accounts_router,
                 population_router, documents_router, idnumbers_router],
        handlers=handlers(settings), background=[maintain_keys, backfill_documents],
        fault_hook=fault_hook)
    app.state.identity = ctx
    if isinstance(ctx.population, GuardedPopulationRegistry):
        app.state.http_registry.register(ctx.population.guard.collector(settings.service))
    for client in ctx.providers.values():
        if client.guard is not None:
            app.state.http_registry.register(client.guard.collector(settings.service))
    # This service verifies tokens against its own database, not over HTTP.
    use_verifier(app, TokenVerifier(DatabaseKeys(lambda: app.state.runtime.sessions, ring),
                                    issuer=settings.resolved_auth_issuer(),
                                    audience=settings.resolved_auth_audience(),
                                    leeway_s=settings.auth_leeway_s))
    return app
