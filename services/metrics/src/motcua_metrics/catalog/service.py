"""Projection of intake's catalog publications, and the catalog figures of the index.

:func:`apply` stores one ``ProcedurePublishedV1`` (``procedure_version`` = the envelope
``sequence``) as a version row and one row per competent agency. Rows are only ever
added, so applying an event twice, or an older version after a newer one, changes
nothing: which version counts is decided when reading, as the highest version that
existed on the judging day (:func:`current`). A re-send of the *same* version with other
content (which intake does not do) keeps the later one (``occurred_at``, then event id),
whatever the order of arrival.

Index figures of a unit (``domain.md`` §6, rules in ``docs/metrics.md``):

* **catalog** = procedures whose current version on the judging day is published (not
  withdrawn) and names an agency of the unit; of them *complete* (no mandatory content
  missing), *online* (offers an online service), and *online and used* (at least one
  online dossier of the procedure received in the unit in the period);
* **publications** = versions published (``published_at``) in the period, judged with
  :mod:`motcua_metrics.catalog.rules`; a procedure is on time when every one of its
  versions published in the period that can be judged is on time.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, case, delete, distinct, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from motcua.calendar import TIMEZONE, Calendar
from motcua.contracts.intake import ProcedurePublishedV1
from motcua.db import dialect_insert
from motcua.events import Envelope
from motcua_metrics.catalog import rules
from motcua_metrics.catalog.models import CatalogAgency as CA
from motcua_metrics.catalog.models import CatalogRevision
from motcua_metrics.catalog.models import CatalogVersion as CV
from motcua_metrics.facts.models import DossierFact as F
from motcua_metrics.facts.service import ProjectionContext, counting
from motcua_metrics.index.config import CatalogRules
from motcua_metrics.index.periods import Period, UnitKind

#: The unit columns of a competent agency row.
KEY_COLUMN: dict[UnitKind, Any] = {
    "province": CA.province_code, "agency": CA.agency_code, "commune": CA.commune_code}
_FACT_KEY: dict[UnitKind, Any] = {
    "province": F.province_code, "agency": F.agency_code, "commune": F.commune_code}
_COLUMNS = ("status", "name_vi", "level", "agencies", "published_at", "published_day",
            "occurred_at", "occurred_day", "decision_date", "valid_from", "online",
            "has_fees", "missing_content", "missing_count", "event_id")


async def apply(session: AsyncSession, envelope: Envelope, data: ProcedurePublishedV1,
                ctx: ProjectionContext, *, emit: bool = True) -> None:
    """Store one catalog publication (safe to apply again, in any order)."""
    del emit  # nothing is sent for a catalog event
    code, version = data.procedure_code, data.procedure_version
    values = {
        "event_id": envelope.id, "status": data.status, "name_vi": data.name_vi,
        "level": data.level, "agencies": sorted(set(data.agencies)),
        "published_at": data.published_at,
        "published_day": data.published_at.astimezone(TIMEZONE).date(),
        "occurred_at": data.occurred_at,
        "occurred_day": data.occurred_at.astimezone(TIMEZONE).date(),
        "decision_date": data.decision_date, "valid_from": data.valid_from,
        "online": data.online, "has_fees": data.has_fees,
        "missing_content": list(data.missing_content),
        "missing_count": len(data.missing_content),
    }
    insert = dialect_insert(session)
    await session.execute(insert(CV).values(procedure_code=code, version=version, **values)
                          .on_conflict_do_nothing(index_elements=["procedure_code", "version"]))
    row = await session.get(CV, (code, version), with_for_update=True, populate_existing=True)
    assert row is not None
    if row.event_id != envelope.id:
        if (data.occurred_at, envelope.id) <= (row.occurred_at, row.event_id):
            return  # an older re-send of this version: the stored one wins
        for name in _COLUMNS:
            setattr(row, name, values[name])
        await session.execute(delete(CA).where(CA.procedure_code == code,
                                               CA.version == version))
    for agency in values["agencies"]:
        await session.execute(insert(CA).values(
            procedure_code=code, version=version, agency_code=agency,
            province_code=agency.rsplit(".", 1)[-1], commune_code=ctx.units.get(agency).commune,
        ).on_conflict_do_nothing(index_elements=["procedure_code", "version", "agency_code"]))
    await bump_revision(session)
    counting(session, ctx).applied["intake"] += 1


async def bump_revision(session: AsyncSession) -> None:
    """Mark the catalog as changed (cached figures of older revisions are not used)."""
    await session.execute(update(CatalogRevision).where(CatalogRevision.id == 1)
                          .values(revision=CatalogRevision.revision + 1))


def current(judged: date) -> Any:
    """Subquery: per procedure, the highest version that existed on ``judged``."""
    return (select(CV.procedure_code, func.max(CV.version).label("version"))
            .where(CV.occurred_day <= judged).group_by(CV.procedure_code)
            .subquery("current_version"))


def _unit_filter(level: UnitKind, only: str | None,
                 agencies: frozenset[str] | None) -> list[ColumnElement[bool]]:
    key = KEY_COLUMN[level]
    out = [key == only] if only is not None else [key.is_not(None)]
    if agencies is not None:
        out.append(CA.agency_code.in_(sorted(agencies)))
    return out


def _used_online(level: UnitKind, period: Period, judged: date) -> Any:
    """Correlated EXISTS: an online dossier of the procedure received in the unit."""
    return exists().where(
        F.procedure_code == CA.procedure_code, F.channel == "online",
        F.received_day >= period.start, F.received_day <= judged,
        _FACT_KEY[level] == KEY_COLUMN[level])


def _current_rows(level: UnitKind, period: Period, judged: date, only: str | None,
                  agencies: frozenset[str] | None, *columns: Any) -> Any:
    cur = current(judged)
    return (select(*columns).select_from(CA)
            .join(cur, and_(CA.procedure_code == cur.c.procedure_code,
                            CA.version == cur.c.version))
            .join(CV, and_(CV.procedure_code == CA.procedure_code, CV.version == CA.version))
            .where(CV.status == "published", *_unit_filter(level, only, agencies)))


@dataclass
class CatalogCounts:
    """The catalog figures of one unit."""

    procedures: int = 0
    complete: int = 0
    online: int = 0
    online_used: int = 0
    #: Procedures published in the period and judged (both dates known) / on time / not
    #: judged for lack of dates, for "announced on time" and "published on time".
    announced: int = 0
    announced_on_time: int = 0
    announced_unjudged: int = 0
    published: int = 0
    published_on_time: int = 0
    published_unjudged: int = 0


async def counts(session: AsyncSession, level: UnitKind, period: Period, judged: date,
                 config: CatalogRules, calendar: Calendar, only: str | None = None,
                 used_online: Mapping[str, Set[str]] | None = None,
                 revision: int | None = None) -> dict[str, CatalogCounts]:
    """Catalog figures per unit of ``level`` (all of them, or ``only`` that one).

    ``used_online``: per unit, the procedures with an online dossier received in the unit
    in the period (from the index aggregates); None reads them from the facts. With
    ``used_online``, the catalog's own figures are cached per catalog ``revision``.
    """
    out: dict[str, CatalogCounts] = defaultdict(CatalogCounts)
    key = KEY_COLUMN[level]
    code = CA.procedure_code
    if used_online is not None:
        current, judged_publications = await _cached(session, level, period, judged, config,
                                                     calendar, only, revision)
        for unit, procedures in current.items():
            c = out[unit]
            used = used_online.get(unit, frozenset())
            c.procedures = len(procedures)
            c.complete = sum(1 for complete, _ in procedures.values() if complete)
            c.online = sum(1 for _, online in procedures.values() if online)
            c.online_used = sum(1 for p, (_, online) in procedures.items()
                                if online and p in used)
        _count_publications(out, judged_publications)
        return dict(out)
    query = _current_rows(
        level, period, judged, only, None, key, func.count(distinct(code)),
        func.count(distinct(case((CV.missing_count == 0, code)))),
        func.count(distinct(case((CV.online, code)))),
        func.count(distinct(case((and_(CV.online, _used_online(level, period, judged)),
                                  code))))).group_by(key)
    for unit, n, complete, online, used in (await session.execute(query)).all():
        c = out[unit]
        c.procedures, c.complete, c.online, c.online_used = n, complete, online, used
    _count_publications(out, await publications(session, level, period, judged, config,
                                                calendar, only))
    return dict(out)


#: Procedure → (complete, online) of its current version, per unit.
Current = dict[str, dict[str, tuple[bool, bool]]]
_CACHE: OrderedDict[tuple[Any, ...], tuple[Current, dict[str, dict[str, Publication]]]] = \
    OrderedDict()
_CACHE_SIZE = 512


async def _cached(session: AsyncSession, level: UnitKind, period: Period, judged: date,
                  config: CatalogRules, calendar: Calendar, only: str | None,
                  revision: int | None) -> tuple[Current, dict[str, dict[str, Publication]]]:
    """The unit's current catalog and judged publications, cached per catalog revision
    (the catalog changes a few times a year; the index is read all day)."""
    key = (str(session.bind.url), revision, level, only, period.start, judged, config,
           calendar)
    found = _CACHE.get(key) if revision is not None else None
    if found is not None:
        _CACHE.move_to_end(key)
        return found
    # One current version per procedure: its flags are the same on every agency row.
    current: Current = defaultdict(dict)
    query = _current_rows(level, period, judged, only, None, KEY_COLUMN[level],
                          CA.procedure_code, CV.missing_count == 0, CV.online).distinct()
    for unit, procedure, complete, online in (await session.execute(query)).all():
        current[unit][procedure] = (bool(complete), bool(online))
    value = (dict(current), await publications(session, level, period, judged, config,
                                               calendar, only))
    if revision is not None:
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


def _count_publications(out: dict[str, CatalogCounts],
                        found: dict[str, dict[str, Publication]]) -> None:
    for unit, judgements in found.items():
        c = out[unit]
        for p in judgements.values():
            if p.announced is not None:
                c.announced += 1
                c.announced_on_time += p.announced
            else:
                c.announced_unjudged += 1
            if p.published is not None:
                c.published += 1
                c.published_on_time += p.published
            else:
                c.published_unjudged += 1


@dataclass
class Publication:
    """One procedure's versions published in the period, judged for one unit."""

    procedure_code: str
    name_vi: str = ""
    #: True on time, False late, None not judged (no version carried the dates).
    announced: bool | None = None
    published: bool | None = None
    #: The latest late version's reason per item ("announced" / "published").
    late: dict[str, tuple[int, rules.Judgement]] = field(default_factory=dict)


