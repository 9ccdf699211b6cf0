"""Workflow's event handlers, by durable consumer and event type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from motcua.consumer import BatchHandler, causation
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


def batch_handlers(wf: Workflow) -> dict[str, BatchHandler]:
    """Per durable, the handler of a whole batch (in its one transaction).

    ``workflow-intake``: submissions of dossiers no earlier event of the batch concerned
    are gathered into a run and opened together (:func:`cases.open_submitted`: one read,
    one write); any other event goes to its own handler, after the run before it is
    written. So the rows and events are those of the per-event handlers in delivery
    order, and the runner's fallback to one event at a time changes nothing.
    """
    per_event = handlers(wf)["workflow-intake"]
    submitted = DossierSubmittedV1.event_type()

    async def intake_events(items: list[tuple[Envelope, Any]], session: AsyncSession) -> None:
        run: list[tuple[Envelope, Any]] = []
        seen: set[str] = set()
        for envelope, data in items:
            if envelope.type == submitted and data.dossier_code not in seen:
                run.append((envelope, data))
            else:
                if run:
                    await cases.open_submitted(session, wf, run)
                    run = []
                with causation(envelope):
                    await per_event[envelope.type](envelope, data, session)
            seen.add(data.dossier_code)
        if run:
            await cases.open_submitted(session, wf, run)

    return {"workflow-intake": intake_events}
