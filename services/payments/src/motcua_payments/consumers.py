"""Payments' event handlers, by durable consumer and event type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from motcua.contracts.intake import DossierReceivedV1, DossierRefusedV1, DossierWithdrawnV1
from motcua.events import Envelope
from motcua_payments.context import PaymentsContext
from motcua_payments.fees import service as fees
from motcua_payments.payments import service as payments


def handlers(ctx: PaymentsContext) -> dict[str, dict[str, Callable[..., Any]]]:
    """The handlers this service runs (the runner makes each idempotent via the inbox)."""

    async def on_dossier_received(event: Envelope, data: DossierReceivedV1,
                                  session: AsyncSession) -> None:
        """Assess the fees of a received dossier."""
        await fees.assess_received(session, ctx, data)

    async def on_dossier_withdrawn(event: Envelope, data: DossierWithdrawnV1,
                                   session: AsyncSession) -> None:
        """Nothing is due any more; what was paid is owed back."""
        await payments.release_for_dossier(session, ctx, data.dossier_code, "withdrawn")

    async def on_dossier_refused(event: Envelope, data: DossierRefusedV1,
                                 session: AsyncSession) -> None:
        """Same as a withdrawal: refused dossiers owe nothing."""
        await payments.release_for_dossier(session, ctx, data.dossier_code, "refused")

    return {"payments-intake": {
        DossierReceivedV1.event_type(): on_dossier_received,
        DossierWithdrawnV1.event_type(): on_dossier_withdrawn,
        DossierRefusedV1.event_type(): on_dossier_refused,
    }}
