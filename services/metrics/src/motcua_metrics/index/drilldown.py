"""Drill-down: for an item, the dossiers or procedures that cost points, and why.

``agencies`` narrows the rows to those agencies' dossiers and catalog entries (an
officer's view of a province or commune); the item's figures stay the unit's.

**From the index aggregates** (:func:`drilldown`, when they are built for the
configuration; :func:`drilldown_from_facts` is the former computation, kept as the
reference and used otherwise). A page costs about the same whatever the size of the
unit and period:

* the *total* of a dossier item is read from the aggregates of the unit (narrowed to the
  agencies): settlement = late + overdue, reception satisfaction = late + overdue +
  disliked less those counted twice, not synced = received − synced …; the procedure
  items come whole from the per-procedure counts;
* the *rows*, in dossier-code order as before, are read from the facts in *streams*:
  the unit's (a province's, else each agency's) dossiers received on one day of the
  period; finished on one day but received before the period (carried over);
  unfinished and received before it; finished before they were received (clock skew)
  or with a result but never received — each one an index in dossier-code order
  (``ix_dossier_fact_*_received_code``, ``ix_dossier_fact_finish_*_code``, the partial
  ``*_skewed`` and, for the sync item, ``*_unsynced``). The first code of every stream
  is looked up first (one index step each); then streams are read in the order of their
  first code,
  each only below the last code of the page found so far, until the next stream starts
  after it (nothing further can enter the page) or the total is reached. Dossier codes
  usually follow days (``<agency>-YYMMDD-nnnn``), so a page comes from a few streams;
  with any other codes the answer is the same, only slower.

Codes are compared in Python, so the fast path needs the database to order
``dossier_code`` by code point (SQLite always; PostgreSQL with a ``C`` collation, e.g.
``C.UTF-8``). Otherwise, for a period that starts after its judging day, or while the
aggregates are not built, the rows come from :func:`drilldown_from_facts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Date, String, and_, bindparam, func, not_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from motcua.calendar import Calendar
from motcua.logging import get_logger
from motcua_metrics.catalog import service as catalog
from motcua_metrics.facts.models import SKEWED, UNSYNCED
from motcua_metrics.facts.models import DossierFact as F
from motcua_metrics.index import aggregates as agg
from motcua_metrics.index import service
from motcua_metrics.index.config import IndexConfig
from motcua_metrics.index.models import OPEN, TALLY
from motcua_metrics.index.periods import Period, Unit

log = get_logger("motcua_metrics.drilldown")

CHANNEL: dict[str | None, tuple[str, str]] = {
    "direct": ("nộp trực tiếp", "submitted at the desk"),
    "postal": ("nộp qua bưu chính", "submitted by post"),
    None: ("chưa rõ kênh nộp", "channel unknown"),
}


@dataclass(frozen=True)
class _Spec:
    kind: str  # "dossier", "procedure" or "catalog"
    scope: str  # "settlement", "received", "results"
    #: Dossier items: settlement conditions → SQL condition of a row that costs points.
    #: Procedure items: what a procedure needs at least one dossier with.
    condition: Any


def _specs(config: IndexConfig) -> dict[str, _Spec]:
    disliked = or_(F.complaint, F.rating <= config.dislike_max_score)
    population = or_(F.population_verified, F.vneid_verified)
    return {
        "progress.settlement": _Spec("dossier", "settlement",
                                     lambda c: or_(and_(c["finished"], F.outcome == "late"),
                                                   c["overdue"])),
        "satisfaction.reception": _Spec("dossier", "settlement",
                                        lambda c: or_(and_(c["finished"], F.outcome == "late"),
                                                      c["overdue"], disliked)),
        "publicity.dossiers_synced": _Spec("dossier", "received",
                                           lambda c: not_(F.national_synced)),
        "online.online_dossiers": _Spec("dossier", "received", lambda c: or_(
            F.channel.is_(None), F.channel != "online", not_(F.national_synced))),
        "digitisation.electronic_result": _Spec("dossier", "results",
                                                lambda c: not_(F.electronic_result)),
        "digitisation.digitised_dossier_and_result": _Spec(
            "dossier", "results", lambda c: not_(and_(F.digitised, F.electronic_result))),
        "digitisation.reuse": _Spec("dossier", "received", lambda c: not_(F.reused)),
        "digitisation.national_store": _Spec("dossier", "received", lambda c: not_(
            or_(F.from_national_store, F.electronic_result))),
        "digitisation.population_data": _Spec("dossier", "received",
                                              lambda c: not_(population)),
        "payment.dossiers_paid_online": _Spec("dossier", "received",
                                              lambda c: and_(F.has_fees, not_(F.paid_online))),
        "digitisation.population_data_procedures": _Spec("procedure", "received", population),
        "payment.procedures_paid_online": _Spec("procedure", "received",
                                                and_(F.has_fees, F.paid_online)),
        "payment.fee_data_synced": _Spec("procedure", "received",
                                         and_(F.has_fees, F.fee_data_synced)),
        **{item: _Spec("catalog", "catalog", None) for item in service.CATALOG_ITEMS},
    }


#: Rows that cost a dossier item points, from the unit's counts (tallies ``t`` of the
#: period, open counts ``o`` on the judging day): the same conditions as :func:`_specs`.
_TOTALS: dict[str, Any] = {
    "progress.settlement": lambda t, o: t["late"] + o["open_overdue"],
    # late, overdue or disliked: each once (late and overdue never meet).
    "satisfaction.reception": lambda t, o: (
        t["late"] + o["open_overdue"] + t["finished_disliked"] + o["open_disliked"]
        - t["late_disliked"] - o["open_overdue_disliked"]),
    "publicity.dossiers_synced": lambda t, o: t["received"] - t["synced"],
    "online.online_dossiers": lambda t, o: t["received"] - t["online_synced"],
    "digitisation.electronic_result": lambda t, o: t["results"] - t["electronic"],
    "digitisation.digitised_dossier_and_result":
        lambda t, o: t["results"] - t["digitised_result"],
    "digitisation.reuse": lambda t, o: t["received"] - t["reused"],
    "digitisation.national_store": lambda t, o: t["received"] - t["store"],
    "digitisation.population_data": lambda t, o: t["received"] - t["population"],
    "payment.dossiers_paid_online": lambda t, o: t["with_fees"] - t["paid_online"],
}
#: Procedure items: the count a procedure needs above zero, and whether only procedures
#: with fee dossiers are judged.
_PROCEDURE_GOOD = {
    "digitisation.population_data_procedures": ("population", False),
    "payment.procedures_paid_online": ("paid_online", True),
    "payment.fee_data_synced": ("fee_synced", True),
}
_PROCEDURE_REASON = {
    "digitisation.population_data_procedures": (
        "Không hồ sơ nào sử dụng dữ liệu dân cư.", "No dossier used population data."),
    "payment.procedures_paid_online": (
        "Không có giao dịch thanh toán trực tuyến.", "No online payment."),
    "payment.fee_data_synced": (
        "Chưa đồng bộ dữ liệu phí, lệ phí.", "Fee data not synced."),
}


def _base(config: IndexConfig, doc: dict[str, Any], item_id: str, limit: int, offset: int,
          agencies: frozenset[str] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    item = next(i for g in doc["groups"] for i in g["items"] if i["id"] == item_id)
    base = {"config_version": config.version, "unit": doc["unit"], "period": doc["period"],
            "item": {k: item[k] for k in ("id", "name", "max", "threshold", "available",
                                          "ratio", "points", "lost", "reason")},
            "total": 0, "limit": limit, "offset": offset, "rows": []}
    if agencies is not None:
        base["narrowed_to"] = sorted(agencies)
    return base, item


_FULL_MARKS = {"vi": "Đạt điểm tối đa: không có hồ sơ nào làm mất điểm.",
               "en": "Full marks: nothing cost points."}


async def drilldown(session: AsyncSession, config: IndexConfig, calendar: Calendar, unit: Unit,
                    period: Period, today: date, item_id: str, *, limit: int = 100,
                    offset: int = 0, agencies: frozenset[str] | None = None,
                    doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """What cost ``item_id`` its points for ``unit`` in ``period`` (one page of it).

    ``agencies`` narrows the rows (None: every agency of the unit); ``doc`` is the unit's
    index document when the caller already has it. ``limit`` 0: the total only.
    """
    if doc is None:
        doc = await service.index_document(session, config, calendar, unit, period, today)
    base, item = _base(config, doc, item_id, limit, offset, agencies)
    spec = _specs(config).get(item_id)
    if not item["available"] or spec is None:
        return base
    if not item["lost"]:
        return base | {"note": _FULL_MARKS}
    judged = period.judged_on(today)
    if spec.kind == "catalog":
        assert config.catalog is not None  # the item is available
        rows = await _catalog_rows(session, config, calendar, unit, period, judged, item_id,
                                   agencies)
        return base | {"total": len(rows), "rows": rows[offset:offset + limit]}
    found = await _from_aggregates(session, config, calendar, unit, period, judged, item_id,
                                   spec, limit, offset, agencies)
    if found is None:
        found = await _from_facts(session, config, calendar, unit, period, judged, item_id,
                                  spec, limit, offset, agencies)
    return base | found


async def drilldown_from_facts(session: AsyncSession, config: IndexConfig,
                               calendar: Calendar, unit: Unit, period: Period, today: date,
                               item_id: str, *, limit: int = 100, offset: int = 0,
                               agencies: frozenset[str] | None = None,
                               doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """:func:`drilldown` with the total and rows counted from the unit's facts (the
    reference: slow for a large unit; the fast path must answer the same)."""
    if doc is None:
        doc = await service.index_document(session, config, calendar, unit, period, today)
    base, item = _base(config, doc, item_id, limit, offset, agencies)
    spec = _specs(config).get(item_id)
    if not item["available"] or spec is None:
        return base
    if not item["lost"]:
        return base | {"note": _FULL_MARKS}
    judged = period.judged_on(today)
    if spec.kind == "catalog":
        assert config.catalog is not None
        rows = await _catalog_rows(session, config, calendar, unit, period, judged, item_id,
                                   agencies, fast=False)
        return base | {"total": len(rows), "rows": rows[offset:offset + limit]}
    return base | await _from_facts(session, config, calendar, unit, period, judged, item_id,
                                    spec, limit, offset, agencies)


def _scopes(period: Period, judged: date, c: dict[str, ColumnElement[bool]],
            ) -> dict[str, ColumnElement[bool]]:
    return {
        "settlement": c["scope"],
        "received": and_(F.received_day >= period.start, F.received_day <= judged),
        "results": and_(F.finish_status.in_((9, 10)), F.finish_day >= period.start,
                        F.finish_day <= judged),
    }


async def _from_facts(session: AsyncSession, config: IndexConfig, calendar: Calendar,
                      unit: Unit, period: Period, judged: date, item_id: str, spec: _Spec,
                      limit: int, offset: int, agencies: frozenset[str] | None,
                      ) -> dict[str, Any]:
    """The total and the page counted from the unit's facts in the scope."""
    c = service.settlement_conditions(period.start, judged, config.max_supplement_requests)
    scopes = _scopes(period, judged, c)
    unit_cond = service.KEY_COLUMN[unit.kind] == unit.code
    if agencies is not None:
        unit_cond = and_(unit_cond, F.agency_code.in_(sorted(agencies)))
    if spec.kind == "procedure":
        return await _procedures(session, item_id, spec, scopes[spec.scope], unit_cond,
                                 limit, offset)
    bad: ColumnElement[bool] = spec.condition(c)
    where = [scopes[spec.scope], unit_cond, bad]
    total = int(await session.scalar(select(func.count()).select_from(F).where(*where)))
    facts = (await session.scalars(select(F).where(*where).order_by(F.dossier_code)
                                   .limit(limit).offset(offset))).all() if limit else []
    return {"total": total, "rows": _dossier_rows(item_id, list(facts), judged, calendar,
                                                  config)}


