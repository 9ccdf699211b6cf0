"""HTTP entry points of the procedure catalog (/v1/procedures) and agencies (/v1/agencies).

Reads are public (the catalog is published information). Writes are an agency_admin's
in the agencies concerned, or a service's with scope ``catalog.write`` (see
``motcua_intake.access`` and docs/intake.md "Who may call what").
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.auth import PUBLIC, AgencyForbidden, NotAllowed, Principal
from motcua.errors import FieldError, problems
from motcua.idempotency import IdempotencyDep, IdempotencyKeyReused
from motcua.pagination import (
    DB_INT_MAX,
    DEFAULT_LIMIT,
    CursorInvalid,
    CursorQuery,
    LimitQuery,
)
from motcua.service import SessionDep
from motcua_intake import access
from motcua_intake.access import CatalogAdmin
from motcua_intake.catalog import csvio, service
from motcua_intake.catalog.errors import (
    AgencyExists,
    AgencyNotFound,
    CatalogCsvInvalid,
    CatalogInvalid,
    ProcedureExists,
    ProcedureNotFound,
    ProcedureNotPublished,
)
from motcua_intake.catalog.models import Procedure
from motcua_intake.catalog.repository import CatalogRepository
from motcua_intake.catalog.schemas import (
    AgencyCreate,
    AgencyPage,
    AgencyRead,
    CatalogDocument,
    ImportResult,
    ProcedureDefinition,
    ProcedurePage,
    ProcedureRead,
    ProcedureSummary,
    Publication,
    RevisionRead,
)

router = APIRouter(tags=["catalog"])

#: What a refused catalog writer gets.
_DENIED = (NotAllowed, AgencyForbidden)


def _read(p: Procedure) -> ProcedureRead:
    return ProcedureRead(
        national_code=p.national_code, local_code=p.local_code, name_vi=p.name_vi,
        name_en=p.name_en, level=p.level, status=p.status, version=p.version,
        valid_from=p.valid_from, valid_to=p.valid_to, published_at=p.published_at,
        decision_date=p.decision_date, updated_at=p.updated_at,
        definition=service.definition_of(p))


def _province(request: Request) -> str:
    return request.app.state.settings.province


def _competent(procedure: Procedure | None) -> list[str]:
    """The competent agencies a stored procedure names."""
    return list((procedure.definition or {}).get("agencies") or []) if procedure else []


async def _ensure_may_import(session: AsyncSession, who: Principal,
                             doc: CatalogDocument) -> None:
    """An officer imports only what they administer: every agency the file names
    (competent or reception point) and the agencies of the procedures it replaces."""
    if who.kind != "officer":
        return
    unowned = [d.national_code for d in doc.procedures if not d.agencies]
    if unowned:
        raise AgencyForbidden(f"{', '.join(unowned)} name no competent agency: a service "
                              "with scope catalog.write imports them")
    existing = await CatalogRepository(session).procedures(
        d.national_code for d in doc.procedures)
    access.ensure_catalog_admin(who, [
        *(a for d in doc.procedures for a in (*d.agencies, *d.reception_points)),
        *(a for p in existing.values() for a in _competent(p))])


@router.get("/v1/procedures", operation_id="listProcedures", dependencies=[PUBLIC],
            responses=problems(CursorInvalid))
async def list_procedures(
    session: SessionDep,
    level: Annotated[list[Literal["province", "commune", "ministry_assigned"]] | None,
                     Query()] = None,
    status_: Annotated[list[Literal["draft", "published", "withdrawn"]] | None,
                       Query(alias="status")] = None,
    field: Annotated[str | None, Query(max_length=255, description="Field (lĩnh vực)")] = None,
    agency: Annotated[str | None, Query(max_length=35, description="Competent agency")] = None,
    reception_point: Annotated[str | None, Query(max_length=35)] = None,
    bundle: Annotated[bool | None, Query(description="Only bundles (liên thông)")] = None,
    q: Annotated[str | None, Query(min_length=2, max_length=100)] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> ProcedurePage:
    """Procedures by national code, filtered; cursor-paginated. Public."""
    rows, next_cursor = await CatalogRepository(session).list_procedures(
        limit=limit, cursor=cursor,
        filters={"level": level, "status": status_, "field": field, "agency": agency,
                 "reception_point": reception_point, "bundle": bundle, "q": q})
    return ProcedurePage(items=[ProcedureSummary.model_validate(p, from_attributes=True)
                                for p in rows], next_cursor=next_cursor)


@router.post("/v1/procedures", status_code=status.HTTP_201_CREATED,
             operation_id="createProcedure", response_model=ProcedureRead,
             responses=problems(ProcedureExists, CatalogInvalid, *_DENIED,
                                IdempotencyKeyReused))
async def create_procedure(body: ProcedureDefinition, session: SessionDep,
                           idem: IdempotencyDep, who: CatalogAdmin) -> ProcedureRead | JSONResponse:
    """Add a procedure as a draft (version 1); publish it to accept dossiers.

    An agency_admin of every competent agency it names, or a service (catalog.write)."""
    access.ensure_catalog_admin(who, body.agencies)
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    result = _read(await service.create(session, body))
    idem.remember(session, status.HTTP_201_CREATED, result)
    return result


@router.get("/v1/procedures/export", operation_id="exportProcedures", dependencies=[PUBLIC],
            responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
async def export_procedures(
    session: SessionDep,
    format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response:
    """The whole catalog as an import document (JSON) or a CSV sheet. Public."""
    doc = await service.export_document(session)
    if format_ == "json":
        return Response(doc.model_dump_json(indent=2), media_type="application/json")
    procedures = {p.national_code: p for p in await CatalogRepository(session).all_procedures()}
    rows = [(d, {"status": procedures[d.national_code].status,
                 "version": procedures[d.national_code].version,
                 "valid_from": procedures[d.national_code].valid_from,
                 "valid_to": procedures[d.national_code].valid_to,
                 "published_at": procedures[d.national_code].published_at})
            for d in doc.procedures]
    return Response(csvio.to_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="procedures.csv"'})


@router.post("/v1/procedures/import", operation_id="importProcedures",
             response_model=ImportResult,
             responses=problems(CatalogInvalid, *_DENIED, IdempotencyKeyReused))
async def import_procedures(
    request: Request, body: CatalogDocument, session: SessionDep, idem: IdempotencyDep,
    who: CatalogAdmin,
    publish: Annotated[bool, Query(description="Publish what is imported")] = False,
) -> ImportResult | JSONResponse:
    """Create or update procedures from a catalog document (the seed file's shape).

    An agency_admin of every agency the file names, or a service (catalog.write)."""
    await _ensure_may_import(session, who, body)
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    result = await service.import_document(session, body, publish=publish,
                                           province=_province(request))
    idem.remember(session, status.HTTP_200_OK, result)
    return result


@router.post("/v1/procedures/import.csv", operation_id="importProceduresCsv",
             response_model=ImportResult,
             responses=problems(CatalogCsvInvalid, CatalogInvalid, *_DENIED,
                                IdempotencyKeyReused),
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string"}}}}})
async def import_procedures_csv(
    request: Request, session: SessionDep, idem: IdempotencyDep, who: CatalogAdmin,
    publish: Annotated[bool, Query(description="Publish what is imported")] = False,
) -> ImportResult | JSONResponse:
    """Create or update procedures from a CSV sheet (columns in docs/intake.md).

    An agency_admin of every agency the sheet names, or a service (catalog.write)."""
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise CatalogCsvInvalid("the CSV must be UTF-8", errors=[FieldError(
            field="body", code="field.encoding", message="not UTF-8")]) from None
    doc = csvio.from_csv(text)
    await _ensure_may_import(session, who, doc)
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    result = await service.import_document(session, doc, publish=publish,
                                           province=_province(request))
    idem.remember(session, status.HTTP_200_OK, result)
    return result


@router.get("/v1/procedures/{code}", operation_id="getProcedure", dependencies=[PUBLIC],
            responses=problems(ProcedureNotFound))
async def get_procedure(
    code: str, session: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=DB_INT_MAX,
                                         description="A saved version")] = None,
) -> ProcedureRead:
    """One procedure by national or local code (current, or a saved version). Public."""
    procedure = await service.get(session, code)
    if version is None or version == procedure.version:
        return _read(procedure)
    rev = await service.revision(session, code, version)
    return ProcedureRead(
        national_code=procedure.national_code, local_code=rev.definition.get("local_code"),
        name_vi=rev.definition["name_vi"], name_en=rev.definition.get("name_en"),
        level=rev.definition["level"], status=rev.status, version=rev.version,
        valid_from=rev.valid_from, valid_to=rev.valid_to, published_at=rev.published_at,
        decision_date=rev.decision_date, updated_at=rev.created_at,
        definition=ProcedureDefinition.model_validate(rev.definition))


@router.put("/v1/procedures/{code}", operation_id="updateProcedure",
            responses=problems(ProcedureNotFound, CatalogInvalid, *_DENIED))
async def update_procedure(code: str, body: ProcedureDefinition, request: Request,
                           session: SessionDep, who: CatalogAdmin) -> ProcedureRead:
    """Replace a procedure's definition: a new version; dossiers keep theirs.

    An agency_admin of every competent agency it names, before and after, or a service."""
    stored = await CatalogRepository(session).procedure(code)
    if stored is None:
        raise ProcedureNotFound(f"no procedure {code}")
    access.ensure_catalog_admin(who, [*_competent(stored), *body.agencies])
    return _read(await service.update(session, code, body, province=_province(request)))


@router.post("/v1/procedures/{code}/publication", operation_id="publishProcedure",
             response_model=ProcedureRead,
             responses=problems(ProcedureNotFound, ProcedureNotPublished, *_DENIED,
                                IdempotencyKeyReused))
async def publish_procedure(code: str, body: Publication, request: Request,
                            session: SessionDep, idem: IdempotencyDep,
                            who: CatalogAdmin) -> ProcedureRead | JSONResponse:
    """Publish (công bố) with validity dates, or withdraw (``status: withdrawn``); the
    publication time is recorded and ``procedure.published`` announces either.

    An agency_admin of every competent agency, or a service (catalog.write)."""
    access.ensure_catalog_admin(who, _competent(await service.get(session, code)))
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    result = _read(await service.publish(session, code, body, province=_province(request)))
    idem.remember(session, status.HTTP_200_OK, result)
    return result


@router.get("/v1/procedures/{code}/versions", operation_id="listProcedureVersions",
            dependencies=[PUBLIC],
            responses=problems(ProcedureNotFound))
async def list_versions(code: str, session: SessionDep) -> list[RevisionRead]:
    """Every saved version of a procedure, oldest first. Public."""
    procedure = await service.get(session, code)
    return [RevisionRead.model_validate(r, from_attributes=True)
            for r in await CatalogRepository(session).revisions(procedure.national_code)]


@router.get("/v1/agencies", operation_id="listAgencies", dependencies=[PUBLIC],
            responses=problems(CursorInvalid))
async def list_agencies(
    session: SessionDep,
    level: Annotated[str | None, Query(max_length=20)] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> AgencyPage:
    """Agencies and reception points by code; cursor-paginated. Public."""
    rows, next_cursor = await CatalogRepository(session).list_agencies(
        limit=limit, cursor=cursor, level=level)
    return AgencyPage(items=[AgencyRead.model_validate(a) for a in rows],
                      next_cursor=next_cursor)


@router.post("/v1/agencies", status_code=status.HTTP_201_CREATED, operation_id="createAgency",
             response_model=AgencyRead,
             responses=problems(AgencyExists, CatalogInvalid, *_DENIED,
                                IdempotencyKeyReused))
async def create_agency(body: AgencyCreate, session: SessionDep, idem: IdempotencyDep,
                        who: CatalogAdmin) -> AgencyRead | JSONResponse:
    """Register an agency; ``replaces`` ends old codes and maps them to this one.

    An agency_admin of its parent (and of each agency it replaces, or of that one's
    parent), or a service (catalog.write); a top-level agency: a service only."""
    repo = CatalogRepository(session)
    replaced = [a for code in body.replaces if (a := await repo.agency(code)) is not None]
    access.ensure_agency_registrar(who, body.parent_code, replaced)
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    result = AgencyRead.model_validate(await service.create_agency(session, body))
    idem.remember(session, status.HTTP_201_CREATED, result)
    return result


@router.get("/v1/agencies/{code}", operation_id="getAgency", dependencies=[PUBLIC],
            responses=problems(AgencyNotFound))
async def get_agency(code: str, session: SessionDep) -> AgencyRead:
    """One agency; ``replaced_by`` names the successor of a merged agency. Public."""
    agency = await CatalogRepository(session).agency(code)
    if agency is None:
        raise AgencyNotFound(f"no agency {code}")
    return AgencyRead.model_validate(agency)
