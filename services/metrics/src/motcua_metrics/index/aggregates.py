"""Index aggregates (:mod:`motcua_metrics.index.models`): what each fact contributes, how
the projection keeps them, how they are compacted, rebuilt and read.

**Contributions.** With ``r`` = received day, ``f`` = finish day, ``u`` = due day, ``p`` =
open pause day, ``s`` = supplement requests, a fact adds (kind ``t``, day rows of its unit
and procedure, rolled up into month and year rows):

* on ``r``: received, online, synced, reused, data store, population, with fees, paid
  online, fee data synced (the flags as ``index.service`` counts them), online and
  synced;
* on ``f`` if it finished with a result (9, 10): results, electronic result, digitised
  with a result;
* on ``f`` if it was received (``r <= f``; else a grain ``x`` row on the pair ``(f, r)``):
  finished, early, on time, late, disliked, rated, late and disliked — its share of the
  settlement scope when it finished in the period;

(kind ``o``, no procedure) +1 on the first and -1 on the day after the last judging day
of each interval where it is *unfinished* (``[r, f)``), *in process within time* and
*overdue*, with the settlement rule of ``index.service.settlement_conditions``:

* more than ``max_supplement_requests`` requests: overdue on all of ``[r, f)``;
* no due day: neither (as the SQL comparison with NULL decides);
* the clock stopped (``p``) on or before ``u``: within on all of ``[r, f)``;
* otherwise within on ``[r, u]`` and overdue from ``u + 1``;

(overdue and disliked: the overdue days of a disliked dossier, for the drill-down's
totals: ``index.drilldown``)

and (kind ``f``) one fact, not synced or synced, to its unit.

**Reading.** For a period ``[S, E]`` (``E`` the judging day) the index needs the tallies
of ``[S, E]`` — as year, month and day rows added or subtracted (:func:`plan`: 2026 so
far = the year 2026 less the days to come, none yet) —, the grain ``x`` rows with ``f >=
S`` and ``r <= E``, and the sum of the ``o`` rows up to ``E``: a few hundred rows for a
province and any period, whatever the number of dossiers, read in one statement
(:func:`read`) with the build state and the catalog revision. The result is exactly what
the facts give (tests compare both). A period that starts after its judging day (a
future one) also leaves out the dossiers that finish between the two (a facts query on
the finish-day index: finish days after today are rare).

**Maintenance.** :func:`contribute` is the only definition. The projection computes a
fact's contributions before and after an event and inserts the difference into
``index_pending`` (:func:`record`) in the same transaction — inserts only, so
concurrent consumers never wait on each other's rows —; :func:`compact` folds pending
rows into ``index_count`` (every second in the service, after every batch in a
rebuild); reads sum both, so an event counts as soon as its transaction commits.
:func:`rebuild_from_facts` recomputes everything from ``dossier_fact`` (at start-up
when the tables are new or the classification parameters changed: :func:`ensure_built`).
"""


from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Date, bindparam, delete, func, insert, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua.db import utcnow
from motcua.logging import get_logger
from motcua_metrics.facts.models import DossierFact as F
from motcua_metrics.index.config import IndexConfig
from motcua_metrics.index.models import MEASURES, OPEN, TALLY, IndexAggregateState
from motcua_metrics.index.models import IndexCount as C
from motcua_metrics.index.models import IndexPending as P
from motcua_metrics.index.periods import UnitKind

log = get_logger("motcua_metrics.aggregates")

N = len(MEASURES)
(RECEIVED, ONLINE, SYNCED, REUSED, STORE, POPULATION, WITH_FEES, PAID_ONLINE, FEE_SYNCED,
 RESULTS, ELECTRONIC, DIGITISED_RESULT, FINISHED, EARLY, ON_TIME, LATE, FINISHED_DISLIKED,
 FINISHED_RATED, ONLINE_SYNCED, LATE_DISLIKED, OPEN_N, OPEN_WITHIN, OPEN_OVERDUE,
 OPEN_DISLIKED, OPEN_RATED, OPEN_OVERDUE_DISLIKED, FACTS_N, NOT_SYNCED) = range(N)
