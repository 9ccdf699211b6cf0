"""HTTP entry points of the citizen data store."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from motcua.auth import AgencyForbidden, NotAllowed, Principal, require
from motcua.errors import problems
from motcua.idempotency import IdempotencyDep, IdempotencyKeyReused
from motcua.service import SessionDep
from motcua_identity.documents import service
from motcua_identity.documents.errors import (
    DocumentExpired,
    DocumentNotFound,
    DocumentNotYetValid,
)
from motcua_identity.documents.models import StoredDocument
from motcua_identity.documents.schemas import DocumentRead, DocumentStore, ReuseCreate, ReuseRead
from motcua_identity.population.router import agency_of
from motcua_identity.population.service import PersonalIdNotValid, check_personal_id

router = APIRouter(tags=["documents"])

_READERS = require(kind=["citizen", "officer", "service"],
                   roles=["receptionist", "processor", "approver"], scopes=["documents.read"])


def _ref_key(request: Request) -> str:
    return request.app.state.settings.resolved_owner_ref_key()


def _may_read(who: Principal, doc: StoredDocument, ref_key: str) -> None:
    if who.kind == "citizen" and not service.is_owner(who, doc, ref_key):
        # Same answer as a missing document: a citizen learns nothing about others'.
        raise DocumentNotFound("no such document")


@router.post("/v1/documents", status_code=status.HTTP_201_CREATED, operation_id="storeDocument",
             response_model=DocumentRead,
             responses=problems(PersonalIdNotValid, AgencyForbidden, IdempotencyKeyReused))
async def store_document(
    body: DocumentStore, request: Request, session: SessionDep, idem: IdempotencyDep,
    who: Annotated[Principal, require(kind=["officer", "service"],
                                       roles=["processor", "approver"],
                                       scopes=["documents.write"])],
) -> DocumentRead | JSONResponse:
    """Store a digitised document or result (officers of the issuing agency, services)."""
    owner = check_personal_id(body.owner_personal_id, "owner_personal_id")
    if who.kind == "officer":
        who.ensure_agency(body.issuing_agency, "processor", "approver")
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    doc = await service.store(session, request.app.state.settings.province, body, owner, who,
                              ref_key=_ref_key(request))
    result = DocumentRead.of(doc)
    idem.remember(session, status.HTTP_201_CREATED, result)
    return result


@router.get("/v1/documents", operation_id="listDocuments",
            responses=problems(PersonalIdNotValid, NotAllowed))
async def list_documents(
    request: Request, session: SessionDep,
    owner_personal_id: Annotated[str, Query(min_length=12, max_length=12)],
    who: Annotated[Principal, _READERS],
) -> list[DocumentRead]:
    """A citizen's stored documents, including results known only by owner reference
    (officers, services; a citizen only their own)."""
    owner = check_personal_id(owner_personal_id, "owner_personal_id")
    if who.kind == "citizen" and not who.is_person(owner):
        raise NotAllowed("citizens see only their own documents")
    docs = await service.of_owner(session, owner, _ref_key(request))
    return [DocumentRead.of(d, owner) for d in docs]


@router.get("/v1/me/documents", operation_id="listMyDocuments")
async def my_documents(request: Request, session: SessionDep,
                       who: Annotated[Principal, require(kind="citizen")]) -> list[DocumentRead]:
    """The signed-in citizen's documents, including results filed from finished cases."""
    assert who.personal_id is not None
    docs = await service.of_owner(session, who.personal_id, _ref_key(request))
    return [DocumentRead.of(d, who.personal_id) for d in docs]


@router.get("/v1/documents/{document_id}", operation_id="getDocument",
            responses=problems(DocumentNotFound))
async def get_document(document_id: str, request: Request, session: SessionDep,
                       who: Annotated[Principal, _READERS]) -> DocumentRead:
    """One stored document."""
    doc = await service.get(session, document_id)
    _may_read(who, doc, _ref_key(request))
    return DocumentRead.of(doc, who.personal_id if who.kind == "citizen" else None)


@router.post("/v1/documents/{document_id}/reuses", status_code=status.HTTP_201_CREATED,
             operation_id="reuseDocument", response_model=ReuseRead,
             responses=problems(DocumentNotFound, DocumentExpired, DocumentNotYetValid,
                                AgencyForbidden, IdempotencyKeyReused))
async def reuse_document(
    document_id: str, body: ReuseCreate, request: Request, session: SessionDep,
    idem: IdempotencyDep,
    who: Annotated[Principal, require(roles=["receptionist", "processor"],
                                      scopes=["documents.reuse"])],
) -> ReuseRead | JSONResponse:
    """Attach a stored document to a dossier instead of an upload (counts as reuse).

    The answer carries the national flags to set on the dossier component
    (``DuocTaiSuDung``, ``DuocLayTuKhoDMQG``). Attaching the same document to the same
    component again answers the first reuse (200). The owner citizen, officers of the
    dossier's agency, and services with ``documents.reuse`` may attach.
    """
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    doc = await service.get(session, document_id, lock=True)
    _may_read(who, doc, _ref_key(request))
    if who.kind == "officer":
        who.ensure_agency(agency_of(body.dossier_code), "receptionist", "processor")
    row, created = await service.reuse(session, request.app.state.settings.province, doc,
                                       body, who)
    result = ReuseRead.of(row, doc, who.personal_id if who.kind == "citizen" else None)
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    idem.remember(session, code, result)
    return JSONResponse(result.model_dump(mode="json"), status_code=code)
