"""The catalog projection (intake's ProcedurePublishedV1): idempotent, order-independent
(the procedure version decides), point-in-time; and the deadlines of the publicity items."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from motcua.calendar import Calendar
from motcua.contracts.intake import ProcedurePublishedV1
from motcua.events import Envelope
from motcua.testing import Mesh, RunningService
from motcua_metrics.catalog import rules
from motcua_metrics.catalog import service as catalog
from motcua_metrics.catalog.models import CatalogAgency, CatalogVersion
from motcua_metrics.index.config import CatalogRules
from motcua_metrics.index.service import CATALOG_ITEMS
from tests.motcua_metrics import scenario
from tests.motcua_metrics.helpers import applied, envelopes, index, items, publish
from tests.motcua_metrics.scenario import P1, P5, at, procedure_published

CAL = Calendar()
RULES = CatalogRules(announce_lead_working_days=5, publish_within_working_days=5)


def _envelope(mesh: Mesh, data: Any) -> tuple[str, Envelope]:
    return (data.subject(mesh.province), Envelope.wrap(
        data, province=mesh.province, key=data.procedure_code,
        sequence=data.procedure_version))


async def _counts(metrics: RunningService, mesh: Mesh, period: str) -> dict[str, int]:
    doc = await index(metrics, f"agency:000.01.17.{mesh.province}", period)
    return doc["counts"]


async def _rows(metrics: RunningService) -> tuple[int, int]:
    async with metrics.runtime.sessions() as session:
        versions = await session.scalar(select(func.count()).select_from(CatalogVersion))
        agencies = await session.scalar(select(func.count()).select_from(CatalogAgency))
    return int(versions), int(agencies)


class TestProjection:
    async def test_newer_versions_win_in_any_order_and_past_periods_keep_theirs(
            self, mesh: Mesh) -> None:
        metrics = await mesh.start("metrics")
        p = mesh.province
        withdrawn = procedure_published(p, P5, 2, "1", at("03-20", "09:00"), decision="02-24",
                                        valid_from="03-04", online=True, status="withdrawn",
                                        published=at("03-04", "09:00"))
        first = procedure_published(p, P5, 1, "1", at("03-04", "09:00"), decision="02-24",
                                    valid_from="03-04", online=True)
        online_v2 = procedure_published(p, P1, 2, "12", at("03-02", "07:30"),
                                        decision="02-25", valid_from="03-09", online=True)
        offline_v1 = procedure_published(p, P1, 1, "12", at("02-02", "09:00"),
                                         decision="01-20", valid_from="02-01", online=False)
        # Newest first: every older version arrives after the one that supersedes it.
        await publish(mesh, [_envelope(mesh, e)
                             for e in (withdrawn, online_v2, first, offline_v1)])
        await applied(metrics, 4)

        end = await _counts(metrics, mesh, "2026-03")
        assert (end["catalog_procedures"], end["catalog_online"]) == (1, 1)  # P5 withdrawn
        mid = await _counts(metrics, mesh, "2026-03-01..2026-03-10")
        assert (mid["catalog_procedures"], mid["catalog_online"]) == (2, 2)  # P5 v1 current
        february = await _counts(metrics, mesh, "2026-02")
        assert (february["catalog_procedures"], february["catalog_online"]) == (1, 0)  # P1 v1
        doc = await index(metrics, f"agency:000.02.17.{p}", "2026-03")
        assert items(doc)["online.procedures_online"]["ratio"] == 1.0  # B: P1 v2

        # Applying an event again (without the inbox) changes nothing.
        rows = await _rows(metrics)
        assert rows == (4, 6)
        ctx = metrics.app.state.metrics.projection
        async with metrics.runtime.sessions() as session, session.begin():
            for data in (withdrawn, first):
                _, envelope = _envelope(mesh, data)
                await catalog.apply(session, envelope, data, ctx)
                await catalog.apply(session, envelope, data, ctx)
        assert await _rows(metrics) == (4, 6)
        assert await _counts(metrics, mesh, "2026-03") == end

    async def test_a_same_version_resend_keeps_the_later_one_in_any_order(
            self, mesh: Mesh) -> None:
        metrics = await mesh.start("metrics")
        ctx = metrics.app.state.metrics.projection
        p = mesh.province
        for code, order in (("1.000001", (0, 1)), ("1.000002", (1, 0))):
            earlier = procedure_published(p, code, 1, "1", at("03-02", "08:00"),
                                          decision="02-20", valid_from="03-09", online=False)
            later = procedure_published(p, code, 1, "2", at("03-02", "09:00"),
                                        decision="02-20", valid_from="03-09", online=True,
                                        missing=("le_phi",))
            pair = [_envelope(mesh, earlier)[1], _envelope(mesh, later)[1]]
            datas = [earlier, later]
            for i in order:
                async with metrics.runtime.sessions() as session, session.begin():
                    await catalog.apply(session, pair[i], datas[i], ctx)
        async with metrics.runtime.sessions() as session:
            stored = (await session.scalars(select(CatalogVersion).order_by(
                CatalogVersion.procedure_code))).all()
            agencies = (await session.execute(select(
                CatalogAgency.procedure_code, CatalogAgency.agency_code).order_by(
                CatalogAgency.procedure_code))).all()
        assert [(v.online, v.missing_content, v.agencies) for v in stored] == [
            (True, ["le_phi"], [f"000.02.17.{p}"])] * 2
        assert [a for _, a in agencies] == [f"000.02.17.{p}"] * 2

    async def test_publicity_items_need_catalog_data(self, mesh: Mesh) -> None:
        """Dossiers without any catalog event: the catalog items say why they are missing."""
        metrics = await mesh.start("metrics")
        events = [e for e in scenario.build(mesh.province)
                  if not isinstance(e.data, ProcedurePublishedV1)]
        await publish(mesh, envelopes(mesh, events))
        await applied(metrics, len(events))
        found = items(await index(metrics, f"agency:000.01.17.{mesh.province}", "2026-03"))
        for item in CATALOG_ITEMS:
            assert found[item]["available"] is False
            assert found[item]["reason"]["en"] == (
                "Not available: no procedure of this unit is published in the catalog (no "
                "procedure publication events).")


class TestRules:
    def test_working_days_skip_weekends_and_tet(self) -> None:
        # Tết 2026: Mon 16/2 – Fri 20/2; 14–15 and 21–22 are weekends.
        assert rules.working_days_before(CAL, date(2026, 2, 23), 5) == date(2026, 2, 9)
        assert rules.working_days_after(CAL, date(2026, 2, 13), 1) == date(2026, 2, 23)
        assert rules.working_days_before(CAL, date(2026, 3, 9), 0) == date(2026, 3, 9)

    @pytest.mark.parametrize(("decision", "valid_from", "on_time"), [
        (date(2026, 3, 2), date(2026, 3, 9), True),     # the deadline itself
        (date(2026, 3, 3), date(2026, 3, 9), False),    # one working day late
        (date(2026, 2, 9), date(2026, 2, 23), True),    # Tết is not counted
        (date(2026, 2, 10), date(2026, 2, 23), False),
        (None, date(2026, 3, 9), None),                 # not judged without both dates
        (date(2026, 3, 2), None, None),
    ])
    def test_announced(self, decision: date | None, valid_from: date | None,
                       on_time: bool | None) -> None:
        judgement = rules.announced(CAL, RULES, decision, valid_from)
        assert judgement.on_time is on_time
        assert (judgement.reason is not None) == (on_time is False)

    def test_published_late_says_by_how_much(self) -> None:
        assert rules.published(CAL, RULES, date(2026, 2, 27), date(2026, 3, 6)).on_time
        late = rules.published(CAL, RULES, date(2026, 2, 27), date(2026, 3, 10))
        assert late.on_time is False and late.reason_code == "published_late"
        assert late.reason is not None and late.reason[1].endswith(
            "late by 2 working day(s).")
        assert rules.published(CAL, RULES, None, date(2026, 3, 10)).on_time is None