assert MEASURES[OPEN_RATED] == "open_rated" and MEASURES[NOT_SYNCED] == "not_synced"
assert MEASURES[LATE_DISLIKED] == "late_disliked"
assert MEASURES[OPEN_OVERDUE_DISLIKED] == "open_overdue_disliked"
#: ``day`` of the kind ``f`` rows (one per unit, no day).
NO_DAY = date(1, 1, 1)
_OUTCOME = {"early": EARLY, "on_time": ON_TIME, "late": LATE}
#: PostgreSQL advisory lock taken by compaction and rebuilds (one at a time).
LOCK_KEY = 766_0001

#: (kind, grain, day, day2, province, commune, agency, procedure)
Key = tuple[str, str, date, date | None, str | None, str | None, str, str | None]
Counts = dict[Key, list[int]]

#: The fact columns :func:`contribute` reads.
FACT_COLUMNS = (
    F.received_day, F.finish_day, F.finish_status, F.due_day, F.open_pause_day,
    F.supplement_count, F.outcome, F.channel, F.national_synced, F.reused,
    F.from_national_store, F.electronic_result, F.population_verified, F.vneid_verified,
    F.has_fees, F.paid_online, F.fee_data_synced, F.digitised, F.rating, F.complaint,
    F.province_code, F.commune_code, F.agency_code, F.procedure_code)


@dataclass(frozen=True)
class Params:
    """The classification parameters the contributions depend on."""

    max_supplement_requests: int
    dislike_max_score: int

    @classmethod
    def of(cls, config: IndexConfig) -> Params:
        return cls(config.max_supplement_requests, config.dislike_max_score)


# ---------------------------------------------------------------------------------------
# Contributions


def _bump(into: Counts, key: Key, indexes: Iterable[int], n: int) -> None:
    row = into.get(key)
    if row is None:
        row = into[key] = [0] * N
    for i in indexes:
        row[i] += n


def contribute(f: Any, params: Params, into: Counts, sign: int = 1) -> None:
    """Add ``sign`` × the day rows (grains ``d`` and ``x``) of fact ``f`` (any object with
    the fact's attributes) to ``into``; :func:`with_months` adds the month rows."""
    province, commune, agency = f.province_code, f.commune_code, f.agency_code
    _bump(into, ("f", "a", NO_DAY, None, province, commune, agency, None),
          [FACTS_N] if f.national_synced else [FACTS_N, NOT_SYNCED], sign)
    r = f.received_day
    fd = f.finish_day
    if r is None and fd is None:
        return
    procedure = f.procedure_code
    disliked = bool(f.complaint) or (f.rating is not None
                                     and f.rating <= params.dislike_max_score)
    rated = f.rating is not None
    if r is not None:
        counts = [RECEIVED]
        if f.channel == "online":
            counts.append(ONLINE)
            if f.national_synced:
                counts.append(ONLINE_SYNCED)
        if f.national_synced:
            counts.append(SYNCED)
        if f.reused:
            counts.append(REUSED)
        if f.from_national_store or f.electronic_result:
            counts.append(STORE)
        if f.population_verified or f.vneid_verified:
            counts.append(POPULATION)
        if f.has_fees:
            counts.append(WITH_FEES)
            if f.paid_online:
                counts.append(PAID_ONLINE)
            if f.fee_data_synced:
                counts.append(FEE_SYNCED)
        _bump(into, ("t", "d", r, None, province, commune, agency, procedure), counts, sign)
    if fd is not None and f.finish_status in (9, 10):
        counts = [RESULTS]
        if f.electronic_result:
            counts.append(ELECTRONIC)
            if f.digitised:
                counts.append(DIGITISED_RESULT)
        _bump(into, ("t", "d", fd, None, province, commune, agency, procedure), counts, sign)
    if r is None:
        return
    if fd is not None:
        counts = [FINISHED]
        outcome = _OUTCOME.get(f.outcome or "")
        if outcome is not None:
            counts.append(outcome)
        if disliked:
            counts.append(FINISHED_DISLIKED)
            if outcome == LATE:
                counts.append(LATE_DISLIKED)
        if rated:
            counts.append(FINISHED_RATED)
        if r <= fd:
            _bump(into, ("t", "d", fd, None, province, commune, agency, procedure), counts,
                  sign)
            if fd == r:
                return  # never unfinished on a day it was received
        else:  # finished "before" it was received: counted on the pair of days
            _bump(into, ("t", "x", fd, r, province, commune, agency, procedure), counts, sign)
            return

    def span(start: date, end: date | None, indexes: list[int]) -> None:
        _bump(into, ("o", "d", start, None, province, commune, agency, None), indexes, sign)
        if end is not None:
            _bump(into, ("o", "d", end, None, province, commune, agency, None), indexes,
                  -sign)

    opened = [OPEN_N]
    if disliked:
        opened.append(OPEN_DISLIKED)
    if rated:
        opened.append(OPEN_RATED)
    span(r, fd, opened)
    u, p = f.due_day, f.open_pause_day
    overdue = [OPEN_OVERDUE, OPEN_OVERDUE_DISLIKED] if disliked else [OPEN_OVERDUE]
    if f.supplement_count > params.max_supplement_requests:
        span(r, fd, overdue)
    elif u is None:
        pass  # no due day: neither within time nor overdue (NULL comparisons)
    elif p is not None and p <= u:
        span(r, fd, [OPEN_WITHIN])
    else:
        after = u + timedelta(days=1)
        within_end = after if fd is None or after < fd else fd
        if r < within_end:
            span(r, within_end, [OPEN_WITHIN])
        overdue_start = max(r, after)
        if fd is None or overdue_start < fd:
            span(overdue_start, fd, overdue)