async def _procedures(session: AsyncSession, item_id: str, spec: _Spec,
                      scope: ColumnElement[bool], unit_cond: ColumnElement[bool], limit: int,
                      offset: int) -> dict[str, Any]:
    good = service._any(spec.condition)
    fees = service._any(F.has_fees)
    query = (select(F.procedure_code, func.count(), good, fees)
             .where(scope, unit_cond, F.procedure_code.is_not(None))
             .group_by(F.procedure_code).order_by(F.procedure_code))
    rows = []
    for code, n, ok, has_fees in (await session.execute(query)).all():
        if ok or (item_id.startswith("payment.") and not has_fees):
            continue
        rows.append(_procedure_dossiers_row(item_id, code, n))
    return {"total": len(rows), "rows": rows[offset:offset + limit]}


def _procedure_dossiers_row(item_id: str, code: str, dossiers: int) -> dict[str, Any]:
    reason = _PROCEDURE_REASON[item_id]
    return {"procedure_code": code, "dossiers": dossiers, "reason_code": item_id,
            "reason": {"vi": reason[0], "en": reason[1]}}


# ---------------------------------------------------------------------------------------
# From the index aggregates


async def _from_aggregates(session: AsyncSession, config: IndexConfig, calendar: Calendar,
                           unit: Unit, period: Period, judged: date,
                           item_id: str, spec: _Spec, limit: int, offset: int,
                           agencies: frozenset[str] | None) -> dict[str, Any] | None:
    """The total and the page from the aggregates and the streams (module docstring);
    None when this path cannot answer exactly."""
    if period.start > judged or not await _orders_by_code_point(session):
        return None
    reading = await agg.read(session, unit.kind, period.start, judged,
                             agg.Params.of(config), unit.code,
                             today=judged if judged < period.end else None,
                             agencies=agencies)
    if reading is None:
        service.warn_from_facts("drilldown_from_facts")
        return None
    per_procedure = reading.tallies.get(unit.code, {})
    if spec.kind == "procedure":
        field, fees_only = _PROCEDURE_GOOD[item_id]
        good, received, with_fees = (TALLY.index(field), TALLY.index("received"),
                                     TALLY.index("with_fees"))
        rows = [_procedure_dossiers_row(item_id, code, c[received])
                for code, c in sorted((p, c) for p, c in per_procedure.items()
                                      if p is not None and c[received])
                if not c[good] and not (fees_only and not c[with_fees])]
        return {"total": len(rows), "rows": rows[offset:offset + limit]}
    tallies = [sum(column) for column in zip(*per_procedure.values(), strict=True)] \
        if per_procedure else [0] * len(TALLY)
    opened = reading.opened.get(unit.code, [0] * len(OPEN))
    total = int(_TOTALS[item_id](dict(zip(TALLY, tallies, strict=True)),
                                 dict(zip(OPEN, opened, strict=True))))
    if not limit or offset >= total:
        return {"total": total, "rows": []}
    c = service.settlement_conditions(period.start, judged, config.max_supplement_requests)
    codes = await _Streams(session, unit, agencies, period.start, judged, spec.scope,
                           spec.condition(c), unsynced=item_id == "publicity.dossiers_synced",
                           ).page(offset + limit, total)
    page = codes[offset:offset + limit]
    facts = {f.dossier_code: f for f in (await session.execute(
        select(F.__table__).where(F.dossier_code.in_(page)))).all()} if page else {}
    return {"total": total, "rows": _dossier_rows(item_id, [facts[code] for code in page],
                                                  judged, calendar, config)}


