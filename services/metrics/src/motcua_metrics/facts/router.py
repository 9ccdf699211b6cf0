"""HTTP entry points for operational figures and national sync records."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel

from motcua.errors import problems
from motcua.service import SessionDep
from motcua_metrics.facts import service
from motcua_metrics.facts.models import NationalSync
from motcua_metrics.index.errors import IndexQueryInvalid, NationalRecordNotFound
from motcua_metrics.index.router import PeriodQuery, UnitQuery, resolve
from motcua_metrics.operations.service import operations
from motcua_metrics.state import StateDep

router = APIRouter(prefix="/v1/stats", tags=["stats"])
national_router = APIRouter(prefix="/v1/national", tags=["national"])


class DossierCounts(BaseModel):
    """Counts of dossiers as projected from events."""

    submitted: int
    cases_opened: int
    by_status: dict[str, int]


@router.get("/dossiers", operation_id="dossierCounts")
async def dossier_counts(
    session: SessionDep,
    agency: str | None = Query(None, pattern=r"^[0-9A-Z.]{1,35}$"),
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> DossierCounts:
    """Dossiers submitted and cases opened, optionally for one agency and a time range."""
    counts = await service.dossier_counts(session, agency_code=agency, since=since, until=until)
    return DossierCounts.model_validate(counts)


@router.get("/operations", operation_id="operations", responses=problems(IndexQueryInvalid))
async def get_operations(session: SessionDep, state: StateDep, unit: str | None = UnitQuery,
                         period: str | None = PeriodQuery) -> dict[str, Any]:
    """On-time rate, processing time per procedure, productivity per official. Public."""
    u, p = resolve(state, unit, period)
    return await operations(session, state.config, state.calendar, state.units, u, p,
                            state.today())


@national_router.get("/records/{dossier_code}", operation_id="nationalRecord",
                     responses=problems(NationalRecordNotFound))
async def national_record(dossier_code: str, session: SessionDep) -> dict[str, Any]:
    """The last national sync record sent for a dossier, with its revision."""
    sent = await session.get(NationalSync, dossier_code)
    if sent is None:
        raise NationalRecordNotFound(f"no national record sent for {dossier_code}")
    return {"record_id": sent.record_id, "revision": sent.revision,
            "content_sha256": sent.content_sha256, "sent_at": sent.sent_at.isoformat(),
            "record": sent.record}
