"""Metrics' event handlers, by durable consumer and event type.

Every projected event goes through the same :func:`facts.service.apply`; the fold
decides what each type means. Adding a type is one line in :data:`PROJECTED`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from motcua.contracts import identity, intake, payments, workflow
from motcua.events import Envelope, EventData
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


def handlers(ctx: facts.ProjectionContext) -> dict[str, dict[str, Callable[..., Any]]]:
    """The handlers this service runs, all bound to one projection context."""

    async def project(event: Envelope, data: Any, session: AsyncSession) -> None:
        """Project the event into its dossier's fact (safe to redeliver)."""
        await facts.apply(session, event, data, ctx)

    return {durable: {cls.event_type(): project for cls in types}
            for durable, types in PROJECTED.items()}


def projected_types() -> dict[str, str]:
    """Event type → durable consumer, for the rebuild."""
    return {cls.event_type(): durable for durable, types in PROJECTED.items() for cls in types}