#: Whether a database orders ``dossier_code`` by code point, per database URL.
_CODE_POINT_ORDER: dict[str, bool] = {}
#: Strings that sort differently under the usual locales (case, punctuation, accents).
_ORDER_PROBE = ("000.01.17.H56-260301-0001", "000.01.17.H56-2603010001", "000.0117.H56",
                "000-01", "000.01", "000_01", "0001", "A", "B", "a", "b", "a b", "ab",
                "ä", "Z", "-", ".", "H56.17", "h56.17")


async def _orders_by_code_point(session: AsyncSession) -> bool:
    """Whether ``ORDER BY dossier_code`` is Python's string order (code points)."""
    bind = session.bind
    if bind.dialect.name != "postgresql":
        return True  # SQLite: BINARY, UTF-8 bytes in code-point order
    key = str(bind.url)
    if key not in _CODE_POINT_ORDER:
        collation = await session.scalar(text(
            "SELECT collation_name FROM information_schema.columns WHERE table_name = "
            "'dossier_fact' AND column_name = 'dossier_code' AND table_schema = "
            "current_schema()"))
        probe = [str(v) for v in await session.scalar(text(
            "SELECT array_agg(v ORDER BY v) FROM unnest(CAST(:values AS varchar[])) AS v"),
            {"values": list(_ORDER_PROBE)})]
        ok = collation in (None, "C", "POSIX") and probe == sorted(_ORDER_PROBE)
        _CODE_POINT_ORDER[key] = ok
        if not ok:
            log.warning("drilldown_from_facts", reason="dossier_code is not ordered by code "
                        "point (database collation): drill-down rows are counted from the "
                        "facts", collation=collation)
    return _CODE_POINT_ORDER[key]


