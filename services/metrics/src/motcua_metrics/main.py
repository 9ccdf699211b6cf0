"""The metrics service app."""

from __future__ import annotations

from fastapi import FastAPI
from motcua.config import ServiceSettings
from motcua.outbox import FaultHook
from motcua.service import create_service_app

from motcua_metrics.config import Settings
from motcua_metrics.consumers import handlers
from motcua_metrics.facts.router import router as stats_router


def create_app(settings: ServiceSettings | None = None, *,
               fault_hook: FaultHook | None = None) -> FastAPI:
    """Build the metrics app."""
    return create_service_app(
        settings or Settings(), title="Motcua metrics",
        description="Projections of every event; the Decision 766 index; national sync.",
        routers=[stats_router], handlers=handlers(), fault_hook=fault_hook)
