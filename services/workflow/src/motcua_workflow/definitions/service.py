"""Process definitions: import (new versions only when the content changes), resolve the
definition a new case binds to, read them back."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.errors import FieldError, nul_characters
from motcua.ids import new_id
from motcua_workflow.definitions.defaults import FALLBACK_CODE, packaged_defaults
from motcua_workflow.definitions.errors import (
    DefinitionDocumentMalformed,
    DefinitionInvalid,
    DefinitionMediaTypeUnsupported,
    DefinitionNotFound,
    DefinitionVersionConflict,
)
from motcua_workflow.definitions.models import ProcessDefinition
from motcua_workflow.definitions.schemas import DefinitionSpec

YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
JSON_TYPES = frozenset({"application/json"})


def canonical(spec: DefinitionSpec) -> dict[str, Any]:
    """The definition as stored (every default filled in)."""
    return spec.model_dump(mode="json")


def digest(body: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a definition body."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def parse_document(raw: bytes, media_type: str) -> list[DefinitionSpec]:
    """Definitions from a YAML or JSON document: one mapping, a list, or ``definitions:``."""
    kind = media_type.split(";")[0].strip().lower()
    try:
        if kind in JSON_TYPES:
            data = json.loads(raw)
        elif kind in YAML_TYPES:
            data = yaml.safe_load(raw)
        else:
            raise DefinitionMediaTypeUnsupported(f"got {kind or 'no content type'}")
    except (ValueError, yaml.YAMLError) as exc:
        raise DefinitionDocumentMalformed(str(exc)[:300]) from None
    if isinstance(data, dict) and "definitions" in data:
        data = data["definitions"]
    items = data if isinstance(data, list) else [data]
    specs, errors = [], []
    for index, item in enumerate(items):
        if nul := nul_characters(item, f"definitions.{index}"):
            errors += nul  # PostgreSQL cannot store it: refused here on both backends
            continue
        try:
            specs.append(DefinitionSpec.model_validate(item))
        except ValidationError as exc:
            for e in exc.errors():
                where = ".".join(str(p) for p in e["loc"])
                errors.append(FieldError(field=f"definitions.{index}{'.' if where else ''}{where}",
                                         code=f"field.{e['type']}", message=e["msg"]))
    if errors:
        raise DefinitionInvalid(f"{len(errors)} problem(s) in the document", errors=errors)
    if not specs:
        raise DefinitionInvalid("the document holds no definition")
    return specs


_LATEST = (select(ProcessDefinition)
           .where(ProcessDefinition.procedure_code == bindparam("procedure_code"))
           .order_by(ProcessDefinition.version.desc()).limit(1))

#: ``session.info`` key: the transaction, and the definitions resolve() found in it.
_RESOLVED = "motcua_workflow.definitions.resolved"


async def latest(session: AsyncSession, procedure_code: str) -> ProcessDefinition | None:
    """The newest version for a procedure."""
    return await session.scalar(_LATEST, {"procedure_code": procedure_code})


def _resolved(session: AsyncSession) -> dict[str, ProcessDefinition] | None:
    """What :func:`resolve` found in the session's current transaction (None: nothing is
    remembered in a transaction that stored a definition, whose savepoint may roll back)."""
    info, transaction = session.sync_session.info, session.sync_session.get_transaction()
    memo: tuple[object, dict[str, ProcessDefinition] | None] | None = info.get(_RESOLVED)
    if memo is None or memo[0] is not transaction:
        memo = info[_RESOLVED] = (transaction, {})
    return memo[1]


async def store(session: AsyncSession, spec: DefinitionSpec, *, source: str,
                now: datetime) -> tuple[ProcessDefinition, bool]:
    """Store ``spec`` as the procedure's next version unless it equals the latest one."""
    body = canonical(spec)
    sha = digest(body)
    current = await latest(session, spec.procedure_code)
    if current is not None and current.digest == sha:
        return current, False
    row = ProcessDefinition(id=new_id(), procedure_code=spec.procedure_code,
                            version=(current.version + 1) if current else 1, name=spec.name,
                            body=body, digest=sha, source=source, created_at=now)
    session.add(row)
    session.sync_session.info[_RESOLVED] = (session.sync_session.get_transaction(), None)
    try:
        await session.flush()
    except IntegrityError:
        raise DefinitionVersionConflict(
            f"another version of {spec.procedure_code} was stored at the same time") from None
    return row, True


async def resolve(session: AsyncSession, procedure_code: str, *,
                  now: datetime) -> ProcessDefinition:
    """The definition a new case of ``procedure_code`` binds to.

    The newest stored version; else the packaged default for the procedure (stored as
    version 1 so the case points at a row); else the generic fallback.

    Remembered for the rest of the transaction (a consumer opens a batch of cases in
    one), which then binds every case of a procedure to the version it found first, as
    if it had run before any import committed meanwhile. Only rows other transactions
    committed are remembered: once this transaction stores a definition, it looks up
    every time (a savepoint may roll the stored row back).
    """
    resolved = _resolved(session)
    if resolved is not None and procedure_code in resolved:
        return resolved[procedure_code]
    for code in (procedure_code, FALLBACK_CODE):
        found = await latest(session, code)
        if found is not None:
            if resolved is not None:
                resolved[procedure_code] = found
            return found
        default = packaged_defaults().get(code)
        if default is not None:
            row, _ = await store(session, default, source="default", now=now)
            return row
    raise AssertionError("the packaged defaults always hold the fallback definition")


async def seed_defaults(session: AsyncSession, *, now: datetime) -> int:
    """Store every packaged default not stored yet; return how many were added."""
    added = 0
    for spec in packaged_defaults().values():
        if await latest(session, spec.procedure_code) is None:
            await store(session, spec, source="default", now=now)
            added += 1
    return added


def spec_of(row: ProcessDefinition) -> DefinitionSpec:
    """The validated definition of a stored row."""
    return DefinitionSpec.model_validate(row.body)


async def get_version(session: AsyncSession, procedure_code: str,
                      version: int | None = None) -> ProcessDefinition:
    """One version (the newest when ``version`` is None), or DefinitionNotFound."""
    if version is None:
        row = await latest(session, procedure_code)
    else:
        row = await session.scalar(select(ProcessDefinition).where(
            ProcessDefinition.procedure_code == procedure_code,
            ProcessDefinition.version == version))
    if row is None:
        raise DefinitionNotFound(f"no definition {procedure_code} v{version or 'latest'}")
    return row


async def list_latest(session: AsyncSession, *, after_code: str | None,
                      limit: int) -> list[ProcessDefinition]:
    """The newest version of every procedure, by procedure code."""
    newest = (select(ProcessDefinition.procedure_code,
                     func.max(ProcessDefinition.version).label("version"))
              .group_by(ProcessDefinition.procedure_code).subquery())
    query = (select(ProcessDefinition).join(newest, (
        ProcessDefinition.procedure_code == newest.c.procedure_code)
        & (ProcessDefinition.version == newest.c.version))
        .order_by(ProcessDefinition.procedure_code).limit(limit))
    if after_code is not None:
        query = query.where(ProcessDefinition.procedure_code > after_code)
    return list((await session.scalars(query)).all())


async def list_versions(session: AsyncSession, procedure_code: str) -> list[ProcessDefinition]:
    """Every version of one procedure, oldest first."""
    return list((await session.scalars(
        select(ProcessDefinition).where(ProcessDefinition.procedure_code == procedure_code)
        .order_by(ProcessDefinition.version))).all())