@dataclass(frozen=True)
class _Stream:
    """Facts of one key (agency or province) and one day, read in dossier-code order."""

    head: str  # the stream's first dossier code
    kind: str  # one of :data:`_KINDS`
    key: str
    day: date | None


#: Streams: which index, and which of its facts (a day's, ``:d``, or none).
_KINDS = {
    "r": ("received", "received_day = :d"),  # received that day (in the period)
    "f": ("finish", "finish_day = :d AND received_day < :s"),  # finished that day, received
    # before the period (its first code is that of all the day's facts: one index step)
    "n": ("finish", "finish_day IS NULL AND received_day < :s"),  # unfinished, same
    "g": ("skewed", f"({SKEWED}) AND finish_day >= :s AND finish_day <= :e AND "
                    f"(received_day > :e OR received_day IS NULL)"),  # results, received
    # after the period or never
}
_DATE = Date()
#: Streams read together at most (one statement).
_BATCH_MAX = 256


class _Streams:
    """The rows of one dossier item, in dossier-code order (module docstring)."""

    def __init__(self, session: AsyncSession, unit: Unit, agencies: frozenset[str] | None,
                 start: date, judged: date, scope: str, bad: ColumnElement[bool], *,
                 unsynced: bool = False) -> None:
        self.session = session
        #: Rows only among the facts not synced (few: their own index).
        self.unsynced = unsynced
        self.unit = unit
        self.agencies = agencies
        self.start, self.judged = start, judged
        self.scope = scope
        self.postgres = session.bind.dialect.name == "postgresql"
        dialect = session.bind.dialect

        def sql(condition: ColumnElement[bool]) -> str:
            compiled = condition.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
            return str(compiled).replace(":", r"\:")  # no bind parameter inside a literal

        self.bad = sql(bad)
        s, e = self.start, self.judged
        result = sql(F.finish_status.in_((9, 10)))
        # The scope's streams and what their facts must also satisfy to be in it (the
        # stream's kind and day decide the rest).
        self.member = {
            "received": {"r": "1 = 1"},
            "results": {"r": sql(and_(F.finish_status.in_((9, 10)), F.finish_day >= s,
                                      F.finish_day <= e)),
                        "f": result, "g": result},
            "settlement": {"r": sql(or_(F.finish_day.is_(None), F.finish_day >= s)),
                           "f": "1 = 1", "n": "1 = 1"},
        }[scope]

    async def _keys(self) -> tuple[str, list[str], str | None]:
        """(key column, keys, extra unit condition)."""
        unit, agencies = self.unit, self.agencies
        if agencies is None and unit.kind in ("province", "agency"):
            return f"{unit.kind}_code", [unit.code], None
        if agencies is None:
            found = await agg.agencies_of(self.session, unit.kind, unit.code)
        elif unit.kind == "agency":
            found = {unit.code} & agencies
        else:
            found = set(agencies)
        extra = None if unit.kind == "agency" else f"{unit.kind}_code = :unit"
        return "agency_code", sorted(found), extra

    async def page(self, need: int, total: int) -> list[str]:
        """The first ``need`` codes of the rows (there are ``total``)."""
        column, keys, extra = await self._keys()
        streams: list[_Stream] = []
        for key in keys:
            streams += await self._heads(column, key)
        streams.sort(key=lambda s: s.head)
        found: list[str] = []
        seen = i = 0
        size = 1
        while i < len(streams) and seen < total:
            bound = found[need - 1] if len(found) >= need else None
            batch: list[_Stream] = []
            while i < len(streams) and len(batch) < size and (
                    bound is None or streams[i].head < bound):
                batch.append(streams[i])
                i += 1
            if not batch:
                break  # every other stream starts after the page's last code
            codes = await self._read(column, extra, batch, bound, need)
            seen += len(codes)
            found = sorted(found + codes)[:need]
            size = min(size * 2, _BATCH_MAX)
        return found

    def _table(self, column: str, index: str) -> str:
        """``dossier_fact`` read through the stream index (:data:`_KINDS`) of ``column``.

        SQLite is told which index: without statistics (deployments never ANALYZE) it may
        prefer a range on the other day (a unit's whole history) and sort it."""
        if self.postgres:
            return "dossier_fact"
        unit = column.removesuffix("_code")
        name = {"received": f"{unit}_unsynced" if self.unsynced else f"{unit}_received_code",
                "finish": f"finish_{unit}_code", "skewed": f"{unit}_skewed"}[index]
        return f"dossier_fact INDEXED BY ix_dossier_fact_{name}"

    def _from(self, kind: str, column: str, day: str, *, heads: bool = False) -> str:
        """FROM and WHERE of the stream of ``kind`` of key ``:k`` and day ``day``, in
        dossier-code order (``heads``: its first code — the day's first, for "f" and
        "n": one index step, a lower bound of the stream's)."""
        index, where = _KINDS[kind]
        if heads and kind in ("f", "n"):
            where = where.split(" AND received_day")[0]
        where = where.replace(":d", day)
        if self.unsynced and index == "received":
            where += f" AND {UNSYNCED}"  # (as the partial index says it)
        # (ordered by the finish day too: PostgreSQL takes "finish_day IS NULL" for no
        # constant, and would rather walk the primary key)
        order = "finish_day, dossier_code" if kind == "n" else "dossier_code"
        return f"FROM {self._table(column, index)} WHERE {where} AND {column} = :k " \
            f"{{extra}}ORDER BY {order}"

    async def _heads(self, column: str, key: str) -> list[_Stream]:
        """Every stream of ``key`` with its first code (one index step per day)."""
        params: dict[str, Any] = {"k": key, "s": self.start, "e": self.judged}
        ctes = [self._days("r", ":e")]
        selects = [self._first("r", column, "r")]
        if self.scope != "received":
            # Carried over (received before the period): none without an earlier dossier.
            earlier = (f"(SELECT received_day FROM {self._table(column, 'received')} WHERE "
                       f"{column} = :k AND received_day < :s ORDER BY received_day LIMIT 1) "
                       f"IS NOT NULL")
            last = ":e" if self.scope == "results" else \
                f"(SELECT MAX(finish_day) FROM {self._table(column, 'finish')})"
            ctes.append(self._days("d", f"CASE WHEN {earlier} THEN {last} END"))
            selects.append(self._first("f", column, "d"))
            kind = "n" if self.scope == "settlement" else "g"
            first = f"(SELECT dossier_code {self._from(kind, column, '', heads=True)} LIMIT 1)"
            if kind == "n":
                first = f"CASE WHEN {earlier} THEN {first} END"
            selects.append(f"SELECT '{kind}' AS kind, NULL AS day, "
                           f"{first.format(extra='')} AS head")
        statement = text(f"WITH RECURSIVE {', '.join(ctes)} {' UNION ALL '.join(selects)}")
        statement = statement.bindparams(bindparam("s", type_=_DATE),
                                         bindparam("e", type_=_DATE)).columns(
            kind=String, day=Date, head=String)
        rows = (await self.session.execute(statement, params)).all()
        return [_Stream(head, kind, key, day) for kind, day, head in rows if head is not None]

    def _days(self, name: str, last: str) -> str:
        """A CTE of every calendar day from the period's start to ``last`` (none if it is
        NULL): each day's first code is then one index step (the days of a unit could be
        skipped through too, but planners walk a day index filtering other units out)."""
        if self.postgres:
            return (f"{name}(day) AS (SELECT CAST(g AS date) FROM generate_series(CAST(:s AS "
                    f"date), CAST({last} AS date), interval '1 day') AS g)")
        return (f"{name}(day) AS (SELECT :s WHERE :s <= {last} UNION ALL SELECT date(day, "
                f"'+1 day') FROM {name} WHERE day < {last})")

    def _first(self, kind: str, column: str, days: str) -> str:
        """The first code of each day's stream of ``kind``."""
        source = self._from(kind, column, f"{days}.day", heads=True).format(extra="")
        return (f"SELECT '{kind}' AS kind, day, (SELECT dossier_code {source} LIMIT 1) AS "
                f"head FROM {days} WHERE day IS NOT NULL")

    async def _read(self, column: str, extra: str | None, batch: list[_Stream],
                    bound: str | None, need: int) -> list[str]:
        """The first ``need`` codes (below ``bound``) of the rows of the streams.

        Without a bound each stream is read up to ``need`` rows; with one, the streams
        of a kind and key are read together (their days in one list: below the bound
        few rows are left, and a short statement is cheaper to build than one per day).
        """
        params: dict[str, Any] = {"n": need}
        binds = []
        also = [f"({self.bad})"]
        if extra is not None:
            params["unit"] = self.unit.code
            also.append(extra)
        if bound is not None:
            params["b"] = bound
            also.append("dossier_code < :b")
        groups: dict[tuple[str, str], list[_Stream]] = {}
        for j, stream in enumerate(batch):
            key = (stream.kind, stream.key) if bound is not None else (stream.kind, str(j))
            groups.setdefault(key, []).append(stream)
        parts = []
        for j, ((kind, _), streams) in enumerate(groups.items()):
            params[f"k{j}"] = streams[0].key
            source = self._from(kind, column, f":d{j}").replace(":k ", f":k{j} ")
            if streams[0].day is not None:
                params[f"d{j}"] = [stream.day for stream in streams]
                binds.append(bindparam(f"d{j}", expanding=True, type_=_DATE))
                source = source.replace(f"= :d{j}", f"IN :d{j}")
            conditions = " AND ".join([f"({self.member[kind]})", *also])
            parts.append(f"SELECT dossier_code FROM (SELECT dossier_code "
                         f"{source.format(extra=f'AND {conditions} ')} LIMIT :n) AS s{j}")
        sql = " UNION ALL ".join(parts)
        for name, value in (("s", self.start), ("e", self.judged)):
            if re.search(rf"(?<![:\w\\]):{name}\b", sql):  # (as text() finds them)
                params[name] = value
                binds.append(bindparam(name, type_=_DATE))
        statement = text(sql).bindparams(*binds)
        return list((await self.session.execute(statement, params)).scalars().all())


