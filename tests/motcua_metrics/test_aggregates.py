"""Index aggregates (motcua_metrics.index.aggregates) against the facts.

A random province (three agencies in two communes, four procedures, dossiers over half a
year with supplements, open and closed pauses, extensions, transfers, refusals,
withdrawals, results, returns, ratings and complaints, payments, documents, clock skew) is
projected event by event in a shuffled order, with compactions at random points. Then:

* the aggregate rows (pending changes included) equal the rows recomputed from the facts
  — before and after compaction, and after a rebuild from the facts;
* the index of every unit × period (months, quarters, years, ranges cutting months, the
  period of "today", a future one) and the rankings are JSON-equal to the index computed
  straight from the facts (``index.service.*_from_facts``), also for other
  classification parameters;
* the aggregates are not used while they were not built for the configuration's
  parameters, and are built from existing facts at start-up.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from motcua.calendar import Calendar
from motcua.contracts import identity, intake, payments, workflow
from motcua.events import Envelope
from motcua_metrics.catalog import service as catalog
from motcua_metrics.facts import service as facts
from motcua_metrics.index import aggregates as agg
from motcua_metrics.index import service
from motcua_metrics.index.config import Agency, Units, load_index_config, parse_index_config
from motcua_metrics.index.models import IndexAggregateState, IndexCount, IndexPending
from motcua_metrics.index.periods import parse_period, parse_unit
from tests.motcua_metrics.scenario import TZ, Builder, Event, procedure_published

PROVINCE = "TAGG"
TODAY = date(2026, 5, 20)
PROCEDURES = ("1.001193", "2.000477", "1.004227", "2.001234")
PERIODS = ("2026-01", "2026-02", "2026-03", "2026-05", "2026-06", "2026-Q1", "2026-Q2",
           "2026", "2025", "2026-02-10..2026-04-05", "2026-03-01..2026-03-31",
           "2026-04-30..2026-05-20", "2025-12-15..2026-06-30", "2027-01")


def _units() -> Units:
    return Units({
        f"000.01.17.{PROVINCE}": Agency(f"000.01.17.{PROVINCE}", commune=f"{PROVINCE}.C1"),
        f"000.02.17.{PROVINCE}": Agency(f"000.02.17.{PROVINCE}", commune=f"{PROVINCE}.C1"),
        f"000.03.17.{PROVINCE}": Agency(f"000.03.17.{PROVINCE}", commune=f"{PROVINCE}.C2"),
    })


def _unit_names() -> list[str]:
    return [f"province:{PROVINCE}", f"commune:{PROVINCE}.C1", f"commune:{PROVINCE}.C2",
            *(f"agency:000.0{a}.17.{PROVINCE}" for a in "123")]


def _working(day: datetime, days: int) -> datetime:
    while days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def random_events(seed: int, dossiers: int = 70) -> list[Event]:
    """Every event of a random province (see the module docstring)."""
    rnd = random.Random(seed)
    b = Builder(PROVINCE)
    start = datetime(2026, 1, 5, 8, 0, tzinfo=TZ)
    for n in range(1, dossiers + 1):
        agency = rnd.choice("1123")
        procedure = rnd.choice(PROCEDURES)
        received = start + timedelta(days=rnd.randint(0, 150), hours=rnd.randint(0, 8))
        if received.weekday() >= 5:
            received += timedelta(days=7 - received.weekday())
        if rnd.random() < 0.08:  # refused at the desk, or withdrawn before reception
            code = b.code(agency, n)
            b.intake(intake.DossierSubmittedV1, code, 1, received, procedure=procedure,
                     channel="direct", applicant_kind="individual")
            if rnd.random() < 0.5:
                b.intake(intake.DossierRefusedV1, code, 3, received + timedelta(minutes=20),
                         procedure=procedure, reasons=["thiếu giấy tờ"])
            else:
                b.intake(intake.DossierWithdrawnV1, code, 7, received + timedelta(hours=2),
                         procedure=procedure)
            continue
        due = _working(received, rnd.choice((1, 2, 3, 5, 10)))
        fee = procedure.startswith("2.")
        code = b.dossier(n, agency, procedure, rnd.choice(("online", "online", "direct",
                                                             "postal")), received, due, fee=fee)
        if rnd.random() < 0.2:  # signed in through VNeID
            submitted = next(e for e in b.events if e.key == code)
            submitted.data = submitted.data.model_copy(update={"vneid_verified": True})
        when = received + timedelta(hours=2)
        # Asked on the due day itself and never answered: the clock stopped on it (p == u).
        due_day_pause = rnd.random() < 0.1
        for k in range(0 if due_day_pause else rnd.choice((0, 0, 0, 1, 1, 2, 3))):
            when += timedelta(hours=rnd.randint(1, 40))
            b.status(code, 5, when)
            b.workflow(workflow.CaseSupplementRequestedV1, code, when,
                       request_id=f"rq{n}-{k}", items=["CCCD"], request_count=k + 1)
            if rnd.random() < 0.75:  # answered; else the pause stays open
                when += timedelta(hours=rnd.randint(2, 60))
                b.intake(intake.DossierSupplementedV1, code, 4, when, procedure=procedure)
                b.status(code, 4, when + timedelta(minutes=30))
            else:
                break
        if due_day_pause:
            b.status(code, 5, due.replace(hour=9))
            b.workflow(workflow.CaseSupplementRequestedV1, code, due.replace(hour=9),
                       request_id=f"rq{n}-due", items=["GKS"], request_count=1)
        if fee and rnd.random() < 0.3:  # an assessment without lines: fee data not synced
            b.payment(payments.FeeAssessedV1(
                assessment_id=f"as{n}", dossier_code=code, agency_code=b.agency(agency),
                procedure_code=procedure, occurred_at=received + timedelta(minutes=1),
                total_vnd=50_000, exempted_vnd=0, payable_vnd=50_000, collect="before",
                pay_before_processing=False, lines=[]), code)
        if rnd.random() < 0.1:
            b.workflow(workflow.CaseExtendedV1, code, when + timedelta(hours=1),
                       apology_id=f"ap{n}", original_due_at=due,
                       new_due_at=due + timedelta(days=5), reason="xác minh",
                       notice_in_time=True)
        if rnd.random() < 0.08:
            b.workflow(workflow.CaseTransferredV1, code, when + timedelta(hours=1),
                       from_agency_code=b.agency(agency), to_agency_code=b.agency("3"),
                       leg=1, acknowledge_by=when + timedelta(hours=3))
        if rnd.random() < (0.8 if fee else 0.1):  # (a payment without fees: bad data)
            online = rnd.random() < 0.5
            b.payment(payments.PaymentSettledV1(
                payment_id=f"pay{n}", reference=f"REF{n}", dossier_code=code,
                agency_code=b.agency(agency), amount_vnd=50_000,
                occurred_at=received + timedelta(minutes=30),
                method="gateway" if online else "cash", paid_online=online,
                online_payment_code=1 if online else 0, receipt_id=f"rc{n}",
                receipt_number=f"{n:07d}", settled_via="callback" if online else "counter"),
                code)
        if rnd.random() < 0.5:
            b.identity(identity.DocumentReusedV1(
                document_id=f"doc{n}", document_type="CCCD", issuing_agency="BCA",
                reuse_id=f"r{n}", dossier_code=code, component_code="TP01", reused=True,
                from_national_store=rnd.random() < 0.5,
                reused_at=received + timedelta(minutes=5)), code)
        if rnd.random() < 0.4:
            b.identity(identity.PopulationLookedUpV1(
                lookup_id=f"lk{n}", purpose="reception", dossier_code=code,
                actor_kind="officer", found=rnd.random() < 0.8,
                looked_up_at=received + timedelta(minutes=2)), code)
        fate = rnd.random()
        if fate < 0.15 or due_day_pause:
            continue  # still open
        if fate < 0.2:
            end = rnd.choice((8, 7))
            b.status(code, end, when + timedelta(hours=rnd.randint(1, 300)))
            continue
        if fate < 0.27:
            finished = received - timedelta(days=1, hours=2)  # clock skew: before reception
        elif fate < 0.5:
            finished = due.replace(hour=16)  # on the due day (on time without supplements)
        else:
            finished = _working(when, rnd.choice((0, 1, 2, 3, 5, 8))) + timedelta(
                hours=rnd.randint(0, 5))
        b.status(code, 9, finished)
        if rnd.random() < 0.6:
            b.workflow(workflow.CaseCompletedV1, code, finished, procedure_code=procedure,
                       finished_at=finished, due_at=due, classification="on_time",
                       result=workflow.ResultDocument(name="kq.pdf",
                                                      media_type="application/pdf",
                                                      sha256="0" * 64)
                       if rnd.random() < 0.7 else None)
        if rnd.random() < 0.5:
            back = finished + timedelta(hours=rnd.randint(1, 50))
            b.status(code, 10, back)
            b.workflow(workflow.CaseResultReturnedV1, code, back, returned_at=back,
                       channel="direct")
        if rnd.random() < 0.5:
            b.intake(intake.DossierRatedV1, code, 10, finished + timedelta(days=1),
                     procedure=procedure, score=rnd.randint(1, 5),
                     complaint=rnd.random() < 0.1)
    for i, procedure in enumerate(PROCEDURES):
        b.events.append(Event(procedure_published(
            PROVINCE, procedure, 1, "123"[: 1 + i % 3], datetime(2026, 1, 2, 9, tzinfo=TZ),
            decision=None, valid_from=None, online=i != 3), procedure, 1))
    return b.events


async def _project(sessions: Any, events: list[Event], ctx: facts.ProjectionContext,
                   rnd: random.Random) -> None:
    """Apply the events in a shuffled order, a few per transaction, compacting sometimes."""
    order = list(events)
    rnd.shuffle(order)
    types = {cls.event_type(): apply for cls, apply in (
        (intake.ProcedurePublishedV1, catalog.apply),)}
    i = 0
    while i < len(order):
        chunk = order[i:i + rnd.randint(1, 6)]
        i += len(chunk)
        async with sessions() as session, session.begin():
            for e in chunk:
                env = Envelope.wrap(e.data, province=PROVINCE, key=e.key, sequence=e.sequence)
                apply = types.get(env.type, facts.apply)
                await apply(session, env, e.data, ctx, emit=False)
            if rnd.random() < 0.3 and i < len(order):  # the last changes stay pending
                await agg.compact(session)


def _sweep() -> list[tuple[str, str]]:
    """Periods ending on every day of the data (every judging day, so every due day of an
    unfinished dossier is one), for the province and a commune."""
    out = []
    day = date(2026, 1, 1)
    while day <= date(2026, 6, 30):
        out.append((f"province:{PROVINCE}", f"{day - timedelta(days=9)}..{day}"))
        if day.day % 3 == 0:
            out.append((f"commune:{PROVINCE}.C1", f"2026-01-01..{day}"))
        day += timedelta(days=1)
    return out


async def _documents(sessions: Any, config: Any, *, from_facts: bool,
                     sweep: bool = False) -> dict[str, Any]:
    calendar = Calendar()
    out: dict[str, Any] = {}
    cases = [(u, p) for u in _unit_names() for p in PERIODS] + (_sweep() if sweep else [])
    async with sessions() as session:
        for unit, period in cases:
            u, p = parse_unit(unit), parse_period(period)
            if from_facts:
                doc = await service.index_document_from_facts(session, config, calendar, u,
                                                              p, TODAY)
            else:
                doc = await service.index_document(session, config, calendar, u, p, TODAY)
            out[f"{unit} {period}"] = json.loads(json.dumps(doc))
        for level in ("agency", "commune", "province"):
            for period in ("2026-03", "2026-Q2", "2026"):
                for within in (None, parse_unit(f"province:{PROVINCE}")):
                    out[f"ranking {level} {period} {within}"] = json.loads(json.dumps(
                        await service.ranking(session, config, calendar, level,
                                              parse_period(period), TODAY, within,
                                              from_facts=from_facts)))
    return out


def _without_sweep(docs: dict[str, Any]) -> dict[str, Any]:
    swept = {f"{u} {p}" for u, p in _sweep()} - {f"{u} {p}" for u in _unit_names()
                                                  for p in PERIODS}
    return {k: v for k, v in docs.items() if k not in swept}


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return [k for k in a if a[k] != b.get(k)] + [k for k in b if k not in a]


def _ctx(config: Any) -> facts.ProjectionContext:
    return facts.ProjectionContext(province=PROVINCE, calendar=Calendar(), config=config,
                                   units=_units())


async def _aggregate_rows(sessions: Any) -> agg.Counts:
    async with sessions() as session:
        return await agg.compacted_rows(session)


async def _recomputed(sessions: Any, params: agg.Params) -> agg.Counts:
    async with sessions() as session:
        return await agg.from_facts(session, params)


class TestAggregates:
    async def test_random_province_aggregates_equal_the_facts(self, sessions: Any) -> None:
        seed = 11
        config = load_index_config()
        params = agg.Params.of(config)
        async with sessions() as session, session.begin():
            await agg.reset(session, params)  # built over no facts: the events maintain it
        events = random_events(seed)
        await _project(sessions, events, _ctx(config), random.Random(seed))

        async with sessions() as session:
            pending = await session.scalar(select(func.count()).select_from(IndexPending))
        assert pending  # some changes are not compacted yet: reads must add them
        # The rows the events built, pending changes folded in, are the facts' rows.
        expected = await _recomputed(sessions, params)
        assert len(expected) > 100
        assert any(k[1] == "x" for k in expected)  # clock skew: finished before reception
        assert await _aggregate_rows(sessions) == expected
        from_facts = await _documents(sessions, config, from_facts=True, sweep=True)
        assert _differences(await _documents(sessions, config, from_facts=False, sweep=True),
                            from_facts) == []
        # The data is varied enough to mean something.
        counts = [d["counts"] for k, d in from_facts.items() if k.startswith("province")]
        for name in ("in_process_within_time", "in_process_overdue", "late_finished",
                     "early", "on_time", "disliked_or_complained", "results", "with_fees"):
            assert any(c[name] for c in counts), name

        async with sessions() as session, session.begin():
            await agg.compact(session)
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(IndexPending)) == 0
        assert await _aggregate_rows(sessions) == expected
        assert _differences(await _documents(sessions, config, from_facts=False),
                            _without_sweep(from_facts)) == []

        # A rebuild from the facts arrives at the same rows.
        report = await agg.rebuild_from_facts(sessions, config)
        assert report["built"] and report["facts"] == len({e.key for e in events
                                                           if hasattr(e.data, "dossier_code")})
        assert await _aggregate_rows(sessions) == expected

        # Other classification parameters: other rows, still the facts' figures.
        other = parse_index_config({**_raw_config(), "classification": {
            "dislike_max_score": 3, "max_supplement_requests": 2}})
        other_params = agg.Params.of(other)
        async with sessions() as session:
            assert not await agg.state_matches(session, other_params)
        # Not built for them yet: the index is computed from the facts meanwhile.
        reference = await _documents(sessions, other, from_facts=True, sweep=True)
        assert _differences(await _documents(sessions, other, from_facts=False),
                            _without_sweep(reference)) == []
        await agg.rebuild_from_facts(sessions, other)
        assert await _aggregate_rows(sessions) == await _recomputed(sessions, other_params)
        assert await _aggregate_rows(sessions) != expected
        assert _differences(await _documents(sessions, other, from_facts=False, sweep=True),
                            reference) == []

    async def test_contributions_follow_the_rules(self) -> None:
        """Hand-checked contributions of one overdue dossier and one finished before its
        reception (clock skew)."""
        params = agg.Params(max_supplement_requests=1, dislike_max_score=2)

        class Fact:
            received_day, finish_day, finish_status = date(2026, 3, 30), None, None
            due_day, open_pause_day, supplement_count = date(2026, 4, 2), None, 0
            outcome, channel, national_synced, reused = None, "online", True, False
            from_national_store = electronic_result = population_verified = False
            vneid_verified = has_fees = paid_online = fee_data_synced = digitised = False
            rating, complaint = 2, False
            province_code, commune_code = PROVINCE, None
            agency_code, procedure_code = f"000.01.17.{PROVINCE}", "1.001193"

        rows = agg.contributions(Fact(), params)
        opened = {(k[1], k[2]): v[agg.OPEN_N:agg.OPEN_RATED + 1] for k, v in rows.items()
                  if k[0] == "o"}
        # One fact of the agency, synced.
        assert rows[("f", "a", agg.NO_DAY, None, PROVINCE, None, f"000.01.17.{PROVINCE}",
                     None)][agg.FACTS_N:] == [1, 0]
        # Unfinished from 30/3; within time up to the due day, overdue from the day after.
        # (open, within, overdue, disliked, rated): unfinished from 30/3, within time up to
        # the due day 2/4, overdue from 3/4; rated 2 (disliked) all along.
        assert opened == {
            ("d", date(2026, 3, 30)): [1, 1, 0, 1, 1],
            ("m", date(2026, 3, 1)): [1, 1, 0, 1, 1],
            ("d", date(2026, 4, 3)): [0, -1, 1, 0, 0],
            ("m", date(2026, 4, 1)): [0, -1, 1, 0, 0],
            ("y", date(2026, 1, 1)): [1, 0, 1, 1, 1],
        }
        Fact.rating = None
        Fact.complaint = True
        skew = Fact()
        skew.finish_day, skew.finish_status, skew.outcome = date(2026, 3, 29), 9, "early"
        rows = agg.contributions(skew, params)
        finished = [k for k, v in rows.items() if v[agg.FINISHED]]
        assert finished == [("t", "x", date(2026, 3, 29), date(2026, 3, 30), PROVINCE, None,
                             f"000.01.17.{PROVINCE}", "1.001193")]
        assert not [k for k in rows if k[0] == "o"]  # never unfinished after reception
        assert rows[finished[0]][agg.FINISHED_DISLIKED] == 1  # a complaint

    def test_a_plan_counts_every_day_of_the_range_once(self) -> None:
        """Year, month and day rows added and subtracted cover each day once."""
        rnd = random.Random(7)
        for _ in range(400):
            first = date(2024, 1, 1) + timedelta(days=rnd.randint(0, 1000))
            last = first + timedelta(days=rnd.choice((0, 1, 5, 20, 40, 90, 200, 400, 800)))
            judged = last - timedelta(days=rnd.randint(0, 10))
            parts = agg.plan(first, last, lambda d, j=judged: 1.0 if d <= j else 0.05)
            net: dict[date, int] = {}
            for sign, grain, lo, hi in parts:
                day = lo
                end = {"d": hi, "m": agg._month_end(hi),
                       "y": date(hi.year, 12, 31)}[grain]
                while day <= end:
                    net[day] = net.get(day, 0) + sign
                    day += timedelta(days=1)
            covered = {d for d, n in net.items() if n}
            assert all(n in (0, 1) for n in net.values()), (first, last, parts)
            assert covered == {first + timedelta(days=i)
                               for i in range((last - first).days + 1)}, (first, last, parts)
        # A whole year is one row; the current year so far is the year less what is to come.
        assert agg.plan(date(2025, 1, 1), date(2025, 12, 31), lambda d: 1.0) == [
            (1, "y", date(2025, 1, 1), date(2025, 1, 1))]
        today = date(2026, 11, 22)
        assert agg.plan(date(2026, 1, 1), today, lambda d: 1.0 if d <= today else 0.05) == [
            (-1, "d", date(2026, 11, 23), date(2026, 11, 30)),
            (-1, "m", date(2026, 12, 1), date(2026, 12, 1)),
            (1, "y", date(2026, 1, 1), date(2026, 1, 1))]

    async def test_built_from_existing_facts_at_start(self, sessions: Any) -> None:
        """A database whose facts predate the aggregates: the index is read from the facts
        until the service builds the aggregates; then from them, with the same figures."""
        config = load_index_config()
        await _project(sessions, random_events(5, dossiers=25), _ctx(config),
                       random.Random(5))
        async with sessions() as session, session.begin():
            for model in (IndexPending, IndexCount, IndexAggregateState):
                await session.execute(delete(model))
        reference = await _documents(sessions, config, from_facts=True)
        async with sessions() as session:
            assert not await agg.state_matches(session, agg.Params.of(config))
            assert await session.scalar(select(func.count()).select_from(IndexCount)) == 0
        assert _differences(await _documents(sessions, config, from_facts=False),
                            reference) == []
        await agg.ensure_built(sessions, config)
        async with sessions() as session:
            assert await agg.state_matches(session, agg.Params.of(config))
            assert await session.scalar(select(func.count()).select_from(IndexCount)) > 0
        assert await _aggregate_rows(sessions) == await _recomputed(
            sessions, agg.Params.of(config))
        assert _differences(await _documents(sessions, config, from_facts=False),
                            reference) == []
        # Built once: a second start does nothing.
        async with sessions() as session:
            built_at = (await session.get(IndexAggregateState, 1)).built_at
        await agg.ensure_built(sessions, replace(config))
        async with sessions() as session:
            assert (await session.get(IndexAggregateState, 1)).built_at == built_at


def _raw_config() -> dict[str, Any]:
    import tomllib

    from motcua_metrics.index.config import DEFAULT_INDEX

    with DEFAULT_INDEX.open("rb") as f:
        return tomllib.load(f)
