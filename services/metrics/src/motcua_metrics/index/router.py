"""HTTP entry points of the index: values, ranking, drill-down, exports, configuration.

The index, ranking, configuration and the CSV export are public (aggregates only). The
drill-down is for readers (:mod:`motcua_metrics.access`); the XLSX export adds its
drill-down sheet only for a reader, narrowed as the drill-down is.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response

from motcua.auth import PUBLIC, OptionalPrincipal
from motcua.errors import problems
from motcua.pagination import OffsetQuery
from motcua.service import SessionDep
from motcua_metrics import access
from motcua_metrics.index import drilldown, export, service
from motcua_metrics.index.errors import IndexItemNotFound, IndexQueryInvalid
from motcua_metrics.index.periods import Period, Unit, parse_period, parse_unit
from motcua_metrics.state import MetricsState, StateDep

router = APIRouter(prefix="/v1/index", tags=["index"])

UnitQuery = Query(None, max_length=50, description="province:H56, agency:<code> or "
                  "commune:<code> (default: the province)")
PeriodQuery = Query(None, max_length=30, description="YYYY-MM, YYYY-Qn, YYYY or "
                    "YYYY-MM-DD..YYYY-MM-DD (default: the current month)")
Lang = Literal["vi", "en"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_CSV = "text/csv; charset=utf-8"


def _files(*media_types: str, json: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entry of a 200 answered as one of ``media_types`` (or JSON)."""
    content: dict[str, Any] = {"application/json": {}} if json else {}
    content |= {m.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                for m in media_types}
    return {200: {"content": content, "description": "The document"}}


def resolve(state: MetricsState, unit: str | None, period: str | None) -> tuple[Unit, Period]:
    """Parse the unit and period parameters, or raise IndexQueryInvalid."""
    try:
        u = parse_unit(unit) if unit else Unit("province", state.settings.province)
    except ValueError as exc:
        raise IndexQueryInvalid.field("unit", "unit.invalid", str(exc)) from None
    try:
        today = state.today()
        p = parse_period(period or f"{today:%Y-%m}")
    except ValueError as exc:
        raise IndexQueryInvalid.field("period", "period.invalid", str(exc)) from None
    return u, p


@router.get("", operation_id="getIndex", responses=problems(IndexQueryInvalid),
            dependencies=[PUBLIC])
async def get_index(session: SessionDep, state: StateDep, unit: str | None = UnitQuery,
                    period: str | None = PeriodQuery) -> dict[str, Any]:
    """The Decision 766 index of a unit for a period: groups, items, points. Public."""
    u, p = resolve(state, unit, period)
    return await service.index_document(session, state.config, state.calendar, u, p,
                                        state.today())


@router.get("/ranking", operation_id="rankIndex", responses=problems(IndexQueryInvalid),
            dependencies=[PUBLIC])
async def get_ranking(session: SessionDep, state: StateDep,
                      level: Literal["province", "agency", "commune"] = "agency",
                      period: str | None = PeriodQuery,
                      within: str | None = Query(None, max_length=50,
                                                 description="province:<code> to rank in"),
                      ) -> dict[str, Any]:
    """Units of a level ranked by their score on 100 (scaled to the items available). Public."""
    scope, p = resolve(state, within, period)
    return await service.ranking(session, state.config, state.calendar, level, p,
                                 state.today(), within=scope if within else None)


@router.get("/config", operation_id="indexConfig", dependencies=[PUBLIC])
async def get_config(state: StateDep) -> dict[str, Any]:
    """The weights and thresholds in force, with their version. Public."""
    c = state.config
    return {"version": c.version, "dislike_max_score": c.dislike_max_score,
            "max_supplement_requests": c.max_supplement_requests,
            "productivity": c.productivity,
            "catalog": None if c.catalog is None else {
                "announce_lead_working_days": c.catalog.announce_lead_working_days,
                "publish_within_working_days": c.catalog.publish_within_working_days},
            "groups": [{"id": g.id, "max": float(g.max), "name": {"vi": g.name_vi,
                                                                   "en": g.name_en},
                        "items": [{"id": i.id, "max": float(i.max),
                                   "threshold": float(i.threshold),
                                   "name": {"vi": i.name_vi, "en": i.name_en}}
                                  for i in g.items]} for g in c.groups]}


@router.get("/items/{item_id}/dossiers", operation_id="drillDown",
            responses=problems(IndexQueryInvalid, IndexItemNotFound, *access.AUTH_PROBLEMS)
            | _files(_CSV, XLSX, json=True))
async def get_drilldown(item_id: str, session: SessionDep, state: StateDep,
                        who: access.Reader,
                        unit: str | None = UnitQuery, period: str | None = PeriodQuery,
                        limit: int = Query(100, ge=1, le=10_000),
                        offset: OffsetQuery = 0,
                        format: Literal["json", "csv", "xlsx"] = "json",
                        lang: Lang = "vi") -> Any:
    """The dossiers or procedures that cost an item its points, and why.

    Officers with auditor, agency_admin or approver see their agencies' rows (a province
    or commune is narrowed to them); services need ``metrics.read``.
    """
    if state.config.item(item_id) is None:
        raise IndexItemNotFound(f"no index item {item_id!r}")
    u, p = resolve(state, unit, period)
    agencies = access.rows_scope(who, u)
    doc = await service.index_document(session, state.config, state.calendar, u, p,
                                       state.today())
    drill = await drilldown.drilldown(session, state.config, state.calendar, u, p,
                                      state.today(), item_id, limit=limit, offset=offset,
                                      agencies=agencies, doc=doc)
    name = f"drilldown-{item_id}-{u.code}-{p.label}"
    if format == "csv":
        return _file(export.drill_csv(drill, lang), _CSV, f"{name}.csv")
    if format == "xlsx":
        return _file(export.to_xlsx(doc, [drill], lang), XLSX, f"{name}.xlsx")
    return drill


@router.get("/export", operation_id="exportIndex", dependencies=[PUBLIC],
            responses=problems(IndexQueryInvalid) | _files(_CSV, XLSX),
            response_class=Response)
async def export_index(session: SessionDep, state: StateDep, who: OptionalPrincipal,
                       unit: str | None = UnitQuery, period: str | None = PeriodQuery,
                       format: Literal["csv", "xlsx"] = "xlsx", lang: Lang = "vi") -> Response:
    """The index as CSV or XLSX. Public: aggregates only.

    For a reader's token (officer with auditor, agency_admin or approver of the unit's
    agency — narrowed to their agencies for a province or commune — or a service with
    ``metrics.read``) the XLSX adds the drill-down of every item that lost points.
    """
    u, p = resolve(state, unit, period)
    doc = await service.index_document(session, state.config, state.calendar, u, p,
                                       state.today())
    name = f"index-{u.code}-{p.label}"
    if format == "csv":
        return _file(export.index_csv(doc, lang), _CSV, f"{name}.csv")
    drills = []
    show, agencies = access.optional_rows_scope(who, u)
    for g in doc["groups"] if show else ():
        for i in g["items"]:
            if i["available"] and i["lost"]:
                drills.append(await drilldown.drilldown(
                    session, state.config, state.calendar, u, p, state.today(), i["id"],
                    limit=10_000, agencies=agencies, doc=doc))
    return _file(export.to_xlsx(doc, drills, lang), XLSX, f"{name}.xlsx")


def _file(body: bytes, media_type: str, filename: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition":
                             f'attachment; filename="{filename.replace("..", "_")}"'})
