"""The Decision 766 index (domain.md §6) for any unit and period, from dossier facts.

Scopes (business dates, period ``[S, E]`` with ``E`` = the period's end or today if
sooner — unfinished dossiers are judged on ``E``):

* **settlement scope** — received on or before ``E`` and not finished before ``S``
  (dossiers received or processed in the period). Finished by ``E`` → its outcome
  (early / on time / late); unfinished on ``E`` → *in process within time* when
  ``E`` is not after its effective due date (or its clock was stopped for a supplement
  before it fell due) and it had at most one supplement request; else *overdue*.
* **received in period** — received between ``S`` and ``E``: denominator of the sync,
  online, reuse, data-store, population and payment items.
* **results in period** — finished with a result (status 9 or 10) between ``S`` and
  ``E``: denominator of the electronic-result items.
* **catalog** — procedures of the unit's catalog on ``E`` and the versions published
  in the period (:mod:`motcua_metrics.catalog.service`): the publicity items (announced
  and published on time, full content) and the online-service items.

An item whose data the platform does not have, or whose denominator is empty, is
*not available*, says why, and is left out of ``max_available``; it never scores 0 or
full marks silently.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

from sqlalchemy import Integer, and_, case, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from motcua.calendar import Calendar
from motcua.logging import get_logger
from motcua_metrics.catalog import service as catalog
from motcua_metrics.facts.models import DossierFact as F
from motcua_metrics.index import aggregates as agg
from motcua_metrics.index.config import IndexConfig, ItemConfig
from motcua_metrics.index.periods import Period, Unit, UnitKind

log = get_logger("motcua_metrics.index")

Text = tuple[str, str]  # (vi, en)

NO_CATALOG: Text = (
    "Chưa có dữ liệu: không có TTHC nào của đơn vị được công bố trong danh mục (chưa có sự "
    "kiện công bố TTHC).",
    "Not available: no procedure of this unit is published in the catalog (no procedure "
    "publication events).")
NO_CATALOG_RULES: Text = (
    "Chưa có dữ liệu: phiên bản cấu hình chỉ số này chưa có quy tắc danh mục TTHC.",
    "Not available: this index configuration version has no catalog rules.")
NO_PUBLISHED: Text = ("Không có TTHC được công bố trong kỳ.",
                      "No procedures were published in the period.")
NO_DATES: Text = (
    "Chưa có dữ liệu: các TTHC công bố trong kỳ không có ngày quyết định công bố hoặc ngày "
    "hiệu lực.",
    "Not available: the procedures published in the period carry no decision date or "
    "effective date.")
NO_ONLINE_PROCEDURES: Text = ("Đơn vị không có TTHC cung cấp dịch vụ công trực tuyến.",
                              "No procedure of this unit offers an online service.")
NO_FEEDBACK: Text = (
    "Chưa có dữ liệu: nền tảng chưa có sự kiện phản ánh, kiến nghị.",
    "Not available: the platform has no feedback (phản ánh, kiến nghị) events.")
NO_CERTIFIED: Text = (
    "Chưa có dữ liệu: nền tảng chưa có sự kiện cấp bản sao điện tử có chứng thực.",
    "Not available: the platform has no electronic certified-copy events.")
NO_RECEIVED: Text = ("Không có hồ sơ tiếp nhận trong kỳ.", "No dossiers received in the period.")
NO_SETTLEMENT: Text = ("Không có hồ sơ tiếp nhận hoặc xử lý trong kỳ.",
                       "No dossiers received or processed in the period.")
NO_RESULTS: Text = ("Không có hồ sơ có kết quả trong kỳ.",
                    "No dossiers finished with a result in the period.")
NO_FEES: Text = ("Không có hồ sơ có phí, lệ phí trong kỳ.",
                 "No dossiers with fees in the period.")
NO_FEE_PROCEDURES: Text = ("Không có TTHC có phí, lệ phí phát sinh hồ sơ trong kỳ.",
                           "No fee procedures with dossiers in the period.")
NO_PROCEDURES: Text = ("Không có TTHC phát sinh hồ sơ trong kỳ.",
                       "No procedures with dossiers in the period.")

#: Items computed from the procedure catalog.
CATALOG_ITEMS = ("publicity.published_on_time", "publicity.database_on_time",
                 "publicity.full_content", "online.procedures_online",
                 "online.procedures_with_online_dossiers")


KEY_COLUMN: dict[UnitKind, Any] = {
    "province": F.province_code, "agency": F.agency_code, "commune": F.commune_code}


@dataclass
class Aggregates:
    """Counts of one unit in one period, read with a few grouped queries."""

    settlement: int = 0
    early: int = 0
    on_time: int = 0
    late_finished: int = 0
    within: int = 0
    overdue: int = 0
    disliked: int = 0
    received: int = 0
    online: int = 0
    synced: int = 0
    reused: int = 0
    store: int = 0
    population: int = 0
    with_fees: int = 0
    paid_online: int = 0
    results: int = 0
    electronic_result: int = 0
    digitised_and_result: int = 0
    procedures: int = 0
    procedures_population: int = 0
    fee_procedures: int = 0
    fee_procedures_paid_online: int = 0
    fee_procedures_synced: int = 0
    rated: int = 0
    catalog: catalog.CatalogCounts = field(default_factory=catalog.CatalogCounts)


def _sum(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _any(condition: ColumnElement[bool]) -> Any:
    return func.max(case((condition, 1), else_=0))


def settlement_conditions(start: date, judged: date, max_supplements: int,
                          ) -> dict[str, ColumnElement[bool]]:
    """SQL conditions of the settlement classification (see the module docstring)."""
    scope = and_(F.received_day.is_not(None), F.received_day <= judged,
                 or_(F.finish_day.is_(None), F.finish_day >= start))
    finished = and_(F.finish_day.is_not(None), F.finish_day <= judged)
    unfinished = or_(F.finish_day.is_(None), F.finish_day > judged)
    stopped = and_(F.open_pause_day.is_not(None), F.open_pause_day <= judged)
    within = and_(unfinished, F.supplement_count <= max_supplements, or_(
        and_(stopped, F.open_pause_day <= F.due_day),
        and_(not_(stopped), F.due_day >= judged)))
    return {"scope": scope, "finished": finished, "unfinished": unfinished, "within": within,
            "overdue": and_(unfinished, not_(within))}


async def aggregates(session: AsyncSession, level: UnitKind, period: Period, judged: date,
                     config: IndexConfig, calendar: Calendar, only: str | None = None,
                     ) -> dict[str, Aggregates]:
    """Aggregates per unit of ``level`` (all of them, or ``only`` that one).

    Read from the index aggregates (:mod:`motcua_metrics.index.aggregates`: a few hundred
    rows whatever the number of dossiers) when they are built for this configuration's
    classification parameters; else computed from the facts.
    """
    return (await _aggregates(session, level, period, judged, config, calendar, only))[0]


async def _aggregates(session: AsyncSession, level: UnitKind, period: Period, judged: date,
                      config: IndexConfig, calendar: Calendar, only: str | None = None, *,
                      from_facts: bool = False) -> tuple[dict[str, Aggregates], bool]:
    """:func:`aggregates`, and whether they came from the index aggregates."""
    if not from_facts:
        # The judging day is today when it comes before the period's end.
        today = judged if judged < period.end else None
        reading = await agg.read(session, level, period.start, judged,
                                 agg.Params.of(config), only, today=today)
        if reading is not None:
            return await _from_reading(session, reading, level, period, judged, config,
                                       calendar, only), True
        warn_from_facts("index_from_facts")
    return await aggregates_from_facts(session, level, period, judged, config, calendar,
                                       only), False


@functools.cache
def warn_from_facts(event: str) -> None:
    """Log once per process and ``event`` that a figure was computed from the facts."""
    log.warning(event, reason="index aggregates not built (yet) for this configuration's "
                "classification parameters")


async def _from_reading(session: AsyncSession, reading: agg.Reading, level: UnitKind,
                        period: Period, judged: date, config: IndexConfig,
                        calendar: Calendar, only: str | None) -> dict[str, Aggregates]:
    """:func:`aggregates` from what the index aggregates gave."""
    out: dict[str, Aggregates] = defaultdict(Aggregates)
    tallies, opened = reading.tallies, dict(reading.opened)  # (the reading is kept)
    if period.start > judged:
        # A period that starts after its judging day (today): dossiers unfinished today
        # but finished before the period starts are not in its settlement scope.
        for unit, counts in (await _finishing_before(session, level, period, judged, config,
                                                     only)).items():
            base = opened.setdefault(unit, [0] * len(agg.OPEN))
            opened[unit] = [x - y for x, y in zip(base, counts, strict=True)]
    used_online: dict[str, set[str]] = {}
    for unit in set(tallies) | set(opened):
        per_procedure = tallies.get(unit, {})
        t = [sum(column) for column in zip(*per_procedure.values(), strict=True)] \
            if per_procedure else [0] * len(agg.TALLY)
        o_n, o_within, o_overdue, o_disliked, o_rated, _ = opened.get(unit,
                                                                     [0] * len(agg.OPEN))
        settlement = t[agg.FINISHED] + o_n
        if not (settlement or t[agg.RECEIVED] or t[agg.RESULTS]):
            continue  # rows left at zero by facts that moved: no dossier here
        a = out[unit]
        a.settlement = settlement
        a.early, a.on_time, a.late_finished = t[agg.EARLY], t[agg.ON_TIME], t[agg.LATE]
        a.within, a.overdue = o_within, o_overdue
        a.disliked = t[agg.FINISHED_DISLIKED] + o_disliked
        a.rated = t[agg.FINISHED_RATED] + o_rated
        a.received, a.online, a.synced = t[agg.RECEIVED], t[agg.ONLINE], t[agg.SYNCED]
        a.reused, a.store, a.population = t[agg.REUSED], t[agg.STORE], t[agg.POPULATION]
        a.with_fees, a.paid_online = t[agg.WITH_FEES], t[agg.PAID_ONLINE]
        a.results, a.electronic_result = t[agg.RESULTS], t[agg.ELECTRONIC]
        a.digitised_and_result = t[agg.DIGITISED_RESULT]
        named = [(p, c) for p, c in per_procedure.items() if p is not None and c[agg.RECEIVED]]
        a.procedures = len(named)
        a.procedures_population = sum(1 for _, c in named if c[agg.POPULATION])
        a.fee_procedures = sum(1 for _, c in named if c[agg.WITH_FEES])
        a.fee_procedures_paid_online = sum(1 for _, c in named if c[agg.PAID_ONLINE])
        a.fee_procedures_synced = sum(1 for _, c in named if c[agg.FEE_SYNCED])
        used_online[unit] = {p for p, c in named if c[agg.ONLINE]}
    if config.catalog is not None:
        for k, c in (await catalog.counts(session, level, period, judged, config.catalog,
                                          calendar, only, used_online=used_online,
                                          revision=reading.catalog_revision)).items():
            out[k].catalog = c
    return dict(out)


async def _finishing_before(session: AsyncSession, level: UnitKind, period: Period,
                            judged: date, config: IndexConfig, only: str | None,
                            ) -> dict[str, list[int]]:
    """Per unit, the open counts (as :data:`agg.OPEN`) on ``judged`` of the dossiers that
    finish after it but before ``period`` starts (few: finish days after today)."""
    key = KEY_COLUMN[level]
    c = settlement_conditions(period.start, judged, config.max_supplement_requests)
    disliked = or_(F.complaint, F.rating <= config.dislike_max_score)
    # Only the finish-day index is selective here; the unit is picked in Python.
    rows = await session.execute(
        select(key, func.count(), _sum(c["within"]), _sum(c["overdue"]), _sum(disliked),
               _sum(F.rating.is_not(None)), _sum(and_(c["overdue"], disliked)))
        .where(F.finish_day > judged, F.finish_day < period.start, F.received_day <= judged)
        .group_by(key))
    return {k: [int(v) for v in counts] for k, *counts in rows.all()
            if k is not None and (only is None or k == only)}


async def aggregates_from_facts(session: AsyncSession, level: UnitKind, period: Period,
                                judged: date, config: IndexConfig, calendar: Calendar,
                                only: str | None = None) -> dict[str, Aggregates]:
    """:func:`aggregates` computed from the dossier facts (the reference: slow for a
    large unit, the index aggregates must give the same)."""
    key = KEY_COLUMN[level]
    unit_filter = [key == only] if only is not None else [key.is_not(None)]
    out: dict[str, Aggregates] = defaultdict(Aggregates)
    c = settlement_conditions(period.start, judged, config.max_supplement_requests)
    disliked = or_(F.complaint, F.rating <= config.dislike_max_score)
    rows = await session.execute(
        select(key, func.count(),
               _sum(and_(c["finished"], F.outcome == "early")),
               _sum(and_(c["finished"], F.outcome == "on_time")),
               _sum(and_(c["finished"], F.outcome == "late")),
               _sum(c["within"]), _sum(c["overdue"]), _sum(disliked),
               _sum(F.rating.is_not(None)))
        .where(c["scope"], *unit_filter).group_by(key))
    for k, n, early, on_time, late, within, overdue, dis, rated in rows.all():
        a = out[k]
        a.settlement, a.early, a.on_time, a.late_finished = n, early, on_time, late
        a.within, a.overdue, a.disliked, a.rated = within, overdue, dis, rated

    received = and_(F.received_day >= period.start, F.received_day <= judged)
    population = or_(F.population_verified, F.vneid_verified)
    store = or_(F.from_national_store, F.electronic_result)
    rows = await session.execute(
        select(key, func.count(), _sum(F.channel == "online"), _sum(F.national_synced),
               _sum(F.reused), _sum(store), _sum(population), _sum(F.has_fees),
               _sum(and_(F.has_fees, F.paid_online)))
        .where(received, *unit_filter).group_by(key))
    for k, n, online, synced, reused, st, pop, fees, paid in rows.all():
        a = out[k]
        a.received, a.online, a.synced, a.reused, a.store = n, online, synced, reused, st
        a.population, a.with_fees, a.paid_online = pop, fees, paid

    results = and_(F.finish_status.in_((9, 10)), F.finish_day >= period.start,
                   F.finish_day <= judged)
    rows = await session.execute(
        select(key, func.count(), _sum(F.electronic_result),
               _sum(and_(F.digitised, F.electronic_result)))
        .where(results, *unit_filter).group_by(key))
    for k, n, electronic, both in rows.all():
        a = out[k]
        a.results, a.electronic_result, a.digitised_and_result = n, electronic, both

    per_procedure = (
        select(key.label("unit"), F.procedure_code,
               _any(population).label("pop"), _any(F.has_fees).label("fees"),
               _any(and_(F.has_fees, F.paid_online)).label("paid"),
               _any(and_(F.has_fees, F.fee_data_synced)).label("fee_synced"))
        .where(received, F.procedure_code.is_not(None), *unit_filter)
        .group_by(key, F.procedure_code)).subquery()
    rows = await session.execute(
        select(per_procedure.c.unit, func.count(),
               func.sum(per_procedure.c.pop.cast(Integer)),
               func.sum(per_procedure.c.fees.cast(Integer)),
               func.sum(per_procedure.c.paid.cast(Integer)),
               func.sum(per_procedure.c.fee_synced.cast(Integer)))
        .group_by(per_procedure.c.unit))
    for k, n, pop, fees, paid, synced in rows.all():
        a = out[k]
        a.procedures, a.procedures_population = n, int(pop or 0)
        a.fee_procedures, a.fee_procedures_paid_online = int(fees or 0), int(paid or 0)
        a.fee_procedures_synced = int(synced or 0)
    if config.catalog is not None:
        for k, c in (await catalog.counts(session, level, period, judged, config.catalog,
                                          calendar, only)).items():
            out[k].catalog = c
    return dict(out)


@dataclass(frozen=True)
class ItemValue:
    """An item's measured value, or why it cannot be measured."""

    numerator: Fraction | None = None
    denominator: int | None = None
    ratio: Fraction | None = None
    unavailable: Text | None = None
    note: Text | None = None