async def _catalog_rows(session: AsyncSession, config: IndexConfig, calendar: Calendar,
                        unit: Unit, period: Period, judged: date, item_id: str,
                        agencies: frozenset[str] | None, *, fast: bool = True,
                        ) -> list[dict[str, Any]]:
    """Procedures that cost a catalog item points, and why.

    ``fast``: which procedures got online dossiers comes from the index aggregates (when
    built), not from the facts."""
    rows: list[dict[str, Any]] = []
    if item_id in ("publicity.published_on_time", "publicity.database_on_time"):
        which = "announced" if item_id == "publicity.published_on_time" else "published"
        assert config.catalog is not None
        found = await catalog.publications(session, unit.kind, period, judged, config.catalog,
                                           calendar, only=unit.code, agencies=agencies)
        for p in sorted(found.get(unit.code, {}).values(), key=lambda p: p.procedure_code):
            if which not in p.late:
                continue
            version, judgement = p.late[which]
            assert judgement.reason is not None
            rows.append(_procedure_row(p.procedure_code, version, p.name_vi,
                                       judgement.reason_code or which, judgement.reason))
        return rows
    used: set[str] | None = None
    if fast and item_id != "online.procedures_with_online_dossiers":
        used = set()  # not asked
    elif fast and period.start <= judged:
        reading = await agg.read(session, unit.kind, period.start, judged,
                                 agg.Params.of(config), unit.code,
                                 today=judged if judged < period.end else None)
        if reading is not None:  # the unit's, whatever the narrowing (as the index)
            online = TALLY.index("online")
            used = {p for p, c in reading.tallies.get(unit.code, {}).items()
                    if p is not None and c[online]}
    for e in await catalog.entries(session, unit.kind, unit.code, period, judged, agencies,
                                   used_online=used):
        if item_id == "publicity.full_content" and e.missing_content:
            missing = ", ".join(str(m) for m in e.missing_content)
            rows.append(_procedure_row(e.procedure_code, e.version, e.name_vi,
                                       "missing_content", (
                                           f"Thiếu nội dung bắt buộc: {missing}.",
                                           f"Mandatory content missing: {missing}.")))
        elif item_id == "online.procedures_online" and not e.online:
            rows.append(_procedure_row(e.procedure_code, e.version, e.name_vi, "not_online", (
                "Không cung cấp dịch vụ công trực tuyến.", "Offers no online service.")))
        elif (item_id == "online.procedures_with_online_dossiers" and e.online
              and not e.online_used):
            rows.append(_procedure_row(
                e.procedure_code, e.version, e.name_vi, "no_online_dossiers", (
                    "Có dịch vụ công trực tuyến nhưng không phát sinh hồ sơ trực tuyến trong "
                    "kỳ.", "Offers an online service but received no online dossier in the "
                           "period.")))
    return rows