def with_rollups(counts: Counts) -> Counts:
    """``counts`` (day rows) with the month and year rows (grains ``m`` and ``y``, ``day``
    = the first day of the month or year) that sum them; zero rows left out."""
    out: Counts = {}
    for key, values in counts.items():
        if not any(values):
            continue
        out[key] = values
        kind, grain, day, _day2, *codes = key
        if grain != "d":
            continue
        for rollup in (("m", day.replace(day=1)), ("y", day.replace(month=1, day=1))):
            rolled: Key = (kind, rollup[0], rollup[1], None, *codes)  # type: ignore[assignment]
            row = out.get(rolled)
            if row is None:
                out[rolled] = list(values)
            else:
                for i, v in enumerate(values):
                    row[i] += v
    return {k: v for k, v in out.items() if any(v)}


def contributions(f: Any, params: Params) -> Counts:
    """The rows fact ``f`` contributes to (day, month and year; zero rows left out)."""
    out: Counts = {}
    contribute(f, params, out)
    return with_rollups(out)


def key_text(key: Key) -> str:
    """The stable identifier of a row (a hash: NULLs and long codes included)."""
    kind, grain, day, day2, *codes = key
    raw = json.dumps([kind, grain, day.isoformat(), day2.isoformat() if day2 else None,
                      *codes], separators=(",", ":"))
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def _row(key: Key, counts: list[int]) -> dict[str, Any]:
    kind, grain, day, day2, province, commune, agency, procedure = key
    return {"key": key_text(key), "kind": kind, "grain": grain, "day": day, "day2": day2,
            "province_code": province, "commune_code": commune, "agency_code": agency,
            "procedure_code": procedure, **dict(zip(MEASURES, counts, strict=True))}


async def record(session: AsyncSession, change: Counts) -> int:
    """Insert the non-zero rows of ``change`` (day rows) and of its months and years as
    pending rows; return how many."""
    rows = [_row(k, v) for k, v in with_rollups(change).items()]
    if rows:
        await session.execute(insert(P.__table__), rows)
    return len(rows)


