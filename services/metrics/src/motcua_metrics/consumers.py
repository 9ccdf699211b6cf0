"""Metrics' event handlers, by durable consumer and event type.

Every dossier event goes through the same :func:`facts.service.apply` (a batch's run of
them through :func:`facts.service.apply_many`); the fold decides what each type means.
Adding a type is one line in :data:`PROJECTED`. Catalog publications (:data:`CATALOG`)
go to :func:`catalog.service.apply`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from motcua.consumer import BatchHandler, causation
from motcua.contracts import identity, intake, payments, workflow
from motcua.events import Envelope, EventData
from motcua_metrics.catalog import service as catalog
from motcua_metrics.facts import service as facts

#: Durable consumer → the event types it projects into dossier facts.
PROJECTED: dict[str, tuple[type[EventData], ...]] = {
    "metrics-intake": (
        intake.DossierSubmittedV1,
        intake.DossierReceivedV1,
        intake.DossierRefusedV1,
        intake.DossierSupplementedV1,
        intake.DossierWithdrawnV1,
        intake.DossierRatedV1,
    ),
    "metrics-workflow": (
        workflow.CaseStartedV1,
        workflow.CaseStatusChangedV1,
        workflow.CaseSupplementRequestedV1,
        workflow.CaseExtendedV1,
        workflow.CaseCompletedV1,
        workflow.CaseResultReturnedV1,
        workflow.CaseTransferredV1,
        workflow.CaseHandedOverV1,
    ),
    "metrics-payments": (
        payments.FeeAssessedV1,
        payments.AssessmentSettledV1,
        payments.AssessmentReleasedV1,
        payments.PaymentSettledV1,
    ),
    "metrics-identity": (
        identity.DocumentStoredV1,
        identity.DocumentReusedV1,
        identity.PopulationLookedUpV1,
    ),
}


#: Durable consumer → the catalog event types it projects into the procedure catalog.
CATALOG: dict[str, tuple[type[EventData], ...]] = {
    "metrics-intake": (intake.ProcedurePublishedV1,),
}

Apply = Callable[..., Any]


def appliers() -> dict[str, tuple[str, Apply]]:
    """Event type → (durable consumer, projection function), for live and rebuild alike."""
    out: dict[str, tuple[str, Apply]] = {}
    for table, apply in ((PROJECTED, facts.apply), (CATALOG, catalog.apply)):
        for durable, types in table.items():
            for cls in types:
                out[cls.event_type()] = (durable, apply)
    return out


def handlers(ctx: facts.ProjectionContext) -> dict[str, dict[str, Callable[..., Any]]]:
    """The handlers this service runs, all bound to one projection context."""
    out: dict[str, dict[str, Callable[..., Any]]] = {}
    for event_type, (durable, apply) in appliers().items():
        out.setdefault(durable, {})[event_type] = _bind(apply, ctx)
    return out


def _bind(apply: Apply, ctx: facts.ProjectionContext) -> Callable[..., Any]:
    async def project(event: Envelope, data: Any, session: AsyncSession) -> None:
        """Project the event (safe to redeliver)."""
        await apply(session, event, data, ctx)

    return project


def batch_handlers(ctx: facts.ProjectionContext) -> dict[str, BatchHandler]:
    """Per durable, the handler of a whole batch: its catalog events one by one, then all
    its dossier events together (:func:`facts.service.apply_many`). The two write apart
    tables, so this is the outcome of the per-event handlers in delivery order."""
    projected = {cls.event_type() for types in PROJECTED.values() for cls in types}
    catalog_types = {cls.event_type() for types in CATALOG.values() for cls in types}

    async def project(items: list[tuple[Envelope, Any]], session: AsyncSession) -> None:
        for envelope, data in items:
            if envelope.type in catalog_types:
                with causation(envelope):
                    await catalog.apply(session, envelope, data, ctx)
            elif envelope.type not in projected:  # claimed, so it must not pass unapplied
                raise LookupError(f"no projection of {envelope.type}")
        await facts.apply_many(session, [(e, d) for e, d in items if e.type in projected], ctx)

    return {durable: project for durable in {*PROJECTED, *CATALOG}}


def projected_types() -> dict[str, str]:
    """Event type → durable consumer, for the rebuild."""
    return {event_type: durable for event_type, (durable, _) in appliers().items()}
