"""The timer loop: a background task of the workflow app, run by every replica.

Kit hook wanted: ``create_service_app(background=[...])`` already runs such loops with
the runtime; this module is the loop and nothing in it is workflow-specific except the
function it calls, so it can move to the kit as a generic "periodic claim" helper.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from motcua.logging import get_logger
from motcua.service import Runtime
from motcua_workflow.context import Workflow
from motcua_workflow.timers import service

log = get_logger("motcua_workflow.timers")


def timer_loop(wf: Workflow) -> Callable[[Runtime], Awaitable[None]]:
    """The loop for ``create_service_app(background=...)``."""

    async def durable_timers(rt: Runtime) -> None:
        """Check due cases forever; a failure backs off and retries."""
        poll, batch = wf.settings.timer_poll_s, wf.settings.timer_batch
        backoff = poll
        while True:
            try:
                async with rt.sessions() as session, session.begin():
                    checked = await service.run_due(session, wf, now=wf.clock.now(),
                                                    limit=batch)
                backoff = poll
                if checked == batch:
                    continue  # more may be waiting
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("timers_failed", error=str(exc)[:300],
                            error_type=type(exc).__name__, retry_in=backoff)
                backoff = min(backoff * 2, 60.0)
                await asyncio.sleep(backoff)
                continue
            await asyncio.sleep(poll)

    return durable_timers
