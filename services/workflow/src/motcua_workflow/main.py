"""The workflow service app."""

from __future__ import annotations

from fastapi import FastAPI
from motcua.config import ServiceSettings
from motcua.outbox import FaultHook
from motcua.service import create_service_app

from motcua_workflow.cases.router import router as cases_router
from motcua_workflow.config import Settings
from motcua_workflow.consumers import handlers


def create_app(settings: ServiceSettings | None = None, *,
               fault_hook: FaultHook | None = None) -> FastAPI:
    """Build the workflow app."""
    settings = settings or Settings()
    return create_service_app(
        settings, title="Motcua workflow",
        description="Cases after reception: deadlines, process steps, transfers, results.",
        routers=[cases_router], handlers=handlers(settings.province), fault_hook=fault_hook)
