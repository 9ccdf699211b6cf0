"""Workflow's event handlers, by durable consumer and event type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from motcua.contracts.intake import DossierSubmittedV1
from motcua.events import Envelope
from sqlalchemy.ext.asyncio import AsyncSession

from motcua_workflow.cases import service as cases


def handlers(province: str) -> dict[str, dict[str, Callable[..., Any]]]:
    """The handlers this service runs."""

    async def on_dossier_submitted(event: Envelope, data: DossierSubmittedV1,
                                   session: AsyncSession) -> None:
        """Open a case for a submitted dossier (the runner makes it idempotent)."""
        await cases.open_for_submission(session, event, data, province=province)

    return {"workflow-intake": {DossierSubmittedV1.event_type(): on_dossier_submitted}}