# ---------------------------------------------------------------------------------------
# Compaction, build state, rebuild

_GROUP = ("key", "kind", "grain", "day", "day2", "province_code", "commune_code",
          "agency_code", "procedure_code")
_SUMS = ", ".join(f"sum({m})" for m in MEASURES)
_COLUMNS = ", ".join((*_GROUP, *MEASURES))
_UPDATE = ", ".join(f"{m} = index_count.{m} + excluded.{m}" for m in MEASURES)
_GROUP_BY = ", ".join(_GROUP)
_COMPACT_PG = (
    f"WITH moved AS (DELETE FROM index_pending RETURNING {_COLUMNS}) "
    f"INSERT INTO index_count ({_COLUMNS}) SELECT {_GROUP_BY}, {_SUMS} FROM moved "
    f"GROUP BY {_GROUP_BY} ON CONFLICT (key) DO UPDATE SET {_UPDATE}")
_COMPACT_SQLITE = (
    f"INSERT INTO index_count ({_COLUMNS}) SELECT {_GROUP_BY}, {_SUMS} FROM index_pending "
    f"WHERE true GROUP BY {_GROUP_BY} ON CONFLICT (key) DO UPDATE SET {_UPDATE}")


def _postgres(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"


async def compact(session: AsyncSession) -> int:
    """Fold the pending rows into ``index_count`` (in the caller's transaction); return how
    many rows were written (0 when another compaction holds the lock)."""
    if _postgres(session):
        if not await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                    {"k": LOCK_KEY}):
            return 0
        # Deletes (and folds) only the rows committed when it starts: rows of
        # transactions still running stay pending for the next time.
        result = await session.execute(text(_COMPACT_PG))
        return int(result.rowcount or 0)
    pending = int(await session.scalar(select(func.count()).select_from(P)) or 0)
    if pending:
        await session.execute(text(_COMPACT_SQLITE))
        await session.execute(delete(P))
    return pending


async def state_matches(session: AsyncSession, params: Params) -> bool:
    """Whether the aggregates were built for ``params``."""
    row = await session.get(IndexAggregateState, 1)
    return row is not None and (row.max_supplement_requests, row.dislike_max_score) == (
        params.max_supplement_requests, params.dislike_max_score)


async def built(session: AsyncSession) -> bool:
    """Whether the aggregates were built (for some classification parameters: the kind
    ``f`` rows do not depend on them)."""
    return await session.get(IndexAggregateState, 1) is not None


async def set_state(session: AsyncSession, params: Params, facts: int) -> None:
    """Record that the aggregates hold for ``params`` (built from ``facts`` facts)."""
    row = await session.get(IndexAggregateState, 1)
    if row is None:
        session.add(IndexAggregateState(
            id=1, max_supplement_requests=params.max_supplement_requests,
            dislike_max_score=params.dislike_max_score, built_at=utcnow(), facts=facts))
    else:
        row.max_supplement_requests = params.max_supplement_requests
        row.dislike_max_score = params.dislike_max_score
        row.built_at, row.facts = utcnow(), facts
    await session.flush()


async def reset(session: AsyncSession, params: Params) -> None:
    """Empty the aggregates and declare them built for ``params`` over no facts (before a
    replay, whose events then maintain them)."""
    await session.execute(delete(P))
    await session.execute(delete(C))
    await set_state(session, params, 0)