def _combine(current_value: bool | None, judgement: rules.Judgement) -> bool | None:
    if judgement.on_time is None:
        return current_value
    return judgement.on_time if current_value is None else current_value and judgement.on_time


async def publications(session: AsyncSession, level: UnitKind, period: Period, judged: date,
                       config: CatalogRules, calendar: Calendar, only: str | None = None,
                       agencies: frozenset[str] | None = None,
                       ) -> dict[str, dict[str, Publication]]:
    """Unit → procedure → how its versions published in the period were judged."""
    key = KEY_COLUMN[level]
    rows = await session.execute(
        select(key, CV.procedure_code, CV.version, CV.name_vi, CV.published_day,
               CV.decision_date, CV.valid_from).distinct()
        .select_from(CA)
        .join(CV, and_(CV.procedure_code == CA.procedure_code, CV.version == CA.version))
        .where(CV.status == "published", CV.published_day >= period.start,
               CV.published_day <= judged, CV.occurred_day <= judged,
               *_unit_filter(level, only, agencies))
        .order_by(key, CV.procedure_code, CV.version))
    out: dict[str, dict[str, Publication]] = defaultdict(dict)
    for unit, code, version, name, published_day, decision, valid_from in rows.all():
        p = out[unit].setdefault(code, Publication(code))
        p.name_vi = name
        announced = rules.announced(calendar, config, decision, valid_from)
        published = rules.published(calendar, config, decision, published_day)
        p.announced = _combine(p.announced, announced)
        p.published = _combine(p.published, published)
        for item, j in (("announced", announced), ("published", published)):
            if j.on_time is False:
                p.late[item] = (version, j)
    return dict(out)


