"""The intake service app."""

from __future__ import annotations

from fastapi import FastAPI
from motcua.config import ServiceSettings
from motcua.outbox import FaultHook
from motcua.service import create_service_app

from motcua_intake.config import Settings
from motcua_intake.dossiers.router import router as dossiers_router


def create_app(settings: ServiceSettings | None = None, *,
               fault_hook: FaultHook | None = None) -> FastAPI:
    """Build the intake app."""
    return create_service_app(
        settings or Settings(), title="Motcua intake",
        description="Procedure catalog and dossiers from submission to reception "
                    "(tiếp nhận hồ sơ).",
        routers=[dossiers_router], fault_hook=fault_hook)