async def rebuild_from_facts(sessions: async_sessionmaker[AsyncSession], config: IndexConfig,
                             *, only_if_stale: bool = False, batch: int = 5_000,
                             ) -> dict[str, Any]:
    """Recompute every aggregate from ``dossier_fact`` in one transaction.

    Fact writers wait meanwhile (PostgreSQL: a SHARE lock on ``dossier_fact``; SQLite:
    the write lock), so the result is exact even while the projection runs: pending rows
    of transactions committed before are dropped (their facts are read), later ones stay.
    With ``only_if_stale``, nothing is done when the state already matches.
    """
    params = Params.of(config)
    async with sessions() as session, session.begin():
        if _postgres(session):
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            await session.execute(text("LOCK TABLE dossier_fact IN SHARE MODE"))
        if only_if_stale and await state_matches(session, params):
            return {"built": False}
        await session.execute(delete(P))
        await session.execute(delete(C))
        totals: Counts = {}
        facts = 0
        result = await session.stream(select(*FACT_COLUMNS).execution_options(yield_per=10_000))
        async for part in result.partitions():
            for row in part:
                contribute(row, params, totals)
            facts += len(part)
            await asyncio.sleep(0)  # let the loop serve requests between partitions
        rows = [_row(k, v) for k, v in with_rollups(totals).items()]
        for start in range(0, len(rows), batch):
            await session.execute(insert(C.__table__), rows[start:start + batch])
        await set_state(session, params, facts)
    return {"built": True, "facts": facts, "rows": len(rows)}


async def ensure_built(sessions: async_sessionmaker[AsyncSession], config: IndexConfig,
                       ) -> None:
    """Build the aggregates from the facts if they were not built for this configuration's
    classification parameters (new tables, or parameters changed)."""
    async with sessions() as session:
        if await state_matches(session, Params.of(config)):
            return
    log.warning("index_aggregates_building",
                reason="no aggregates for this configuration's classification parameters")
    report = await rebuild_from_facts(sessions, config, only_if_stale=True)
    if report["built"]:
        log.warning("index_aggregates_built", facts=report["facts"], rows=report["rows"])


def maintenance_loop(config: IndexConfig, interval_s: float,
                     ) -> Callable[[Any], Awaitable[None]]:
    """Background loop of the service: build the aggregates if needed, then compact."""

    async def index_aggregates(rt: Any) -> None:
        while True:
            try:
                await ensure_built(rt.sessions, config)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("index_aggregates_build_failed", error=str(exc))
                await asyncio.sleep(max(interval_s, 5.0))
        while True:
            await asyncio.sleep(interval_s)
            try:
                async with rt.sessions() as session, session.begin():
                    await compact(session)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("index_aggregates_compact_failed", error=str(exc))

    return index_aggregates


# ---------------------------------------------------------------------------------------
# Reading

def _unit(table: Any, level: UnitKind) -> Any:
    return {"province": table.province_code, "agency": table.agency_code,
            "commune": table.commune_code}[level]


#: One range of rows to add (+1) or subtract (-1): sign, grain, first and last ``day``.
Part = tuple[int, str, date, date]
Cost = Callable[[date], float]


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _days(first: date, last: date, sign: int, cost: Cost) -> tuple[float, list[Part]]:
    if first > last:
        return 0.0, []
    total, day = 0.0, first
    while day <= last:
        total += cost(day)
        day += timedelta(days=1)
    return total, [(sign, "d", first, last)]


def _in_month(first: date, last: date, sign: int, cost: Cost) -> tuple[float, list[Part]]:
    """``[first, last]`` (one month): its days, or the month less the days outside."""
    start, end = first.replace(day=1), _month_end(first)
    whole: list[Part] = [(sign, "m", start, start)]
    if (first, last) == (start, end):
        return 1.0, whole
    inside = _days(first, last, sign, cost)
    before, after = _days(start, first - timedelta(days=1), -sign, cost), \
        _days(last + timedelta(days=1), end, -sign, cost)
    outside = (1.0 + before[0] + after[0], whole + before[1] + after[1])
    return inside if inside[0] <= outside[0] else outside


def _months(first: date, last: date, sign: int, cost: Cost) -> tuple[float, list[Part]]:
    """``[first, last]`` (within one year) month by month."""
    total, parts = 0.0, []
    cursor = first
    while cursor <= last:
        end = min(_month_end(cursor), last)
        c, p = _in_month(cursor, end, sign, cost)
        total += c
        parts += p
        cursor = end + timedelta(days=1)
    return total, parts


