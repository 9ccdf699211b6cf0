"""Run a simulation: check the mesh, read the catalog, sign people in, play every
dossier's story with bounded concurrency, then check what the mesh says about it."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from motcua.simulate import plan as plans
from motcua.simulate.catalog import load_agencies, load_procedures
from motcua.simulate.http import SERVICES, Api, ApiError, HttpStats, Targets
from motcua.simulate.inbox import Inboxes
from motcua.simulate.journey import Journey, World
from motcua.simulate.people import SetupError, SignIn, make_citizens
from motcua.simulate.report import Progress, Report

VIETNAM = timezone(timedelta(hours=7))
#: Dossiers in a simulated working day of the sample province (three agencies).
DAY = 150
#: Working days in a simulated month.
MONTH_DAYS = 22
#: Roles whose officers the simulation signs in up front (fails fast without them).
ROLES = ("receptionist", "processor", "approver", "auditor")


@dataclass
class SimulationConfig:
    """How much, how fast, and against what."""

    dossiers: int = 20
    seed: int | str = 1
    concurrency: int = 8
    province: str = "H56"
    #: Agencies to simulate (default: the three sample agencies of the province).
    agencies: list[str] | None = None
    #: Restrict to these procedure codes (default: every usable published procedure).
    procedures: list[str] | None = None
    #: Force the stories, cycled over the dossiers (default: drawn from plan.OUTCOMES).
    outcomes: list[str] | None = None
    #: The sample staff: development password and username pattern.
    password: str = "motcua-dev"
    username_format: str = "{prefix}.{unit}"
    #: Register the synthetic citizens at the (mock) identity provider first.
    register_citizens: bool = True
    #: Distinct citizens (default: 80 % of the dossiers).
    citizens: int | None = None
    poll_s: float = 0.25
    wait_timeout_s: float = 120.0
    #: How long a payer waits for the dossier to ask for payment before reading the
    #: assessment anyway.
    hold_wait_s: float = 30.0
    #: How long to wait for metrics to project everything at the end.
    settle_timeout_s: float = 60.0
    #: Seconds between two arrivals (0: as fast as the concurrency allows).
    arrival_interval_s: float = 0.0
    services: tuple[str, ...] = field(default=SERVICES)

    def agency_codes(self) -> list[str]:
        """The simulated agencies."""
        return self.agencies or [f"000.0{n}.17.{self.province}" for n in range(3)]


async def _check_ready(api: Api, services: tuple[str, ...]) -> None:
    for name in services:
        try:
            await api.call(name, "GET", "/readyz", route="/readyz")
        except ApiError as exc:
            raise SetupError(f"{name} is not ready ({exc}); is `motcua up` running?") from exc


async def _final_statuses(api: Api, signin: SignIn, journeys: list[Journey]) -> None:
    for j in journeys:
        if j.code is None:
            continue
        token = await signin.officer(j.plan.agency_code, "auditor")
        try:
            body = await api.json("intake", "GET", f"/v1/dossiers/{j.code}",
                                  route="/v1/dossiers/{code}", token=token, dossier=j.code)
        except ApiError:
            continue
        j.final = {"status": body["status"], "channel": body["channel"]}


async def _metrics(api: Api, report: Report, journeys: list[Journey], since: datetime,
                   timeout: float, poll_s: float) -> None:
    submitted = [j for j in journeys if j.code is not None]
    expected = Counter(str(j.final["status"]) for j in submitted if j.final)
    started = time.monotonic()
    body: dict[str, Any] = {}
    while True:
        body = await api.json("metrics", "GET", "/v1/stats/dossiers",
                              route="/v1/stats/dossiers", params={"since": since.isoformat()})
        by_status = {k: v for k, v in body["by_status"].items() if v}
        consistent = body["submitted"] == len(submitted) and \
            body["cases_opened"] == len(submitted) and by_status == dict(expected)
        if consistent or time.monotonic() - started > timeout:
            break
        await asyncio.sleep(max(poll_s, 0.5))
    report.metrics = {"consistent": consistent, "waited_s": round(time.monotonic() - started, 1),
                      "submitted": body.get("submitted"), "cases_opened": body.get("cases_opened"),
                      "expected_submitted": len(submitted),
                      "by_status": dict(sorted(by_status.items())),
                      "expected_by_status": dict(sorted(expected.items()))}


async def simulate(config: SimulationConfig, targets: Targets, *,
                   progress: Progress | None = None) -> Report:
    """Run one simulation against the services behind ``targets``."""
    stats = HttpStats()
    api = Api(targets, stats)
    now = datetime.now(UTC)
    today = now.astimezone(VIETNAM).date()
    since = now - timedelta(seconds=1)
    report = Report(seed=config.seed, dossiers=config.dossiers,
                    started_at=now.astimezone(VIETNAM).isoformat(timespec="seconds"),
                    http=stats)
    begun = time.monotonic()
    await _check_ready(api, config.services)
    signin = SignIn(api, password=config.password, username_format=config.username_format,
                    register_citizens=config.register_citizens)
    agencies = await load_agencies(api, config.agency_codes())
    if not agencies:
        raise SetupError(f"intake knows none of the agencies {config.agency_codes()}; "
                         "was the sample catalog seeded (`motcua up` without --no-seed)?")
    procedures = await load_procedures(api, agencies, today, config.procedures)
    if not procedures:
        raise SetupError("no published procedure is received by the simulated agencies")
    for code in sorted(agencies):
        for role in ROLES:
            try:
                await signin.officer(code, role)
            except ApiError as exc:
                raise SetupError(
                    f"cannot sign in as {signin.username(code, role)} ({exc}); `motcua up` "
                    "seeds the sample staff and enables dev-login in development") from exc
    citizens = make_citizens(config.seed, config.citizens or
                             max(1, math.ceil(config.dossiers * 0.8)))
    try:
        await signin.citizen(citizens[0])
    except ApiError as exc:
        raise SetupError(f"citizen sign-in failed ({exc}); identity-bridge needs a citizen "
                         "OpenID provider (`motcua up` starts vneid-simulator)") from exc

    stories = config.outcomes
    drawn = [plans.draw(config.seed, i, procedures, agencies, citizens, today,
                        outcome=stories[i % len(stories)] if stories else None)
             for i in range(config.dossiers)]
    report.planned = Counter(p.outcome for p in drawn)
    inboxes = Inboxes(api, signin, poll_s=config.poll_s)
    world = World(api, signin, inboxes, agencies, wait_timeout_s=config.wait_timeout_s,
                  poll_s=config.poll_s, hold_wait_s=config.hold_wait_s,
                  features=report.features, anomalies=report.anomalies)
    journeys = [Journey(world, p) for p in drawn]
    gate = asyncio.Semaphore(config.concurrency)
    finished = 0

    def tick() -> None:
        if progress is not None:
            progress.update(done=finished, failed=sum(1 for j in journeys if j.error),
                            errors=len(stats.failures))

    async def one(journey: Journey) -> None:
        nonlocal finished
        async with gate:
            await journey.run()
        finished += 1
        tick()

    if progress is not None:
        progress.start()
    try:
        running = []
        for journey in journeys:
            running.append(asyncio.create_task(one(journey)))
            if config.arrival_interval_s:
                await asyncio.sleep(config.arrival_interval_s)
        await asyncio.gather(*running)
    finally:
        await inboxes.close()
        if progress is not None:
            await progress.stop()

    await _final_statuses(api, signin, journeys)
    try:
        await _metrics(api, report, journeys, since, config.settle_timeout_s, config.poll_s)
    except ApiError as exc:
        report.metrics = {"consistent": False, "error": str(exc)}
    try:
        index = await api.json("metrics", "GET", "/v1/index", route="/v1/index",
                               params={"unit": f"province:{config.province}",
                                       "period": f"{today:%Y-%m}"})
        totals = index.get("totals") or index
        report.index = {"unit": f"province:{config.province}", "period": f"{today:%Y-%m}",
                        "scaled_100": totals.get("scaled_100"), "points": totals.get("points")}
    except ApiError:
        pass
    for j in journeys:
        if j.outcome is not None:
            report.outcomes[j.outcome] += 1
        else:
            report.failed.append({"index": j.plan.index, "code": j.code,
                                  "story": j.plan.outcome, "error": j.error})
        final = j.final or {}
        report.journeys.append({
            "index": j.plan.index, "code": j.code, "story": j.plan.outcome,
            "done": j.outcome is not None, "procedure": j.plan.procedure.code,
            "channel": j.plan.channel, "agency_code": j.plan.agency_code,
            "reception_point": j.plan.reception_point,
            "transferred_to": j.plan.transfer_to.code if j.plan.transfer_to else None,
            "supplements": j.plan.supplements, "due_before_vnd": j.plan.due_before,
            "paid_by": (j.plan.pay_by if j.plan.due_before else None),
            "rating": j.plan.rating, "final_status": final.get("status"),
            "expected_status": j.plan.final_status, "seconds": round(j.seconds, 2),
            "error": j.error})
    report.sign_ins = dict(signin.counts)
    report.seconds = time.monotonic() - begun
    return report