@dataclass(frozen=True)
class Entry:
    """One procedure of a unit's catalog on the judging day."""

    procedure_code: str
    version: int
    name_vi: str
    online: bool
    missing_content: list[Any]
    online_used: bool
    agencies: list[str]


async def entries(session: AsyncSession, level: UnitKind, unit: str, period: Period,
                  judged: date, agencies: frozenset[str] | None = None,
                  used_online: Set[str] | None = None) -> list[Entry]:
    """The unit's catalog on the judging day, one entry per procedure (drill-down).

    ``used_online``: the procedures with an online dossier received in the unit in the
    period (from the index aggregates); None looks for one in the facts."""
    used = _used_online(level, period, judged) if used_online is None else \
        CA.procedure_code.in_(sorted(used_online))
    rows = await session.execute(_current_rows(
        level, period, judged, unit, agencies, CA.procedure_code, CV.version, CV.name_vi,
        CV.online, CV.missing_content, CA.agency_code,
        case((and_(CV.online, used), 1), else_=0)).order_by(CA.procedure_code, CA.agency_code))
    found: dict[str, Entry] = {}
    for code, version, name, online, missing, agency, is_used in rows.all():
        entry = found.get(code)
        if entry is None:
            found[code] = Entry(code, version, name, bool(online), list(missing or []),
                                bool(is_used), [agency])
        else:
            entry.agencies.append(agency)
            if is_used and not entry.online_used:
                found[code] = Entry(code, version, name, entry.online, entry.missing_content,
                                    True, entry.agencies)
    return list(found.values())


async def units_in_province(session: AsyncSession, level: UnitKind, province: str) -> set[str]:
    """Units of ``level`` that have catalog entries in ``province``."""
    key = KEY_COLUMN[level]
    rows = await session.scalars(select(key).where(CA.province_code == province).distinct())
    return {r for r in rows.all() if r is not None}
