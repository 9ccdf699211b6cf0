"""Events identity-bridge consumes: workflow's finished cases (``identity-workflow``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from motcua.contracts.workflow import CaseCompletedV1
from motcua.events import Envelope
from motcua_identity.config import Settings
from motcua_identity.documents import results


def handlers(settings: Settings) -> dict[str, dict[str, Callable[..., Any]]]:
    """The handlers this service runs (the runner makes each idempotent via the inbox)."""

    async def on_case_completed(event: Envelope, data: CaseCompletedV1,
                                session: AsyncSession) -> None:
        """File the electronic result(s) in the applicant's data store."""
        await results.file_results(session, settings.province, event, data)

    return {"identity-workflow": {CaseCompletedV1.event_type(): on_case_completed}}