def _ratio(num: int, den: int, empty: Text) -> ItemValue:
    if den == 0:
        return ItemValue(unavailable=empty)
    return ItemValue(Fraction(num), den, Fraction(num, den))


def _catalog_values(c: catalog.CatalogCounts, configured: bool) -> dict[str, ItemValue]:
    if not configured:
        return {item: ItemValue(unavailable=NO_CATALOG_RULES) for item in CATALOG_ITEMS}
    known = c.procedures or c.announced or c.announced_unjudged
    if not known:
        return {item: ItemValue(unavailable=NO_CATALOG) for item in CATALOG_ITEMS}

    def timely(on_time: int, judged: int, unjudged: int, what: Text) -> ItemValue:
        if not judged:
            return ItemValue(unavailable=NO_DATES if unjudged else NO_PUBLISHED)
        value = _ratio(on_time, judged, NO_PUBLISHED)
        if not unjudged:
            return value
        return _with_note(value, (f"{unjudged} TTHC công bố trong kỳ không được tính: thiếu "
                                  f"{what[0]}.",
                                  f"{unjudged} procedure(s) published in the period not "
                                  f"judged: no {what[1]}."))

    return {
        "publicity.published_on_time": timely(
            c.announced_on_time, c.announced, c.announced_unjudged,
            ("ngày quyết định công bố hoặc ngày hiệu lực", "decision date or effective date")),
        "publicity.database_on_time": timely(
            c.published_on_time, c.published, c.published_unjudged,
            ("ngày quyết định công bố", "decision date")),
        "publicity.full_content": _ratio(c.complete, c.procedures, NO_CATALOG),
        "online.procedures_online": _ratio(c.online, c.procedures, NO_CATALOG),
        "online.procedures_with_online_dossiers": _ratio(c.online_used, c.online,
                                                         NO_ONLINE_PROCEDURES),
    }