def _in_year(first: date, last: date, sign: int, cost: Cost) -> tuple[float, list[Part]]:
    """``[first, last]`` (one year): its months and days, or the year less the rest."""
    start, end = date(first.year, 1, 1), date(first.year, 12, 31)
    whole: list[Part] = [(sign, "y", start, start)]
    if (first, last) == (start, end):
        return 1.0, whole
    inside = _months(first, last, sign, cost)
    before = _months(start, first - timedelta(days=1), -sign, cost) if first > start \
        else (0.0, [])
    after = _months(last + timedelta(days=1), end, -sign, cost) if last < end else (0.0, [])
    outside = (1.0 + before[0] + after[0], whole + before[1] + after[1])
    return inside if inside[0] <= outside[0] else outside


def _merged(parts: list[Part]) -> list[Part]:
    """Adjacent ranges of one sign and grain as one range."""
    step = {"d": lambda d: d + timedelta(days=1),
            "m": lambda d: (d + timedelta(days=32)).replace(day=1),
            "y": lambda d: d.replace(year=d.year + 1)}
    out: list[Part] = []
    for part in sorted(parts, key=lambda p: (p[1], p[0], p[2])):
        if out and out[-1][:2] == part[:2] and step[part[1]](out[-1][3]) == part[2]:
            out[-1] = (*out[-1][:3], part[3])
        else:
            out.append(part)
    return out


def plan(first: date, last: date, cost: Cost) -> list[Part]:
    """The rows whose signed sum is the sum of the days ``[first, last]``, with as few rows
    as the cost of a day row (``cost``; a month or year row costs 1) allows."""
    parts: list[Part] = []
    cursor = first
    while cursor <= last:
        end = min(date(cursor.year, 12, 31), last)
        parts += _in_year(cursor, end, 1, cost)[1]
        cursor = end + timedelta(days=1)
    return _merged(parts)


@dataclass
class Reading:
    """What one index read needs from the aggregates (:func:`read`)."""

    #: Unit → procedure → kind ``t`` counts (:data:`TALLY`) of the period.
    tallies: dict[str, dict[str | None, list[int]]]
    #: Unit → kind ``o`` sums (:data:`OPEN`) up to the judging day.
    opened: dict[str, list[int]]
    #: The catalog's revision (figures computed from the catalog are cached per revision).
    catalog_revision: int | None


_WIDTH = len(TALLY)


_UNIT_COLUMN = {"province": "province_code", "agency": "agency_code",
                "commune": "commune_code"}


