"""Intake's event handlers: workflow's case events keep public tracking up to date.

Intake mirrors what workflow reports after reception: the national status (4, 5, 6, 8,
9, 10), the appointment as the deadline ledger moves it, what is awaited from the
applicant (the items of a supplement request, payment at 6, collecting the result at 9)
and extensions with their reason. Statuses intake decides itself (1, 2, 3, 7) are never
taken from workflow; the event ``sequence`` (the case's version) drops stale ones.
Other case events (transfers, tasks, alerts) are internal: the durable's filter
(``motcua.streams``) leaves them out, and the service refuses to start with a handler
its filter would never deliver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from motcua.calendar import TIMEZONE
from motcua.consumer import BatchHandler, causation
from motcua.contracts.workflow import (
    CaseExtendedV1,
    CaseStatusChangedV1,
    CaseSupplementRequestedV1,
)
from motcua.events import Envelope
from motcua_intake.dossiers import service as dossiers
from motcua_intake.dossiers.models import Dossier

#: The dossiers a batch locked up front, by code (None: the handler locks its own).
Locked = Mapping[str, Dossier] | None


async def on_status_changed(event: Envelope, data: CaseStatusChangedV1,
                            session: AsyncSession, locked: Locked = None) -> None:
    """Mirror the case's status and appointment (the runner makes this idempotent)."""
    await dossiers.apply_case_event(session, data.dossier_code, event.sequence or 0,
                                    data.occurred_at, kind="case_status", status=data.status,
                                    due_at=data.due_at, locked=locked)


async def on_supplement_requested(event: Envelope, data: CaseSupplementRequestedV1,
                                  session: AsyncSession, locked: Locked = None) -> None:
    """Show the applicant what the supplement request asks for."""
    await dossiers.apply_case_event(
        session, data.dossier_code, event.sequence or 0, data.occurred_at,
        kind="supplement_requested", status=5,
        awaited=dossiers.supplement_awaited(data.request_id, data.items),
        note_vi="Yêu cầu bổ sung: " + "; ".join(data.items),
        note_en="Supplement requested: " + "; ".join(data.items), locked=locked)


async def on_extended(event: Envelope, data: CaseExtendedV1, session: AsyncSession,
                      locked: Locked = None) -> None:
    """Show the new appointment and why (phiếu xin lỗi và hẹn lại ngày trả kết quả)."""
    when = f"{data.new_due_at.astimezone(TIMEZONE):%H:%M %d/%m/%Y}"
    await dossiers.apply_case_event(
        session, data.dossier_code, event.sequence or 0, data.occurred_at, kind="extended",
        due_at=data.new_due_at, note_vi=f"Hẹn lại ngày trả kết quả: {when}. {data.reason}",
        note_en=f"New appointment: {when}. {data.reason}", locked=locked)


def handlers() -> dict[str, dict[str, Callable[..., Any]]]:
    """The handlers this service runs, by durable consumer and event type."""
    return {"intake-workflow": {
        CaseStatusChangedV1.event_type(): on_status_changed,
        CaseSupplementRequestedV1.event_type(): on_supplement_requested,
        CaseExtendedV1.event_type(): on_extended,
    }}


def batch_handlers() -> dict[str, BatchHandler]:
    """Per durable, the handler of a whole batch (in its one transaction): the dossiers
    its events name are locked and read with one statement, then each event is applied
    in delivery order, and their changes are written by one flush at the commit instead
    of a locked read and a flush per event."""
    by_type = handlers()["intake-workflow"]

    async def case_events(items: list[tuple[Envelope, Any]], session: AsyncSession) -> None:
        locked = await dossiers.lock_for_case_events(
            session, (data.dossier_code for _, data in items))
        for envelope, data in items:
            with causation(envelope):
                await by_type[envelope.type](envelope, data, session, locked)

    return {"intake-workflow": case_events}
