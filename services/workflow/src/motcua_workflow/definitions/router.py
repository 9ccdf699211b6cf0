"""HTTP entry points for process definitions.

Any officer, and services with ``definitions.read``, read them. Storing one is for a
service with ``definitions.write`` (the province's administration tooling): a
definition's steps name roles, not agencies, so it governs the procedure in every agency
of the province and is no single agency admin's to change (docs/workflow.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import JSONResponse

from motcua.auth import Principal, require
from motcua.errors import problems
from motcua.idempotency import IdempotencyDep, IdempotencyInProgress, IdempotencyKeyReused
from motcua.pagination import (
    DB_INT_MAX,
    CursorQuery,
    LimitQuery,
    decode_cursor,
    encode_cursor,
)
from motcua.service import SessionDep
from motcua_workflow.access import DEFINITIONS_READ, DEFINITIONS_WRITE, DENIED
from motcua_workflow.context import WorkflowDep
from motcua_workflow.definitions import service
from motcua_workflow.definitions.errors import (
    DefinitionDocumentMalformed,
    DefinitionInvalid,
    DefinitionMediaTypeUnsupported,
    DefinitionNotFound,
    DefinitionVersionConflict,
)
from motcua_workflow.definitions.models import ProcessDefinition
from motcua_workflow.definitions.schemas import DefinitionPage, DefinitionRead, DefinitionSpec
from motcua_workflow.web import json_response, remember

router = APIRouter(prefix="/v1/process-definitions", tags=["process definitions"])

Reader = Annotated[Principal, require(kind=["officer", "service"], scopes=[DEFINITIONS_READ])]
Writer = Annotated[Principal, require(kind="service", scopes=[DEFINITIONS_WRITE])]


def read(row: ProcessDefinition) -> DefinitionRead:
    """The API view of a stored version."""
    return DefinitionRead(id=row.id, procedure_code=row.procedure_code, version=row.version,
                          name=row.name, source=row.source, digest=row.digest,
                          created_at=row.created_at, definition=row.body)


@router.post("", status_code=status.HTTP_201_CREATED, operation_id="createProcessDefinition",
             response_model=DefinitionRead,
             responses=problems(*DENIED, DefinitionVersionConflict, IdempotencyKeyReused,
                                IdempotencyInProgress))
async def create_definition(body: DefinitionSpec, session: SessionDep, wf: WorkflowDep,
                            idem: IdempotencyDep, _: Writer) -> DefinitionRead | JSONResponse:
    """Store a definition as the procedure's next version (200 if identical to the latest)."""
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    row, created = await service.store(session, body, source="api", now=wf.clock.now())
    result = read(row)
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    await remember(session, idem, code, result)
    return result if created else json_response(code, result)


@router.post("/import", status_code=status.HTTP_200_OK, operation_id="importProcessDefinitions",
             response_model=list[DefinitionRead],
             responses=problems(*DENIED, DefinitionDocumentMalformed, DefinitionInvalid,
                                DefinitionMediaTypeUnsupported, DefinitionVersionConflict,
                                IdempotencyKeyReused, IdempotencyInProgress),
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/yaml": {"schema": {"type": "string"}},
                 "application/json": {"schema": {"type": "object"}}}}})
async def import_definitions(request: Request, session: SessionDep, wf: WorkflowDep,
                             idem: IdempotencyDep,
                             _: Writer) -> list[DefinitionRead] | JSONResponse:
    """Import one or more definitions from a YAML or JSON document.

    Each definition whose content differs from its procedure's latest version becomes a
    new version; identical ones are answered as they are (importing twice is harmless).
    """
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    specs = service.parse_document(await request.body(),
                                   request.headers.get("content-type", ""))
    rows = [(await service.store(session, spec, source="import", now=wf.clock.now()))[0]
            for spec in specs]
    result = [read(r) for r in rows]
    await remember(session, idem, status.HTTP_200_OK, result)
    return result


@router.get("", operation_id="listProcessDefinitions", responses=problems(*DENIED))
async def list_definitions(session: SessionDep, _: Reader, limit: LimitQuery = 50,
                           cursor: CursorQuery = None) -> DefinitionPage:
    """The newest version of every procedure's definition, by procedure code."""
    after = decode_cursor(cursor, 1)[0] if cursor else None
    rows = await service.list_latest(session, after_code=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return DefinitionPage(items=[read(r) for r in rows],
                          next_cursor=encode_cursor(rows[-1].procedure_code) if more else None)


@router.get("/{procedure_code}", operation_id="getProcessDefinition",
            responses=problems(DefinitionNotFound, *DENIED))
async def get_definition(procedure_code: str, session: SessionDep, _: Reader) -> DefinitionRead:
    """The newest version of a procedure's definition."""
    return read(await service.get_version(session, procedure_code))


@router.get("/{procedure_code}/versions", operation_id="listProcessDefinitionVersions",
            responses=problems(*DENIED))
async def list_versions(procedure_code: str, session: SessionDep,
                        _: Reader) -> list[DefinitionRead]:
    """Every version of a procedure's definition, oldest first."""
    return [read(r) for r in await service.list_versions(session, procedure_code)]


@router.get("/{procedure_code}/versions/{version}", operation_id="getProcessDefinitionVersion",
            responses=problems(DefinitionNotFound, *DENIED))
async def get_version(procedure_code: str,
                      version: Annotated[int, Path(ge=1, le=DB_INT_MAX)],
                      session: SessionDep, _: Reader) -> DefinitionRead:
    """One version of a procedure's definition (the one a case is bound to)."""
    return read(await service.get_version(session, procedure_code, version))
