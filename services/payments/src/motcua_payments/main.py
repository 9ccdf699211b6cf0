"""The payments service app (fees, gateway, receipts: grows with the payments issue)."""

from __future__ import annotations

from fastapi import FastAPI
from motcua.config import ServiceSettings
from motcua.service import create_service_app

from motcua_payments.config import Settings


def create_app(settings: ServiceSettings | None = None, **_: object) -> FastAPI:
    """Build the payments app."""
    return create_service_app(
        settings or Settings(), title="Motcua payments",
        description="Fee assessment, national payment platform gateway, receipts, "
                    "reconciliation, refunds.", routers=[])
