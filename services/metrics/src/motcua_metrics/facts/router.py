"""HTTP entry points for operational figures and national sync records.

Statistics are aggregates and public; a national record is one dossier's data, for
readers of its agency (:mod:`motcua_metrics.access`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel

from motcua.auth import PUBLIC
from motcua.errors import problems
from motcua.pagination import ISO_8601
from motcua.service import SessionDep
from motcua_metrics import access
from motcua_metrics.facts import service
from motcua_metrics.facts.models import DossierFact, NationalSync
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


@router.get("/dossiers", operation_id="dossierCounts", dependencies=[PUBLIC])
async def dossier_counts(
    session: SessionDep,
    agency: str | None = Query(None, pattern=r"^[0-9A-Z.]{1,35}$"),
    since: Annotated[AwareDatetime | None, ISO_8601] = None,
    until: Annotated[AwareDatetime | None, ISO_8601] = None,
) -> DossierCounts:
    """Dossiers submitted and cases opened, optionally for one agency and a time range.
    Public (counts only)."""
    counts = await service.dossier_counts(session, agency_code=agency, since=since, until=until)
    return DossierCounts.model_validate(counts)


@router.get("/operations", operation_id="operations", responses=problems(IndexQueryInvalid),
            dependencies=[PUBLIC])
async def get_operations(session: SessionDep, state: StateDep, unit: str | None = UnitQuery,
                         period: str | None = PeriodQuery) -> dict[str, Any]:
    """On-time rate, processing time per procedure, productivity per official. Public."""
    u, p = resolve(state, unit, period)
    return await operations(session, state.config, state.calendar, state.units, u, p,
                            state.today())


@national_router.get("/records/{dossier_code}", operation_id="nationalRecord",
                     responses=problems(NationalRecordNotFound, *access.AUTH_PROBLEMS))
async def national_record(dossier_code: str, session: SessionDep,
                          who: access.Reader) -> dict[str, Any]:
    """The last national sync record sent for a dossier, with its revision.

    Officers with auditor, agency_admin or approver of the dossier's agency; services
    with ``metrics.read``. An officer gets 403 for another agency's code whether or not
    a record exists.
    """
    fact = await session.get(DossierFact, dossier_code)
    access.ensure_dossier(who, fact.agency_code if fact is not None and fact.agency_code
                          else dossier_code.split("-", 1)[0])
    sent = await session.get(NationalSync, dossier_code)
    if sent is None:
        raise NationalRecordNotFound(f"no national record sent for {dossier_code}")
    return {"record_id": sent.record_id, "revision": sent.revision,
            "content_sha256": sent.content_sha256, "sent_at": sent.sent_at.isoformat(),
            "record": sent.record}
