"""Catalog use cases: create, update, publish, import and export procedures; agencies.

Services flush, never commit: the request's session commits. Every save of a procedure
bumps its ``version`` and writes a revision, so a dossier keeps pointing at the rules it
was submitted under. Every save that leaves a procedure published, and every withdrawal,
records ``ProcedurePublishedV1`` (metrics scores publication from it).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from motcua import outbox
from motcua.calendar import TIMEZONE
from motcua.contracts.intake import ProcedurePublishedV1
from motcua.db import utcnow
from motcua.errors import FieldError
from motcua_intake.catalog.errors import (
    AgencyExists,
    CatalogInvalid,
    ProcedureExists,
    ProcedureNotFound,
    ProcedureNotPublished,
)
from motcua_intake.catalog.models import Agency, Procedure, ProcedureRevision
from motcua_intake.catalog.repository import CatalogRepository
from motcua_intake.catalog.schemas import (
    AgencyCreate,
    CatalogDocument,
    ImportResult,
    ProcedureDefinition,
    Publication,
)

#: The content every published entry must carry (Decree 63/2010 Art. 8 as this catalog
#: holds it; docs/intake.md "Publication events"), checked by :func:`missing_content`.
MANDATORY_CONTENT = ("name_vi", "field_vi", "statutory_time", "components", "fee_lines",
                     "agencies", "reception_points")


def missing_content(definition: ProcedureDefinition) -> list[str]:
    """The mandatory content fields that are empty in ``definition``, in a fixed order.

    A bundle takes its members' components, so it may have none of its own; empty fee
    lines mean "no fee" unless the entry is flagged ``fee_info_missing``.
    """
    time = definition.statutory_time
    empty = {
        "name_vi": not definition.name_vi.strip(),
        "field_vi": not definition.field_vi.strip(),
        "statutory_time": time.amount is None and not time.per_channel,
        "components": not definition.components and definition.bundle is None,
        "fee_lines": not definition.fee_lines
        and "fee_info_missing" in definition.data_quality_flags,
        "agencies": not definition.agencies,
        "reception_points": not definition.reception_points,
    }
    return [name for name in MANDATORY_CONTENT if empty[name]]


def business_today(now: datetime | None = None) -> date:
    """Today in Asia/Ho_Chi_Minh."""
    return (now or utcnow()).astimezone(TIMEZONE).date()


def definition_of(procedure: Procedure) -> ProcedureDefinition:
    """The validated definition of a stored procedure."""
    return ProcedureDefinition.model_validate(procedure.definition)


async def get(session: AsyncSession, code: str) -> Procedure:
    """A procedure by national or local code, or ProcedureNotFound."""
    procedure = await CatalogRepository(session).procedure(code)
    if procedure is None or not procedure.definition:
        raise ProcedureNotFound(f"no procedure {code}")
    return procedure


async def revision(session: AsyncSession, code: str, version: int) -> ProcedureRevision:
    """One saved version of a procedure, or ProcedureNotFound."""
    procedure = await get(session, code)
    found = await CatalogRepository(session).revision(procedure.national_code, version)
    if found is None:
        raise ProcedureNotFound(f"procedure {code} has no version {version}")
    return found


async def create(session: AsyncSession, definition: ProcedureDefinition) -> Procedure:
    """Add a draft procedure (version 1)."""
    repo = CatalogRepository(session)
    if await repo.procedure(definition.national_code) is not None:
        raise ProcedureExists(f"procedure {definition.national_code} exists; update it")
    await _check_references(session, [definition], prefix="")
    procedure = await _save(session, None, definition, utcnow())
    await session.flush()
    return procedure


async def update(session: AsyncSession, code: str, definition: ProcedureDefinition, *,
                 province: str) -> Procedure:
    """Replace a procedure's definition (a new version; publication state is kept).

    A published procedure's new version is announced as published again.
    """
    repo = CatalogRepository(session)
    procedure = await repo.procedure(code, for_update=True)
    if procedure is None:
        raise ProcedureNotFound(f"no procedure {code}")
    if definition.national_code != procedure.national_code:
        raise CatalogInvalid(errors=[FieldError(
            field="national_code", code="field.mismatch",
            message=f"the path names {procedure.national_code}")])
    await _check_references(session, [definition], prefix="")
    now = utcnow()
    await _save(session, procedure, definition, now)
    if procedure.status == "published":
        _announce(session, procedure, definition, province=province, at=now)
    await session.flush()
    return procedure


async def publish(session: AsyncSession, code: str, body: Publication, *,
                  province: str) -> Procedure:
    """Publish (công bố) with validity dates, or withdraw; the instant of a publication is
    recorded and either is announced."""
    procedure = await CatalogRepository(session).procedure(code, for_update=True)
    if procedure is None or not procedure.definition:
        raise ProcedureNotFound(f"no procedure {code}")
    now = utcnow()
    if body.status == "withdrawn":
        if procedure.status != "published":
            raise ProcedureNotPublished(f"procedure {code} is {procedure.status}",
                                        status=procedure.status)
        procedure.status = "withdrawn"
        procedure.valid_from = body.valid_from or procedure.valid_from
        procedure.valid_to = body.valid_to or procedure.valid_to
        procedure.decision_date = body.decision_date or procedure.decision_date
    else:
        procedure.status = "published"
        procedure.valid_from, procedure.valid_to = body.valid_from, body.valid_to
        procedure.decision_date = body.decision_date
        procedure.published_at = now
    definition = definition_of(procedure)
    await _save(session, procedure, definition, now)
    _announce(session, procedure, definition, province=province, at=now)
    await session.flush()
    return procedure


async def import_document(session: AsyncSession, doc: CatalogDocument, *, publish: bool,
                          province: str, only_missing: bool = False) -> ImportResult:
    """Create or update every procedure of ``doc``; optionally publish them.

    With ``only_missing`` existing procedures are left untouched (the seed must never undo
    an operator's edit). Every procedure saved here that ends up published is announced.
    """
    definitions = doc.procedures
    await _check_references(session, definitions, prefix="procedures.")
    repo = CatalogRepository(session)
    existing = await repo.procedures(d.national_code for d in definitions)
    result = ImportResult(created=[], updated=[], unchanged=[], published=[])
    now = utcnow()
    for definition in definitions:
        code = definition.national_code
        procedure = existing.get(code)
        if procedure is not None and procedure.definition and (
                only_missing or procedure.definition == _dump(definition)):
            result.unchanged.append(code)
            if publish and not only_missing and procedure.status != "published":
                procedure.status, procedure.published_at = "published", now
                await _save(session, procedure, definition, now)
                _announce(session, procedure, definition, province=province, at=now)
                result.published.append(code)
            continue
        (result.updated if procedure is not None else result.created).append(code)
        was_published = procedure is not None and procedure.status == "published"
        procedure = await _save(session, procedure, definition, now, publish_now=publish)
        if publish and not was_published:
            result.published.append(code)
        if procedure.status == "published":
            _announce(session, procedure, definition, province=province, at=now)
    await session.flush()
    return result


async def export_document(session: AsyncSession) -> CatalogDocument:
    """The whole catalog as an import document (bundles inside their procedures)."""
    procedures = await CatalogRepository(session).all_procedures()
    return CatalogDocument(
        version=1, source="motcua intake export",
        procedures=[definition_of(p) for p in procedures if p.definition])


async def create_agency(session: AsyncSession, body: AgencyCreate) -> Agency:
    """Register an agency; codes it ``replaces`` now resolve to it (mergers)."""
    repo = CatalogRepository(session)
    if await repo.agency(body.code) is not None:
        raise AgencyExists(f"agency {body.code} exists")
    known = await repo.agency_codes([*body.replaces, *filter(None, [body.parent_code])])
    errors = [FieldError(field=f"replaces.{i}", code="agency.unknown",
                         message=f"unknown agency {c}")
              for i, c in enumerate(body.replaces) if c not in known]
    if body.parent_code is not None and body.parent_code not in known:
        errors.append(FieldError(field="parent_code", code="agency.unknown",
                                 message=f"unknown agency {body.parent_code}"))
    if errors:
        raise CatalogInvalid(errors=errors)
    agency = Agency(code=body.code, name_vi=body.name_vi, name_en=body.name_en,
                    level=body.level, valid_from=body.valid_from, valid_to=body.valid_to,
                    parent_code=body.parent_code, created_at=utcnow())
    session.add(agency)
    for old in body.replaces:
        replaced = await repo.agency(old)
        assert replaced is not None
        replaced.replaced_by = body.code
        if replaced.valid_to is None:
            replaced.valid_to = body.valid_from or business_today()
    await session.flush()
    return agency


# Internals


def _dump(definition: ProcedureDefinition) -> dict[str, Any]:
    return definition.model_dump(mode="json")


async def _check_references(session: AsyncSession, definitions: list[ProcedureDefinition],
                            *, prefix: str) -> None:
    """Agencies and bundle members must exist (in the catalog or in the same import)."""
    repo = CatalogRepository(session)
    agencies = await repo.agency_codes(
        a for d in definitions for a in (*d.agencies, *d.reception_points))
    members = {m for d in definitions if d.bundle for m in d.bundle.member_codes()}
    known_members = set(await repo.procedures(members)) | {d.national_code for d in definitions}
    many = len(definitions) > 1 or prefix
    errors = []
    for i, d in enumerate(definitions):
        where = f"{prefix}{i}." if many else ""
        for key in ("agencies", "reception_points"):
            for j, code in enumerate(getattr(d, key)):
                if code not in agencies:
                    errors.append(FieldError(field=f"{where}{key}.{j}", code="agency.unknown",
                                             message=f"unknown agency {code}"))
        if d.bundle:
            for j, member in enumerate(d.bundle.members):
                if isinstance(member, str) and member not in known_members:
                    errors.append(FieldError(
                        field=f"{where}bundle.members.{j}", code="procedure.unknown",
                        message=f"bundle member {member} is not in the catalog"))
    if errors:
        raise CatalogInvalid(f"{len(errors)} reference(s) do not resolve", errors=errors)


async def _save(session: AsyncSession, procedure: Procedure | None,
                definition: ProcedureDefinition, now: datetime, *,
                publish_now: bool = False) -> Procedure:
    """Write the definition and its columns, bump the version, keep a revision."""
    if procedure is None:
        procedure = Procedure(national_code=definition.national_code, status="draft",
                              version=0, created_at=now)
        session.add(procedure)
    if publish_now and procedure.status != "published":
        procedure.status, procedure.published_at = "published", now
    time = definition.statutory_time
    procedure.local_code = definition.local_code
    procedure.name_vi, procedure.name_en = definition.name_vi, definition.name_en
    procedure.field_vi, procedure.level = definition.field_vi, definition.level
    procedure.statutory_amount, procedure.statutory_unit = time.amount, time.unit
    procedure.is_bundle = definition.bundle is not None
    procedure.definition = _dump(definition)
    procedure.version += 1
    procedure.updated_at = now
    session.add(ProcedureRevision(
        national_code=procedure.national_code, version=procedure.version,
        status=procedure.status, valid_from=procedure.valid_from,
        valid_to=procedure.valid_to, published_at=procedure.published_at,
        decision_date=procedure.decision_date, definition=procedure.definition,
        created_at=now))
    await CatalogRepository(session).set_roles(
        procedure.national_code, definition.agencies, definition.reception_points)
    return procedure


def _announce(session: AsyncSession, procedure: Procedure, definition: ProcedureDefinition,
              *, province: str, at: datetime) -> None:
    """Record ProcedurePublishedV1 for the procedure's current version."""
    outbox.record(session, ProcedurePublishedV1(
        procedure_code=procedure.national_code, procedure_version=procedure.version,
        status="withdrawn" if procedure.status == "withdrawn" else "published",
        name_vi=definition.name_vi, level=definition.level,
        agencies=list(definition.agencies), valid_from=procedure.valid_from,
        decision_date=procedure.decision_date, published_at=procedure.published_at or at,
        online=definition.online_level in ("full", "partial"),
        has_fees=bool(definition.fee_lines), missing_content=missing_content(definition),
        occurred_at=at,
    ), province=province, key=procedure.national_code, sequence=procedure.version)
