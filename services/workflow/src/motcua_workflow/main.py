"""The workflow service app."""

from __future__ import annotations

from fastapi import FastAPI

from motcua.config import ServiceSettings
from motcua.outbox import FaultHook
from motcua.service import create_service_app
from motcua_workflow.calendar.router import router as calendar_router
from motcua_workflow.cases.router import router as cases_router
from motcua_workflow.clock import Clock
from motcua_workflow.config import Settings
from motcua_workflow.consumers import batch_handlers, handlers
from motcua_workflow.context import Workflow
from motcua_workflow.definitions.router import router as definitions_router
from motcua_workflow.tasks.router import router as tasks_router
from motcua_workflow.timers.loop import timer_loop


def create_app(settings: ServiceSettings | None = None, *, fault_hook: FaultHook | None = None,
               clock: Clock | None = None) -> FastAPI:
    """Build the workflow app (``clock`` lets tests move time for the durable timers)."""
    if settings is None:
        settings = Settings()
    elif not isinstance(settings, Settings):
        settings = Settings(**settings.model_dump())
    wf = Workflow.build(settings, clock)
    app = create_service_app(
        settings, title="Motcua workflow",
        description="Cases after reception: the legal working calendar and deadline ledger, "
                    "process definitions, tasks, inter-agency transfers, supplements, "
                    "apology and extension, results, and the hash-chained process log.",
        routers=[cases_router, tasks_router, definitions_router, calendar_router],
        handlers=handlers(wf), batch_handlers=batch_handlers(wf), background=[timer_loop(wf)],
        fault_hook=fault_hook)
    app.state.workflow = wf
    return app
