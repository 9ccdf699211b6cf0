"""The drill-down from the index aggregates (motcua_metrics.index.drilldown) against the
former computation from the facts (``drilldown_from_facts``, the reference).

The random province of ``test_aggregates`` (three agencies in two communes; its dossier
codes do not follow the days, so the streams' first codes interleave) is projected in a
shuffled order, some changes left pending. Then for every dossier and procedure item,
every unit, periods of every kind, narrowed or not: the answer — total, rows, their
order — is JSON-equal to the reference, page by page; consecutive pages add up to the
whole list in dossier-code order; and the fast path answered (the reference is not
called), except for a period that starts after its judging day.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterator
from typing import Any

from motcua.calendar import Calendar
from motcua_metrics.index import aggregates as agg
from motcua_metrics.index import drilldown, service
from motcua_metrics.index.config import load_index_config
from motcua_metrics.index.periods import parse_period, parse_unit
from tests.motcua_metrics.test_aggregates import (
    PROVINCE,
    TODAY,
    _ctx,
    _project,
    _unit_names,
    random_events,
)

PERIODS = ("2026-02", "2026-Q1", "2026", "2026-02-10..2026-04-05", "2026-04-30..2026-05-20",
           "2027-01")
A1, A3 = f"000.01.17.{PROVINCE}", f"000.03.17.{PROVINCE}"
#: Narrowings of a province or commune (an officer's agencies), one outside the province.
NARROWED = (frozenset({A1}), frozenset({A1, A3}), frozenset({"000.01.17.OTHER"}))


async def _projected(sessions: Any, *, seed: int, dossiers: int) -> Any:
    """A random province projected live onto freshly built aggregates; its index config."""
    config = load_index_config()
    async with sessions() as session, session.begin():
        await agg.reset(session, agg.Params.of(config))
    await _project(sessions, random_events(seed, dossiers=dossiers), _ctx(config),
                   random.Random(seed))
    return config


def _items(config: Any) -> list[str]:
    specs = drilldown._specs(config)
    return [i for i, s in specs.items() if s.kind in ("dossier", "procedure")]


@contextlib.contextmanager
def _no_reference(allowed: bool) -> Iterator[None]:
    """Fail if the rows are counted from the facts (unless ``allowed``)."""
    original = drilldown._from_facts

    async def refused(*args: Any, **kwargs: Any) -> Any:
        if not allowed:
            raise AssertionError("the drill-down fell back to the facts")
        return await original(*args, **kwargs)

    drilldown._from_facts = refused  # type: ignore[assignment]
    try:
        yield
    finally:
        drilldown._from_facts = original  # type: ignore[assignment]


class TestDrilldownFromAggregates:
    async def test_every_item_unit_and_period_equals_the_facts(self, sessions: Any) -> None:
        config = await _projected(sessions, seed=17, dossiers=90)
        calendar = Calendar()
        compared = rows_seen = paged = 0
        async with sessions() as session:
            for unit_name in _unit_names():
                unit = parse_unit(unit_name)
                narrowings = (None, *NARROWED) if unit.kind != "agency" else (None,)
                for label in PERIODS:
                    period = parse_period(label)
                    doc = await service.index_document(session, config, calendar, unit, period,
                                                       TODAY)
                    future = period.start > period.judged_on(TODAY)
                    for item_id in _items(config):
                        for agencies in narrowings:
                            kwargs = {"agencies": agencies, "doc": doc}
                            whole = await drilldown.drilldown_from_facts(
                                session, config, calendar, unit, period, TODAY, item_id,
                                limit=10_000, **kwargs)
                            with _no_reference(allowed=future):
                                fast = await drilldown.drilldown(
                                    session, config, calendar, unit, period, TODAY, item_id,
                                    limit=10_000, **kwargs)
                            assert _json(fast) == _json(whole), (unit_name, label, item_id,
                                                                 agencies)
                            rows = whole["rows"]
                            keys = [r.get("dossier_code") or r["procedure_code"] for r in rows]
                            assert keys == sorted(keys) and len(set(keys)) == len(keys)
                            assert whole["total"] == len(rows)
                            compared += 1
                            rows_seen += len(rows)
                            if agencies is not None:
                                continue  # paging is the same code with or without them
                            # Pages of 4: each equals the reference's, and they add up.
                            pages: list[dict[str, Any]] = []
                            for offset in range(0, len(rows) + 4, 4):
                                with _no_reference(allowed=future):
                                    page = await drilldown.drilldown(
                                        session, config, calendar, unit, period, TODAY,
                                        item_id, limit=4, offset=offset, **kwargs)
                                assert page["total"] == whole["total"]
                                pages += page["rows"]
                                if offset in (0, 4) or offset >= len(rows) - 4:
                                    reference = await drilldown.drilldown_from_facts(
                                        session, config, calendar, unit, period, TODAY,
                                        item_id, limit=4, offset=offset, **kwargs)
                                    assert _json(page) == _json(reference)
                            assert pages == rows
                            paged += len(rows) > 8
        # The data is varied enough to mean something.
        assert compared > 1_000 and rows_seen > 3_000 and paged > 50

    async def test_totals_only_and_unbuilt_aggregates(self, sessions: Any) -> None:
        """``limit=0`` gives the total alone; without aggregates the facts answer."""
        config = await _projected(sessions, seed=3, dossiers=40)
        calendar = Calendar()
        unit, period = parse_unit(f"province:{PROVINCE}"), parse_period("2026")
        async with sessions() as session:
            whole = await drilldown.drilldown_from_facts(
                session, config, calendar, unit, period, TODAY, "digitisation.reuse")
            assert whole["total"] > 5
            with _no_reference(allowed=False):
                only = await drilldown.drilldown(session, config, calendar, unit, period,
                                                 TODAY, "digitisation.reuse", limit=0)
            assert (only["total"], only["rows"]) == (whole["total"], [])
        async with sessions() as session, session.begin():
            await agg.reset(session, agg.Params(max_supplement_requests=9,
                                                dislike_max_score=0))
        async with sessions() as session:
            with _no_reference(allowed=True):
                fallback = await drilldown.drilldown(session, config, calendar, unit, period,
                                                     TODAY, "digitisation.reuse")
            assert _json(fallback) == _json(whole)


def _json(doc: dict[str, Any]) -> Any:
    return json.loads(json.dumps(doc, default=str))
