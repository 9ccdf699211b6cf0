"""A short-lived, read-only cache of the catalog for the submission path.

A submission reads its procedure, the procedure's agencies and one or two agencies: four
round trips of data that changes a few times a year. :class:`CachedCatalog` answers them
from memory for at most ``TTL_S`` seconds per entry, per database.

Freshness: a catalog change made through this process (any ORM flush touching a catalog
table, or an UPDATE/DELETE statement on one) clears that database's cache when its
transaction commits, so the process that published a procedure accepts dossiers for it
at once. Another replica sees the change within ``TTL_S``. The cached objects are
transient copies (columns only), used read-only by the submission, and so is a
procedure's parsed definition, kept with the copy it was parsed from.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from motcua_intake.catalog.models import Agency, Procedure, ProcedureAgency, ProcedureRevision
from motcua_intake.catalog.repository import CatalogRepository
from motcua_intake.catalog.schemas import ProcedureDefinition

#: Seconds an entry is trusted (bounds how stale another replica's view can be).
TTL_S = 2.0
_CATALOG = (Procedure, ProcedureAgency, Agency, ProcedureRevision)
_CATALOG_TABLES = frozenset(m.__table__.name for m in _CATALOG)

#: engine id → key → (stored at, value)
_entries: dict[int, dict[tuple[str, str], tuple[float, Any]]] = {}
#: cached procedure copy → its parsed definition (gone with the copy)
_definitions: weakref.WeakKeyDictionary[Procedure, ProcedureDefinition] = (
    weakref.WeakKeyDictionary())


def _engine_key(session: Session | AsyncSession) -> int:
    bind = session.get_bind() if isinstance(session, Session) else session.bind
    return id(getattr(bind, "sync_engine", bind))


def clear(session: Session | AsyncSession | None = None) -> None:
    """Forget the cached catalog of ``session``'s database (of every database if None)."""
    if session is None:
        _entries.clear()
    else:
        _entries.pop(_engine_key(session), None)


class CachedCatalog:
    """The catalog reads of a submission, from memory when fresh."""

    def __init__(self, session: AsyncSession) -> None:
        self.repo = CatalogRepository(session)
        self._entries = _entries.setdefault(_engine_key(session), {})

    async def _get(self, kind: str, code: str, load: Any) -> Any:
        now = time.monotonic()
        hit = self._entries.get((kind, code))
        if hit is not None and now - hit[0] < TTL_S:
            return hit[1]
        value = _copy(await load(code))
        self._entries[(kind, code)] = (now, value)
        return value

    async def procedure(self, code: str) -> Procedure | None:
        """A procedure by national or local code."""
        return await self._get("procedure", code, self.repo.procedure)

    def definition(self, procedure: Procedure) -> ProcedureDefinition:
        """The parsed definition of a procedure this cache returned, parsed once per cached
        copy (shared with other requests: read it, do not change it)."""
        parsed = _definitions.get(procedure)
        if parsed is None:
            parsed = _definitions[procedure] = ProcedureDefinition.model_validate(
                procedure.definition)
        return parsed

    async def roles(self, code: str) -> dict[str, set[str]]:
        """Agencies by role for a procedure (copies: callers may not change the cache)."""
        roles = await self._get("roles", code, self.repo.roles)
        return {role: set(codes) for role, codes in roles.items()}

    async def agency(self, code: str) -> Agency | None:
        """An agency by code."""
        return await self._get("agency", code, self.repo.agency)

    async def procedures(self, codes: Any) -> dict[str, Procedure]:
        """Bundle members: not cached (rare)."""
        return await self.repo.procedures(codes)


def _copy(value: Any) -> Any:
    """A transient copy of a loaded row (columns only), so no session's rollback or
    expiry ever reaches the cached object; other values as they are."""
    if not isinstance(value, Agency | Procedure):
        return value
    mapper = inspect(type(value))
    return type(value)(**{a.key: getattr(value, a.key) for a in mapper.column_attrs})


@event.listens_for(Session, "after_flush")
def _note_catalog_flush(session: Session, _context: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, _CATALOG) for obj in changed):
        session.info["catalog_changed"] = True


@event.listens_for(Session, "do_orm_execute")
def _note_catalog_statement(state: Any) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in _CATALOG_TABLES:
            state.session.info["catalog_changed"] = True


@event.listens_for(Session, "after_commit")
def _clear_after_catalog_commit(session: Session) -> None:
    # Also fired when a savepoint is released; the change is committed only with the
    # outer transaction, so clear then (clearing earlier could re-cache the old value).
    if session.in_nested_transaction():
        return
    if session.info.pop("catalog_changed", False):
        clear(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back_change(session: Session, _previous: Any) -> None:
    # A rolled-back change changed nothing, but clearing is always safe.
    if session.info.pop("catalog_changed", False):
        clear(session)
