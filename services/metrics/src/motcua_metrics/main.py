"""The metrics app."""

from __future__ import annotations

from fastapi import FastAPI

from motcua.config import ServiceSettings
from motcua.outbox import FaultHook
from motcua.service import create_service_app
from motcua_metrics.config import Settings
from motcua_metrics.consumers import batch_handlers, handlers
from motcua_metrics.dashboard.router import router as dashboard_router
from motcua_metrics.facts.router import national_router
from motcua_metrics.facts.router import router as stats_router
from motcua_metrics.index.aggregates import maintenance_loop
from motcua_metrics.index.router import router as index_router
from motcua_metrics.pipeline import PipelineFigures, pipeline_loop
from motcua_metrics.state import build_state


def create_app(settings: ServiceSettings | None = None, *,
               fault_hook: FaultHook | None = None) -> FastAPI:
    """Build the metrics app."""
    settings = settings if isinstance(settings, Settings) else Settings(
        **(settings.model_dump() if settings is not None else {}))
    state = build_state(settings)
    figures = PipelineFigures(state.projection.stats)
    app = create_service_app(
        settings, title="Motcua metrics",
        description="Projections of every event; the Decision 766 index per unit and period, "
                    "drill-down, operational figures; national sync records and EMC tracking; "
                    "dashboard.",
        routers=[stats_router, index_router, national_router, dashboard_router],
        handlers=handlers(state.projection),
        batch_handlers=batch_handlers(state.projection),
        background=[pipeline_loop(figures),
                    maintenance_loop(state.config, settings.aggregate_compact_s)],
        fault_hook=fault_hook)
    app.state.metrics = state
    return app
