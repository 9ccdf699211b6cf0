"""HTTP entry points for operational figures."""

from __future__ import annotations

from fastapi import APIRouter, Query
from motcua.service import SessionDep
from pydantic import AwareDatetime, BaseModel

from motcua_metrics.facts import service

router = APIRouter(prefix="/v1/stats", tags=["stats"])


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


