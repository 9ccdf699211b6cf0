"""Metrics' event handlers, by durable consumer and event type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from motcua.contracts.intake import DossierSubmittedV1
from motcua.contracts.workflow import CaseStartedV1, CaseStatusChangedV1
from motcua.events import Envelope
from sqlalchemy.ext.asyncio import AsyncSession

from motcua_metrics.facts import service as facts


def _adapt(fn: Callable[..., Any]) -> Callable[..., Any]:
    async def handler(event: Envelope, data: Any, session: AsyncSession) -> None:
        await fn(session, event, data)

    handler.__doc__ = fn.__doc__
    return handler


def handlers() -> dict[str, dict[str, Callable[..., Any]]]:
    """The handlers this service runs."""
    return {
        "metrics-intake": {DossierSubmittedV1.event_type(): _adapt(facts.on_submitted)},
        "metrics-workflow": {
            CaseStartedV1.event_type(): _adapt(facts.on_case_started),
            CaseStatusChangedV1.event_type(): _adapt(facts.on_status_changed),
        },
    }