def _procedure_row(code: str, version: int, name_vi: str, reason_code: str,
                   reason: tuple[str, str]) -> dict[str, Any]:
    return {"procedure_code": code, "procedure_version": version, "name_vi": name_vi,
            "reason_code": reason_code, "reason": {"vi": reason[0], "en": reason[1]}}


class _WorkingDays:
    """Working days between two dates, counted once per day for a whole page (a row
    overdue for a year would otherwise walk the calendar a year's worth of days)."""

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self.first: date | None = None
        self.before: list[int] = [0]  # working days from ``first`` up to each day, excluded

    def between(self, first: date, last: date) -> int:
        """Working days from ``first`` to ``last``, both included."""
        if last < first:
            return 0
        if self.first is None or first < self.first:
            self.first, self.before = first, [0]
        assert self.first is not None
        while len(self.before) <= (last - self.first).days + 1:
            day = self.first + timedelta(days=len(self.before) - 1)
            self.before.append(self.before[-1] + self.calendar.is_working_day(day))
        return self.before[(last - self.first).days + 1] - self.before[
            (first - self.first).days]


def _late_days(days: _WorkingDays, due: date | None, until: date | None) -> int | None:
    if due is None or until is None or until <= due:
        return None
    return days.between(due + timedelta(days=1), until)


