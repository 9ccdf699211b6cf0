"""The payments service app: fees, gateway, receipts, reconciliation, refunds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from motcua.config import ServiceSettings
from motcua.guard import CallGuard
from motcua.outbox import FaultHook as RelayFaultHook
from motcua.service import create_service_app
from motcua_payments.config import Settings
from motcua_payments.consumers import handlers
from motcua_payments.context import FaultHook, PaymentsContext
from motcua_payments.fees.router import router as fees_router
from motcua_payments.gateway import guarded
from motcua_payments.gateway.adapter import Gateway
from motcua_payments.gateway.guarded import GuardedGateway
from motcua_payments.gateway.national import NationalPlatformGateway
from motcua_payments.ledger.router import router as ledger_router
from motcua_payments.payments.router import router as payments_router
from motcua_payments.receipts.router import router as receipts_router
from motcua_payments.reconciliation.jobs import reconciliation_loop
from motcua_payments.reconciliation.router import router as reconciliation_router
from motcua_payments.refunds.router import router as refunds_router


def create_app(settings: ServiceSettings | None = None, *, gateway: Gateway | None = None,
               fault: FaultHook | None = None, fault_hook: RelayFaultHook | None = None,
               reconcile: bool = True) -> FastAPI:
    """Build the payments app.

    ``gateway`` plugs in another intermediary (default: the national platform over HTTP);
    whichever it is, its commands pass a :class:`~motcua.guard.CallGuard`
    (``gateway/guarded.py``);
    ``fault`` and ``fault_hook`` are test seams (payments' own points and the relay's);
    ``reconcile=False`` leaves the reconciliation loop off (tests drive it by endpoint).
    """
    if not isinstance(settings, Settings):
        settings = Settings(**(settings.model_dump() if settings else {}))
    guard = CallGuard("payment_gateway", max_calls=settings.gateway_max_calls,
                      failures_to_pause=settings.gateway_failures_to_pause,
                      pause_s=settings.gateway_pause_s, judge=guarded.judge)
    gw = GuardedGateway(gateway or NationalPlatformGateway(
        settings.gateway_url, settings.gateway_partner_code, settings.gateway_secret,
        timeout_s=settings.gateway_timeout_s), guard)
    ctx = PaymentsContext(settings, gw, fault)
    app = create_service_app(
        settings, title="Motcua payments",
        description="Fee assessment, national payment platform gateway, receipts, "
                    "reconciliation, refunds.",
        routers=[fees_router, payments_router, receipts_router, refunds_router,
                 reconciliation_router, ledger_router],
        handlers=handlers(ctx), fault_hook=fault_hook,
        background=[reconciliation_loop(ctx)] if reconcile else [])
    app.state.payments = ctx
    app.state.http_registry.register(guard.collector(settings.service))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a):
            try:
                yield
            finally:
                await gw.aclose()

    app.router.lifespan_context = lifespan
    return app
