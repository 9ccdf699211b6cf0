"""Where a submission's CPU goes: intake's HTTP layers against its whole work.

Runs the mesh of ``bench/slice.py`` on one backend with intake started from
``bench/floor_app.py`` (intake plus three routes that stop short of the submission's
work, see there), pauses workflow and metrics (as slice.py's "intake alone"), and runs
the same 32-client closed loop against, in turn:

- ``submit``: ``POST /v1/dossiers``, the whole submission;
- ``deps``: every dependency of that route (body, token, session, Idempotency-Key,
  desk) and its response model, and no work;
- ``auth``: body, token and response model only;
- ``raw``: the kit's middleware and routing, the body read, a fixed answer;
- ``baseline``: slice.py's bare baseline (one raw insert plus an outbox row).

For each: accepted/s and CPU per request of intake (or the baseline) and PostgreSQL.
The differences between rows are what each layer costs. Results:
``bench/results/floor-<UTC stamp>.json``.

    python3 -m uv run python bench/floor.py [--backend postgresql] [--duration 10]
        [--rounds 1] [--label TEXT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import http1
import httpx
import slice as bench

VARIANTS = {"submit": "/v1/dossiers", "deps": "/bench/floor/deps",
            "auth": "/bench/floor/auth", "raw": "/bench/floor/raw"}
CONCURRENCY = 32


async def _phase(client: http1.Client, url: str, payloads: bench.Payloads,
                 cpu: bench.CpuMeter, who: str, duration: float) -> dict[str, Any]:
    before = cpu.snapshot()
    stats = await bench.closed_loop(client, url, payloads, concurrency=CONCURRENCY,
                                    duration=duration)
    elapsed = stats.end - stats.start
    used = bench.CpuMeter.percent(before, cpu.snapshot(), elapsed)
    per = {k: round(10 * elapsed * used.get(k, 0.0) / stats.accepted, 3)
           for k in (who, "postgres", "generator") if k in used} if stats.accepted else {}
    return {"accepted": stats.accepted, "statuses": dict(stats.statuses),
            "accepted_per_s": round(stats.accepted / elapsed, 1) if elapsed > 0 else None,
            "cpu_ms_per_request": {("server" if k == who else k): v for k, v in per.items()},
            "cpu_pct_of_one_core": used, "p50_ms": bench.pct(stats.service, 50)}


async def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    cpu = bench.CpuMeter()
    cpu.add("generator", os.getpid())
    rounds: list[dict[str, Any]] = []
    floor_app = [sys.executable, str(bench.BENCH_DIR / "floor_app.py")]
    async with bench.one_mesh(args.backend, root, cpu, commands={"intake": floor_app}) \
            as (mesh, children), \
            http1.Client(timeout=10, limit=bench.MAX_CONCURRENCY) as client, \
            httpx.AsyncClient(timeout=5, trust_env=False) as side:
        await bench.wait_ready(mesh, children, side)
        await bench.bench_token(side, mesh)
        payloads = bench.Payloads(mesh.agency_code)
        intake = mesh.base("intake")
        # Warm-up: pools, caches; the first deps call makes the answer auth/deps give.
        for path in ("/bench/floor/deps", "/v1/dossiers", "/bench/floor/auth"):
            warm = await bench.closed_loop(client, intake + path, payloads, concurrency=4,
                                           duration=1)
            if warm.accepted == 0:
                raise RuntimeError(f"warm-up of {path}: {dict(warm.statuses)} "
                                   f"{warm.error_samples}")
        with children.paused(frozenset({"workflow", "metrics"})):
            for _ in range(args.rounds):
                row = {}
                for name, path in VARIANTS.items():
                    bench.log(f"{args.backend}: {name}")
                    row[name] = await _phase(client, intake + path, payloads, cpu,
                                             "intake", args.duration)
                bench.log(f"{args.backend}: baseline")
                row["baseline"] = await _phase(
                    client, mesh.base("baseline") + "/v1/dossiers", payloads, cpu,
                    "baseline", args.duration)
                rounds.append(row)
    return {"rounds": rounds, "summary": _summary(rounds)}


def _summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per target, the median over rounds of the server's and the database's CPU per
    request and of accepted/s."""
    def median(values: list[float]) -> float | None:
        values = sorted(v for v in values if v is not None)
        return values[len(values) // 2] if values else None

    out = {}
    for name in (*VARIANTS, "baseline"):
        got = [r[name] for r in rounds]
        out[name] = {
            "accepted_per_s": median([g["accepted_per_s"] for g in got]),
            "server_cpu_ms": median([g["cpu_ms_per_request"].get("server") for g in got]),
            "postgres_cpu_ms": median([g["cpu_ms_per_request"].get("postgres") for g in got]),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=bench.BACKENDS, default="postgresql")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per target (≤ 60)")
    p.add_argument("--rounds", type=int, default=1, help="1 to 5")
    p.add_argument("--label", help="free text stored with the results")
    args = p.parse_args(argv)
    if not (0 < args.duration <= 60 and 1 <= args.rounds <= 5):
        p.error("0 < duration ≤ 60, 1 ≤ rounds ≤ 5")
    os.environ.pop("MOTCUA_TEST_POSTGRES_URL", None)
    root = Path(tempfile.mkdtemp(prefix="motcua-floor-"))
    root.chmod(0o755)  # the embedded PostgreSQL runs as its own user when we are root
    started = datetime.now(UTC)
    probe = bench.speed_probe()
    try:
        result = asyncio.run(run(args, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report = {
        "tool": "bench/floor.py", "started_at": started.isoformat(timespec="seconds"),
        "machine": {**bench.machine_info(), "speed_probe_ms_at_start": probe},
        "code_under_test": bench.code_under_test(args.label),
        "parameters": {"backend": args.backend, "duration_s": args.duration,
                       "rounds": args.rounds, "concurrency": CONCURRENCY,
                       "paused": ["workflow", "metrics"]},
        **result,
    }
    bench.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = bench.RESULTS_DIR / f"floor-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    bench.log(f"wrote {out}")
    print(json.dumps(result["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
