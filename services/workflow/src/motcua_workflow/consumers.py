"""Workflow's event handlers, by durable consumer and event type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from motcua.contracts.intake import (
    DossierReceivedV1,
    DossierRefusedV1,
    DossierSubmittedV1,
    DossierSupplementedV1,
    DossierWithdrawnV1,
)
from motcua.contracts.payments import AssessmentSettledV1, FeeAssessedV1
from motcua.events import Envelope
from motcua_workflow.cases import payments as fees
from motcua_workflow.cases import service as cases
from motcua_workflow.config import Settings
from motcua_workflow.context import Workflow

_Use = Callable[[AsyncSession, Workflow, Envelope, Any], Awaitable[Any]]


def handlers(wf: Workflow | str) -> dict[str, dict[str, Callable[..., Any]]]:
    """The handlers this service runs (the runner makes each idempotent via the inbox).

    A province code instead of ``wf`` builds the collaborators from the environment's
    settings (the signature the mesh tests used before workflow had any).
    """
    if isinstance(wf, str):
        wf = Workflow.build(Settings(province=wf))

    def adapt(use: _Use) -> Callable[[Envelope, Any, AsyncSession], Awaitable[None]]:
        async def handler(event: Envelope, data: Any, session: AsyncSession) -> None:
            await use(session, wf, event, data)

        handler.__doc__ = use.__doc__
        return handler

    return {"workflow-intake": {
        DossierSubmittedV1.event_type(): adapt(cases.open_for_submission),
        DossierReceivedV1.event_type(): adapt(cases.receive),
        DossierRefusedV1.event_type(): adapt(cases.refuse_reception),
        DossierWithdrawnV1.event_type(): adapt(cases.withdraw),
        DossierSupplementedV1.event_type(): adapt(cases.supplemented),
    }, "workflow-payments": {
        FeeAssessedV1.event_type(): adapt(fees.assessed),
        AssessmentSettledV1.event_type(): adapt(fees.settled),
    }}
