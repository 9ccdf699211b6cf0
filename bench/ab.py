"""Same-host A/B of the slice's CPU per dossier: one open-loop phase on a fresh mesh.

Runs the mesh of ``bench/slice.py`` (its own nats-server, an embedded PostgreSQL or
SQLite, intake, workflow, metrics and identity-bridge as ``motcua serve`` processes),
offers ``--rate`` submissions/s for ``--duration`` s after a 2 s warm-up, waits until
metrics has counted every accepted dossier, and prints one JSON line per round: CPU
per dossier of each process group over that whole span (load and catch-up), the span,
the catch-up time and the submissions' p99 latency. With ``--probe``, once a second
during the round, every service's outbox backlog and every durable's lag.

To compare two versions of the code, run this file from each checkout in turn (the
mesh is the checkout's own), alternating, in the same hour: between hours this
machine's speed varies more than most changes (bench/README.md, session 10).

    python3 -m uv run python bench/ab.py [--backend postgresql] [--rate 200]
        [--duration 15] [--rounds 1] [--probe]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import http1
import httpx
import slice as bench
from prometheus_client.parser import text_string_to_metric_families


async def _probe(side: httpx.AsyncClient, mesh: bench.Mesh, rows: list[dict[str, Any]]
                 ) -> None:
    start = time.monotonic()
    while True:
        row: dict[str, Any] = {"t": round(time.monotonic() - start, 1)}
        for name in bench.SERVICES:
            try:
                text = (await side.get(mesh.base(name) + "/metrics")).text
            except httpx.HTTPError:
                continue
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == "motcua_outbox_backlog":
                        row[f"{name}.outbox"] = int(sample.value)
                    elif sample.name == "motcua_consumer_lag" and sample.value:
                        row[sample.labels.get("durable", "?")] = int(sample.value)
        rows.append(row)
        await asyncio.sleep(1)


async def run(args: argparse.Namespace, root: Path) -> None:
    cpu = bench.CpuMeter()
    cpu.add("generator", os.getpid())
    async with bench.one_mesh(args.backend, root, cpu) as (mesh, children), \
            http1.Client(timeout=10, limit=bench.MAX_CONCURRENCY) as client, \
            httpx.AsyncClient(timeout=5, trust_env=False) as side:
        await bench.wait_ready(mesh, children, side)
        await bench.bench_token(side, mesh)
        url = mesh.base("intake") + "/v1/dossiers"
        payloads = bench.Payloads(mesh.agency_code)
        poller = bench.CountPoller(side, mesh.base("metrics") + "/v1/stats/dossiers",
                                   0.1)
        polling = asyncio.create_task(poller.run())
        try:
            warm = await bench.open_loop(client, url, payloads, rate=args.rate,
                                         duration=2)
            total = warm.accepted
            await bench.wait_drained(poller, (total, total), 120, children)
            for round_ in range(args.rounds):
                rows: list[dict[str, Any]] = []
                probing = asyncio.create_task(_probe(side, mesh, rows)) \
                    if args.probe else None
                before, t0 = cpu.snapshot(), time.monotonic()
                stats = await bench.open_loop(client, url, payloads, rate=args.rate,
                                              duration=args.duration)
                load = time.monotonic() - t0
                total += stats.accepted
                await bench.wait_drained(poller, (total, total), 120, children,
                                         settle=0.5)
                after, span = cpu.snapshot(), time.monotonic() - t0
                if probing is not None:
                    probing.cancel()
                used = bench.CpuMeter.percent(before, after, span)
                per = {k: round(10 * span * v / max(1, stats.accepted), 2)
                       for k, v in used.items()}
                print(json.dumps({
                    "round": round_, "accepted": stats.accepted,
                    "statuses": dict(stats.statuses), "load_s": round(load, 1),
                    "span_s": round(span, 1), "caught_up_s": round(span - load, 1),
                    "cpu_ms_per_dossier": per,
                    "services_ms": round(sum(per.get(s, 0) for s in bench.SERVICES), 2),
                    "p99_ms": bench.pct(stats.latencies, 99),
                    **({"probe": rows} if args.probe else {}),
                }), flush=True)
        finally:
            poller.stop()
            await polling


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=bench.BACKENDS, default="postgresql")
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--probe", action="store_true")
    args = p.parse_args()
    if not (0 < args.rate * args.duration <= bench.MAX_REQUESTS and 1 <= args.rounds <= 10):
        p.error(f"rate × duration ≤ {bench.MAX_REQUESTS}, 1 ≤ rounds ≤ 10")
    os.environ.pop("MOTCUA_TEST_POSTGRES_URL", None)
    root = Path(tempfile.mkdtemp(prefix="motcua-ab-"))
    root.chmod(0o755)  # the embedded PostgreSQL runs as its own user when we are root
    try:
        asyncio.run(run(args, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