def item_values(a: Aggregates, config: IndexConfig) -> dict[str, ItemValue]:
    """Every item's value from a unit's aggregates."""
    sync = _ratio(a.synced, a.received, NO_RECEIVED)
    values = {
        **_catalog_values(a.catalog, config.catalog is not None),
        "publicity.dossiers_synced": _with_note(sync, (
            "Mẫu số = số hồ sơ trên hệ thống (chưa có số liệu báo cáo quốc gia).",
            "Denominator = dossiers on the platform (the national report's count is not "
            "available).")),
        "progress.settlement": _ratio(a.early + a.on_time + a.within, a.settlement,
                                      NO_SETTLEMENT),
        "digitisation.electronic_result": _ratio(a.electronic_result, a.results, NO_RESULTS),
        "digitisation.digitised_dossier_and_result": _ratio(a.digitised_and_result, a.results,
                                                            NO_RESULTS),
        "digitisation.certified_copies": ItemValue(unavailable=NO_CERTIFIED),
        "digitisation.reuse": _ratio(a.reused, a.received, NO_RECEIVED),
        "digitisation.national_store": _ratio(a.store, a.received, NO_RECEIVED),
        "digitisation.population_data": _with_note(
            _ratio(a.population, a.received, NO_RECEIVED),
            ("Tính theo tra cứu CSDL dân cư gắn với hồ sơ và cờ VNeID trên hồ sơ.",
             "Counts population-database lookups tied to the dossier and the dossier's VNeID "
             "flag.")),
        "digitisation.population_data_procedures": _ratio(a.procedures_population,
                                                          a.procedures, NO_PROCEDURES),
        "satisfaction.feedback_on_time": ItemValue(unavailable=NO_FEEDBACK),
        "satisfaction.feedback_satisfaction": ItemValue(unavailable=NO_FEEDBACK),
        "payment.dossiers_paid_online": _ratio(a.paid_online, a.with_fees, NO_FEES),
        "payment.procedures_paid_online": _ratio(a.fee_procedures_paid_online,
                                                 a.fee_procedures, NO_FEE_PROCEDURES),
        "payment.fee_data_synced": _ratio(a.fee_procedures_synced, a.fee_procedures,
                                          NO_FEE_PROCEDURES),
    }
    if a.received and sync.ratio is not None:
        online = Fraction(a.online, a.received)
        values["online.online_dossiers"] = ItemValue(
            Fraction(a.online) * sync.ratio, a.received, online * sync.ratio,
            note=(f"{a.online}/{a.received} hồ sơ trực tuyến × tỷ lệ đồng bộ "
                  f"{a.synced}/{a.received}.",
                  f"{a.online}/{a.received} online dossiers × sync rate "
                  f"{a.synced}/{a.received}."))
    else:
        values["online.online_dossiers"] = ItemValue(unavailable=NO_RECEIVED)
    if a.settlement:
        late = Fraction(a.late_finished + a.overdue, a.settlement)
        disliked = Fraction(a.disliked, a.settlement)
        value = max(Fraction(0), 1 - late - disliked)
        values["satisfaction.reception"] = ItemValue(
            value * a.settlement, a.settlement, value,
            note=(f"100% − trễ hạn {a.late_finished + a.overdue}/{a.settlement} − không hài "
                  f"lòng/khiếu nại {a.disliked}/{a.settlement} ({a.rated} đánh giá).",
                  f"100% − late {a.late_finished + a.overdue}/{a.settlement} − dislike/"
                  f"complaint {a.disliked}/{a.settlement} ({a.rated} ratings)."))
    else:
        values["satisfaction.reception"] = ItemValue(unavailable=NO_SETTLEMENT)
    return values