def _dossier_rows(item_id: str, facts: list[Any], judged: date, calendar: Calendar,
                  config: IndexConfig) -> list[dict[str, Any]]:
    days = _WorkingDays(calendar)
    return [_dossier_row(item_id, f, judged, days, config) for f in facts]


def _dossier_row(item_id: str, f: Any, judged: date, days: _WorkingDays,
                 config: IndexConfig) -> dict[str, Any]:
    reasons: list[tuple[str, str, str]] = []
    finished = f.finish_day is not None and f.finish_day <= judged
    if item_id in ("progress.settlement", "satisfaction.reception"):
        if f.supplement_count > config.max_supplement_requests:
            reasons.append(("supplements", f"Yêu cầu bổ sung {f.supplement_count} lần (> 1).",
                            f"{f.supplement_count} supplement requests (more than one)."))
        if finished and f.outcome == "late":
            late = _late_days(days, f.due_day, f.finish_day)
            if late:
                reasons.append(("late", f"Trễ hạn {late} ngày làm việc (hẹn {f.due_day}, "
                                        f"xong {f.finish_day}).",
                                f"Late by {late} working day(s) (due {f.due_day}, finished "
                                f"{f.finish_day})."))
        elif not finished and (f.finish_day is None or f.finish_day > judged):
            late = _late_days(days, f.due_day, judged)
            if late and f.open_pause_day is None:
                reasons.append(("overdue", f"Quá hạn {late} ngày làm việc tại {judged} "
                                           f"(hẹn {f.due_day}), chưa giải quyết xong.",
                                f"Overdue by {late} working day(s) on {judged} (due "
                                f"{f.due_day}), not finished."))
            elif f.open_pause_day is not None and f.due_day and f.open_pause_day > f.due_day:
                reasons.append(("overdue", f"Đã quá hạn khi yêu cầu bổ sung ({f.open_pause_day}).",
                                f"Already overdue when the supplement was requested "
                                f"({f.open_pause_day})."))
        if reasons and f.extended:
            reasons.append(("extended", "Đã gia hạn (xin lỗi) một lần; hạn ban đầu vẫn được "
                                        "dùng để đánh giá.",
                            "Extended once with an apology; the original due date still "
                            "counts."))
        if item_id == "satisfaction.reception":
            if f.complaint:
                reasons.append(("complaint", "Có khiếu nại.", "Complaint filed."))
            if f.rating is not None and f.rating <= config.dislike_max_score:
                reasons.append(("dislike", f"Đánh giá {f.rating}/5 (không hài lòng).",
                                f"Rated {f.rating}/5 (dissatisfied)."))
    elif item_id == "publicity.dossiers_synced":
        problem = f.national_problem or "national sync disabled"
        reasons.append(("not_synced", f"Chưa đồng bộ: {problem}.", f"Not synced: {problem}."))
    elif item_id == "online.online_dossiers":
        if f.channel != "online":
            vi, en = CHANNEL.get(f.channel, CHANNEL[None])
            reasons.append(("not_online", f"Hồ sơ {vi}.", f"Dossier {en}."))
        if not f.national_synced:
            reasons.append(("not_synced", "Chưa đồng bộ.", "Not synced."))
    elif item_id == "digitisation.electronic_result":
        reasons.append(("no_electronic_result", "Không có kết quả điện tử.",
                        "No electronic result."))
    elif item_id == "digitisation.digitised_dossier_and_result":
        if not f.digitised:
            reasons.append(("not_digitised", "Thành phần hồ sơ chưa được số hóa.",
                            "Components not digitised."))
        if not f.electronic_result:
            reasons.append(("no_electronic_result", "Không có kết quả điện tử.",
                            "No electronic result."))
    elif item_id == "digitisation.reuse":
        reasons.append(("not_reused", "Không tái sử dụng dữ liệu đã số hóa.",
                        "No digitised data reused."))
    elif item_id == "digitisation.national_store":
        reasons.append(("no_store", "Không khai thác hoặc đẩy dữ liệu vào kho của công dân.",
                        "Nothing taken from or pushed to the citizen's data store."))
    elif item_id == "digitisation.population_data":
        reasons.append(("no_population_data", "Không sử dụng dữ liệu dân cư / VNeID.",
                        "No population data or VNeID verification used."))
    elif item_id == "payment.dossiers_paid_online":
        if f.paid_at_desk:
            reasons.append(("paid_at_desk", "Nộp phí tại quầy (không trực tuyến).",
                            "Paid at the desk (not online)."))
        else:
            reasons.append(("not_paid_online", "Chưa thanh toán trực tuyến.", "Not paid online."))
    return {
        "dossier_code": f.dossier_code, "agency_code": f.agency_code,
        "procedure_code": f.procedure_code, "channel": f.channel,
        "received_day": f.received_day.isoformat() if f.received_day else None,
        "due_day": f.due_day.isoformat() if f.due_day else None,
        "finish_day": f.finish_day.isoformat() if f.finish_day else None,
        "supplement_count": f.supplement_count,
        "reason_code": ",".join(r[0] for r in reasons) or "other",
        "reason": {"vi": " ".join(r[1] for r in reasons), "en": " ".join(r[2] for r in reasons)},
    }