class _Sql:
    """The text of :func:`read`'s statement and its parameters (written out: SQLAlchemy's
    construction and cache-key walk of a dozen-branch UNION cost more than the query)."""

    def __init__(self, level: UnitKind, only: str | None,
                 agencies: Iterable[str] | None = None) -> None:
        self.column = _UNIT_COLUMN[level]
        self.params: dict[str, Any] = {}
        self.dates: list[str] = []
        self.branches: list[str] = []
        self.unit = f"{self.column} = :unit" if only is not None else \
            f"{self.column} IS NOT NULL"
        if only is not None:
            self.params["unit"] = only
        if agencies is not None:
            names = []
            for i, code in enumerate(sorted(agencies)):
                self.params[f"a{i}"] = code
                names.append(f":a{i}")
            self.unit += f" AND agency_code IN ({', '.join(names)})" if names else " AND 1 = 0"

    def date(self, value: date) -> str:
        name = f"d{len(self.dates)}"
        self.dates.append(name)
        self.params[name] = value
        return f":{name}"

    def condition(self, grain: str, lo: date, hi: date) -> str:
        return f"grain = '{grain}' AND day >= {self.date(lo)} AND day <= {self.date(hi)}"

    def add(self, kind: str, measures: tuple[str, ...], parts: list[Part],
            extra: list[str]) -> None:
        """Branches of ``kind``: one per part on ``index_count`` (an index range each),
        one scan of the (small) ``index_pending`` with the part's sign per row."""
        procedure = "procedure_code" if kind == "t" else "NULL"
        zeros = ["0"] * (_WIDTH - len(measures))
        head = f"SELECT '{kind}' AS tag, {self.column} AS unit, {procedure} AS proc"
        conditions = [(sign, self.condition(grain, lo, hi)) for sign, grain, lo, hi in parts]
        conditions += [(1, c) for c in extra]
        group = f"{self.column}, procedure_code" if kind == "t" else self.column
        for sign, condition in conditions:
            # Summed in each branch too: fewer rows for the union to carry.
            counts = [f"SUM({m})" if sign > 0 else f"-SUM({m})" for m in measures] + zeros
            self.branches.append(
                f"{head}, {', '.join(f'{c} AS c{i}' for i, c in enumerate(counts))} "
                f"FROM index_count WHERE kind = '{kind}' AND {self.unit} AND {condition} "
                f"GROUP BY {group}")
        case = " ".join(f"WHEN {c} THEN {sign}" for sign, c in conditions)
        counts = [f"sign * {m}" for m in measures] + zeros
        self.branches.append(
            f"SELECT tag, unit, proc, {', '.join(f'{c} AS c{i}' for i, c in enumerate(counts))} "
            f"FROM (SELECT '{kind}' AS tag, {self.column} AS unit, {procedure} AS proc, "
            f"{', '.join(measures)}, CASE {case} ELSE 0 END AS sign FROM index_pending "
            f"WHERE kind = '{kind}' AND {self.unit}) AS pending WHERE sign <> 0")

    def statement(self) -> Any:
        zeros = ", ".join(f"0 AS c{i}" for i in range(2, _WIDTH))
        self.branches.append(
            "SELECT 's' AS tag, NULL AS unit, NULL AS proc, max_supplement_requests AS c0, "
            f"dislike_max_score AS c1, {zeros} FROM index_aggregate_state WHERE id = 1")
        self.branches.append(
            "SELECT 'c' AS tag, NULL AS unit, NULL AS proc, revision AS c0, 0 AS c1, "
            f"{zeros} FROM catalog_revision WHERE id = 1")
        sums = ", ".join(f"SUM(c{i})" for i in range(_WIDTH))
        sql = (f"SELECT tag, unit, proc, {sums} FROM ({' UNION ALL '.join(self.branches)}) "
               f"AS u GROUP BY tag, unit, proc")
        return text(sql).bindparams(*[bindparam(name, type_=Date) for name in self.dates])


async def read(session: AsyncSession, level: UnitKind, start: date, judged: date,
               params: Params, only: str | None = None, *, today: date | None = None,
               agencies: Iterable[str] | None = None) -> Reading | None:
    """Tallies of ``[start, judged]``, open sums on ``judged`` and the catalog revision, in
    one statement; None when the aggregates were not built for ``params``.

    ``today`` (if known) only helps choose which rows to read: tallies are counted on
    days that have passed, so "this month less the days to come" (none yet) is cheaper
    than "every day so far". ``agencies`` counts only those agencies' rows.

    A reading is kept for the rest of the session's transaction (a request reads a unit's
    index, then its drill-downs): do not change it."""
    key = (level, start, judged, params, only, None if agencies is None else
           frozenset(agencies))
    memo = session.info.get(_READINGS)
    transaction = session.sync_session.get_transaction()
    if memo is not None and transaction is not None and memo[0] is transaction \
            and key in memo[1]:
        return memo[1][key]
    reading = await _read(session, level, start, judged, params, only, today, agencies)
    transaction = session.sync_session.get_transaction()
    if memo is None or memo[0] is not transaction:
        memo = session.info[_READINGS] = (transaction, {})
    memo[1][key] = reading
    return reading


#: ``session.info`` key of the readings of the session's transaction.
_READINGS = "motcua_metrics.index_readings"