def _with_note(value: ItemValue, note: Text) -> ItemValue:
    if value.unavailable:
        return value
    return ItemValue(value.numerator, value.denominator, value.ratio, note=note)


def points(item: ItemConfig, ratio: Fraction) -> Fraction:
    """``ratio × max / threshold`` below the threshold, full marks at or above it."""
    return item.max if ratio >= item.threshold else ratio * item.max / item.threshold


def _num(x: Fraction | None, digits: int) -> float | None:
    return None if x is None else round(float(x), digits)


def score(config: IndexConfig, a: Aggregates) -> dict[str, Any]:
    """The index document of one unit: groups, items, points and totals."""
    values = item_values(a, config)
    groups = []
    total = available_max = Fraction(0)
    for g in config.groups:
        items = []
        g_points = g_available = Fraction(0)
        for item in g.items:
            v = values[item.id]
            entry: dict[str, Any] = {
                "id": item.id, "name": {"vi": item.name_vi, "en": item.name_en},
                "max": _num(item.max, 4), "threshold": _num(item.threshold, 4),
                "available": v.unavailable is None,
            }
            if v.unavailable is None and v.ratio is not None:
                pts = points(item, v.ratio)
                g_points += pts
                g_available += item.max
                entry.update({"numerator": _num(v.numerator, 6), "denominator": v.denominator,
                              "ratio": _num(v.ratio, 6), "points": _num(pts, 4),
                              "lost": _num(item.max - pts, 4), "reason": None})
            else:
                entry.update({"numerator": None, "denominator": None, "ratio": None,
                              "points": None, "lost": None,
                              "reason": {"vi": v.unavailable[0], "en": v.unavailable[1]}
                              if v.unavailable else None})
            entry["note"] = {"vi": v.note[0], "en": v.note[1]} if v.note else None
            items.append(entry)
        capped = min(g_points, g.max)
        g_available = min(g_available, g.max)
        total += capped
        available_max += g_available
        groups.append({"id": g.id, "name": {"vi": g.name_vi, "en": g.name_en},
                       "max": _num(g.max, 4), "points": _num(capped, 4),
                       "max_available": _num(g_available, 4), "items": items})
    scaled = total * 100 / available_max if available_max else None
    return {"points": _num(total, 4), "max": _num(config.max_total, 4),
            "max_available": _num(available_max, 4), "scaled_100": _num(scaled, 4),
            "groups": groups}


