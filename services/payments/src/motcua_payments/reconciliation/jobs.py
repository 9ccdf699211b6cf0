"""The reconciliation loop every replica runs (claims make it safe to run N times)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from motcua.db import utcnow
from motcua.logging import get_logger
from motcua.service import Runtime
from motcua_payments.context import PaymentsContext
from motcua_payments.errors import ReconciliationInProgress
from motcua_payments.reconciliation import service


def log() -> Any:
    """This module's logger, looked up at use: the kit's loggers cache the output stream
    configured when first used, which may be gone after a reconfiguration (tests)."""
    return get_logger("motcua_payments.reconciliation")


def reconciliation_loop(ctx: PaymentsContext) -> Callable[[Runtime], Awaitable[None]]:
    """A background loop: early QUERYs every poll, and yesterday's statement once a day."""

    async def reconciliation(rt: Runtime) -> None:
        while True:
            try:
                counts = await service.early_pass(rt.sessions, ctx)
                if counts["checked"]:
                    log().info("early_reconciliation", **counts)
                day = service.due_statement_day(ctx, utcnow()) \
                    if ctx.settings.daily_reconcile_enabled else None
                if day is not None:
                    await service.run_statement(rt.sessions, ctx, day)
            except asyncio.CancelledError:
                raise
            except ReconciliationInProgress:
                pass  # another replica holds today's run
            except Exception as exc:
                log().warning("reconciliation_loop_error", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(ctx.settings.reconcile_poll_s)

    return reconciliation