async def _read(session: AsyncSession, level: UnitKind, start: date, judged: date,
                params: Params, only: str | None, today: date | None,
                agencies: Iterable[str] | None) -> Reading | None:
    sql = _Sql(level, only, agencies)
    if start <= judged:
        parts = plan(start, judged,
                     lambda day: 0.05 if today is not None and day > today else 1.0)
        skewed = (f"grain = 'x' AND day >= {sql.date(start)} AND day <= {sql.date(judged)} "
                  f"AND day2 <= {sql.date(judged)}")
        sql.add("t", TALLY, parts, [skewed])
    # Open sums: every year before, then this year up to the judging day (changes are
    # dated in the future too — a due day to come —, so every day row costs).
    parts = [(1, "y", date.min, date(judged.year - 1, 1, 1))] if judged.year > 1 else []
    parts += plan(date(judged.year, 1, 1), judged, lambda day: 1.0)
    sql.add("o", OPEN, parts, [])
    rows = await session.execute(sql.statement(), sql.params)
    reading = Reading({}, {}, None)
    matches = False
    for tag, unit, procedure, *counts in rows.all():
        values = [int(c or 0) for c in counts]
        if tag == "t":
            reading.tallies.setdefault(unit, {})[procedure] = values
        elif tag == "o":
            reading.opened[unit] = values[:len(OPEN)]
        elif tag == "s":
            matches = (values[0], values[1]) == (params.max_supplement_requests,
                                                 params.dislike_max_score)
        else:
            reading.catalog_revision = values[0]
    return reading if matches else None


async def units_in_province(session: AsyncSession, level: UnitKind, province: str,
                            ) -> set[str]:
    """Units of ``level`` with a dossier fact in ``province`` (as the facts say)."""
    branches = [select(_unit(table, level).label("unit"), table.facts.label("facts"))
                .where(table.kind == "f", table.province_code == province,
                       _unit(table, level).is_not(None)) for table in (C, P)]
    u = union_all(*branches).subquery()
    return set((await session.scalars(
        select(u.c.unit).group_by(u.c.unit).having(func.sum(u.c.facts) > 0))).all())


async def agencies_of(session: AsyncSession, level: UnitKind, code: str) -> set[str]:
    """Agencies with a dossier fact in the unit ``level:code`` (as the facts say)."""
    branches = [select(table.agency_code.label("agency"), table.facts.label("facts"))
                .where(table.kind == "f", _unit(table, level) == code) for table in (C, P)]
    u = union_all(*branches).subquery()
    return set((await session.scalars(
        select(u.c.agency).group_by(u.c.agency).having(func.sum(u.c.facts) > 0))).all())


async def fact_counts(session: AsyncSession) -> tuple[int, int]:
    """(facts, facts not synced), from the kind ``f`` rows."""
    branches = [select(table.facts.label("facts"), table.not_synced.label("not_synced"))
                .where(table.kind == "f") for table in (C, P)]
    u = union_all(*branches).subquery()
    total, not_synced = (await session.execute(
        select(func.coalesce(func.sum(u.c.facts), 0),
               func.coalesce(func.sum(u.c.not_synced), 0)))).one()
    return int(total), int(not_synced)


async def compacted_rows(session: AsyncSession) -> Counts:
    """Every aggregate row, pending changes folded in, zero rows left out (for tests and
    checks)."""
    out: Counts = {}
    for table in (C, P):
        rows = await session.execute(select(
            table.kind, table.grain, table.day, table.day2, table.province_code,
            table.commune_code, table.agency_code, table.procedure_code,
            *[getattr(table, m) for m in MEASURES]))
        for row in rows.all():
            key: Key = tuple(row[:8])  # type: ignore[assignment]
            counts = out.setdefault(key, [0] * N)
            for i, v in enumerate(row[8:]):
                counts[i] += int(v)
    return {k: v for k, v in out.items() if any(v)}


async def from_facts(session: AsyncSession, params: Params) -> Counts:
    """The aggregate rows recomputed from every fact (what the tables must hold)."""
    out: Counts = {}
    for row in (await session.execute(select(*FACT_COLUMNS))).all():
        contribute(row, params, out)
    return with_rollups(out)