def counts(a: Aggregates) -> dict[str, int]:
    """The raw counts behind a unit's index (shown with it)."""
    c = a.catalog
    return {
        "catalog_procedures": c.procedures, "catalog_complete": c.complete,
        "catalog_online": c.online, "catalog_online_used": c.online_used,
        "published_judged": c.published, "published_on_time": c.published_on_time,
        "announced_judged": c.announced, "announced_on_time": c.announced_on_time,
        "settlement_scope": a.settlement, "early": a.early, "on_time": a.on_time,
        "late_finished": a.late_finished, "in_process_within_time": a.within,
        "in_process_overdue": a.overdue, "received": a.received, "online": a.online,
        "synced": a.synced, "results": a.results, "with_fees": a.with_fees,
        "paid_online": a.paid_online, "rated": a.rated, "disliked_or_complained": a.disliked,
    }


async def index_document(session: AsyncSession, config: IndexConfig, calendar: Calendar,
                         unit: Unit, period: Period, today: date) -> dict[str, Any]:
    """The index of one unit and period (what ``GET /v1/index`` returns)."""
    judged = period.judged_on(today)
    found = await aggregates(session, unit.kind, period, judged, config, calendar,
                             only=unit.code)
    return _document(config, unit, period, judged, found.get(unit.code, Aggregates()))


