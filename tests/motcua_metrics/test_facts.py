"""The projection (motcua_metrics.facts.service.apply) on a real database: a dossier's
status, whatever the order its events arrive in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from motcua.calendar import Calendar
from motcua.contracts import intake, workflow
from motcua.events import Envelope
from motcua_metrics.facts import service as facts
from motcua_metrics.facts.models import DossierFact, NationalSync
from motcua_metrics.index import aggregates as agg
from motcua_metrics.index import service
from motcua_metrics.index.config import Units, load_index_config
from motcua_metrics.index.periods import parse_period, parse_unit
from tests.motcua_metrics.scenario import P1, Builder, Event, at

PROVINCE = "TFCT"
TODAY = at("11-22").date()


def _returned_then_rated(b: Builder, agency: str, rated_status: int) -> str:
    """Received 2/3, finished 4/3 (early), returned 5/3, rated 6/3 with ``rated_status``."""
    code = b.dossier(1, agency, P1, "online", at("03-02"), at("03-05"))
    b.status(code, 9, at("03-04", "10:00"))
    b.workflow(workflow.CaseCompletedV1, code, at("03-04", "10:00"), procedure_code=P1,
               finished_at=at("03-04", "10:00"), due_at=at("03-05"), classification="early")
    b.status(code, 10, at("03-05", "09:00"))
    b.workflow(workflow.CaseResultReturnedV1, code, at("03-05", "09:00"),
               returned_at=at("03-05", "09:00"), channel="online")
    b.intake(intake.DossierRatedV1, code, rated_status, at("03-06", "09:00"), score=4)
    return code


async def _apply(sessions: Any, events: list[Event]) -> None:
    config = load_index_config()
    ctx = facts.ProjectionContext(province=PROVINCE, calendar=Calendar(), config=config,
                                  units=Units())
    for e in events:  # one transaction per event, as the consumers do
        async with sessions() as session, session.begin():
            env = Envelope.wrap(e.data, province=PROVINCE, key=e.key, sequence=e.sequence)
            await facts.apply(session, env, e.data, ctx, emit=False)


class TestStatus:
    @pytest.mark.parametrize("order", ["natural", "rating_first", "reversed"])
    async def test_a_stale_rating_after_completion_keeps_status_10(self, sessions: Any,
                                                                   order: str) -> None:
        """Agency 1's rating mirrors a stale 9, agency 2's the true 10: same facts, same
        figures; the national record says 10."""
        b = Builder(PROVINCE)
        stale = _returned_then_rated(b, "1", 9)
        fresh = _returned_then_rated(b, "2", 10)
        events = list(b.events)
        if order == "rating_first":
            events.sort(key=lambda e: e.data.event_type() != intake.DossierRatedV1.event_type())
        elif order == "reversed":
            events.reverse()
        config = load_index_config()
        params = agg.Params.of(config)
        async with sessions() as session, session.begin():
            await agg.reset(session, params)
        await _apply(sessions, events)

        async with sessions() as session:
            rows = {f.dossier_code: f for f in (await session.scalars(select(DossierFact)))}
            sent = {s.dossier_code: s.record for s in (await session.scalars(
                select(NationalSync)))}
            documents = [json.loads(json.dumps(await service.index_document(
                session, config, Calendar(), parse_unit(f"agency:{b.agency(a)}"),
                parse_period("2026-03"), TODAY))) for a in "12"]
            assert await agg.compacted_rows(session) == await agg.from_facts(session, params)
        assert (rows[stale].status, rows[stale].finish_status) == (10, 9)
        assert rows[stale].finish_day == at("03-04").date() and rows[stale].outcome == "early"
        skip = {"dossier_code", "agency_code", "updated_at"}
        columns = [c.name for c in DossierFact.__table__.columns if c.name not in skip]
        assert {c: getattr(rows[stale], c) for c in columns} == \
            {c: getattr(rows[fresh], c) for c in columns}
        assert sent[stale]["TrangThaiHoSo"] == sent[fresh]["TrangThaiHoSo"] == 10
        counts = documents[0]["counts"]
        assert (counts["settlement_scope"], counts["early"], counts["results"]) == (1, 1, 1)
        assert documents[0]["counts"] == documents[1]["counts"]
        assert documents[0]["groups"] == documents[1]["groups"]
