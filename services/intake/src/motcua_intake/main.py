"""The intake service app."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from motcua.calendar import Calendar, load_overrides
from motcua.config import ServiceSettings
from motcua.http import BodyLimitMiddleware
from motcua.outbox import FaultHook
from motcua.service import create_service_app
from motcua_intake.attachments.router import router as attachments_router
from motcua_intake.attachments.service import orphan_sweeper
from motcua_intake.attachments.storage import LocalStorage, Storage
from motcua_intake.catalog.router import router as catalog_router
from motcua_intake.config import Settings
from motcua_intake.consumers import batch_handlers, handlers
from motcua_intake.dossiers.router import router as dossiers_router
from motcua_intake.dossiers.service import Desk
from motcua_intake.tracking.ratelimit import FailureLock, TokenBuckets
from motcua_intake.tracking.router import router as tracking_router

#: Routes whose bodies are files or whole catalogs, limited by attachment_max_bytes.
LARGE_BODY_PREFIXES = ("/v1/attachments", "/v1/procedures/import")
_MULTIPART_OVERHEAD = 64 * 1024


class _LargeBodyLimit:
    """The kit's body limit, with a larger one on the upload and import routes."""

    def __init__(self, app: ASGIApp, max_bytes: int, large_max_bytes: int) -> None:
        self.small = BodyLimitMiddleware(app, max_bytes)
        self.large = BodyLimitMiddleware(app, large_max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        large = scope["type"] == "http" and scope["path"].startswith(LARGE_BODY_PREFIXES)
        await (self.large if large else self.small)(scope, receive, send)


def create_app(settings: ServiceSettings | None = None, *,
               fault_hook: FaultHook | None = None, storage: Storage | None = None) -> FastAPI:
    """Build the intake app."""
    settings = settings or Settings()
    if not isinstance(settings, Settings):
        settings = Settings(**settings.model_dump())
    storage = storage or LocalStorage(settings.resolved_attachment_dir())
    app = create_service_app(
        settings, title="Motcua intake",
        description="Procedure catalog, dossiers from submission to reception (tiếp nhận hồ "
                    "sơ), attachments, receipts, public tracking.",
        routers=[catalog_router, dossiers_router, attachments_router, tracking_router],
        handlers=handlers(), batch_handlers=batch_handlers(), fault_hook=fault_hook,
        background=[orphan_sweeper(storage,
                                   timedelta(hours=settings.attachment_orphan_hours))])
    # The kit applies one body limit to every route; uploads and catalog imports need a
    # larger one (kit change suggested: create_service_app(body_limits={prefix: bytes})).
    app.user_middleware = [
        Middleware(_LargeBodyLimit, max_bytes=settings.max_body_bytes,
                   large_max_bytes=settings.attachment_max_bytes + _MULTIPART_OVERHEAD)
        if m.cls is BodyLimitMiddleware else m
        for m in app.user_middleware]
    overrides = load_overrides(settings.calendar_overrides) if settings.calendar_overrides \
        else ()
    app.state.desk = Desk(province=settings.province, calendar=Calendar(overrides=overrides),
                          code_format=settings.code_format,
                          system_owner_code=settings.system_owner_code,
                          owner_ref_key=settings.resolved_owner_ref_key())
    app.state.storage = storage
    app.state.tracking_limits = {
        "ip": TokenBuckets(settings.tracking_burst, settings.tracking_per_minute),
        "code": FailureLock(settings.tracking_max_failures, settings.tracking_lock_minutes),
    }
    return app