async def index_document_from_facts(session: AsyncSession, config: IndexConfig,
                                    calendar: Calendar, unit: Unit, period: Period,
                                    today: date) -> dict[str, Any]:
    """:func:`index_document` computed from the facts (the reference)."""
    judged = period.judged_on(today)
    found = await aggregates_from_facts(session, unit.kind, period, judged, config, calendar,
                                        only=unit.code)
    return _document(config, unit, period, judged, found.get(unit.code, Aggregates()))


def _document(config: IndexConfig, unit: Unit, period: Period, judged: date,
              a: Aggregates) -> dict[str, Any]:
    return {"config_version": config.version, "unit": {"kind": unit.kind, "code": unit.code},
            "period": _period(period, judged), **score(config, a), "counts": counts(a)}


def _period(period: Period, judged: date) -> dict[str, Any]:
    return {"label": period.label, "kind": period.kind, "start": period.start.isoformat(),
            "end": period.end.isoformat(), "judged_on": judged.isoformat()}


async def ranking(session: AsyncSession, config: IndexConfig, calendar: Calendar,
                  level: UnitKind, period: Period, today: date, within: Unit | None = None,
                  *, from_facts: bool = False) -> dict[str, Any]:
    """Every unit of ``level`` ranked by its score on 100 (then points, then code).

    ``from_facts``: computed from the facts (the reference), not the index aggregates."""
    judged = period.judged_on(today)
    found, tables = await _aggregates(session, level, period, judged, config, calendar,
                                      from_facts=from_facts)
    if within is not None and within.kind == "province" and level != "province":
        codes = await _units_in_province(session, level, within.code, tables)
        found = {k: v for k, v in found.items() if k in codes}
    rows = []
    for code, a in found.items():
        s = score(config, a)
        rows.append({"unit": {"kind": level, "code": code}, "points": s["points"],
                     "max_available": s["max_available"], "scaled_100": s["scaled_100"],
                     "groups": {g["id"]: g["points"] for g in s["groups"]}})
    rows.sort(key=lambda r: (-(r["scaled_100"] or 0), -(r["points"] or 0), r["unit"]["code"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    return {"config_version": config.version, "level": level, "period": _period(period, judged),
            "units": rows}


async def _units_in_province(session: AsyncSession, level: UnitKind, province: str,
                             tables: bool) -> set[str]:
    if tables:
        found = await agg.units_in_province(session, level, province)
    else:
        key = KEY_COLUMN[level]
        rows = await session.scalars(select(key).where(F.province_code == province).distinct())
        found = {r for r in rows.all() if r is not None}
    return found | await catalog.units_in_province(session, level, province)
