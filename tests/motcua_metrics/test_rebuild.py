"""Rebuild from the streams equals the live projection; delivery order and duplicates do
not change any figure."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from motcua.calendar import Calendar
from motcua.testing import Mesh, wait_for
from motcua_metrics.catalog.models import CatalogAgency, CatalogVersion
from motcua_metrics.db import Base
from motcua_metrics.facts.models import DossierFact, EmcSent, NationalSync
from motcua_metrics.index import aggregates, service
from motcua_metrics.index.config import load_index_config
from motcua_metrics.index.periods import parse_period, parse_unit
from motcua_metrics.rebuild import rebuild
from tests.e2e.helpers import unpublished
from tests.motcua_metrics import scenario
from tests.motcua_metrics.helpers import applied, envelopes, index, items, publish
from tests.motcua_metrics.test_index_scenario import _check_agency_a

PERIODS = ("2026-02", "2026-03", "2026-Q1", "2026", "2026-03-01..2026-03-15")
TODAY = date(2026, 11, 22)


async def _figures(sessions: Any, province: str) -> dict[str, Any]:
    config = load_index_config()
    calendar = Calendar()
    units = [f"agency:000.01.17.{province}", f"agency:000.02.17.{province}",
             f"province:{province}"]
    out: dict[str, Any] = {}
    async with sessions() as session:
        for u in units:
            for p in PERIODS:
                out[f"{u} {p}"] = await service.index_document(
                    session, config, calendar, parse_unit(u), parse_period(p), TODAY)
        for p in PERIODS:
            out[f"ranking {p}"] = await service.ranking(session, config, calendar, "agency",
                                                        parse_period(p), TODAY)
    return out


async def _rows(sessions: Any) -> dict[str, Any]:
    async with sessions() as session:
        facts = (await session.scalars(select(DossierFact))).all()
        synced = (await session.scalars(select(NationalSync))).all()
        emc = (await session.scalars(select(EmcSent.tracking_id))).all()
        versions = (await session.scalars(select(CatalogVersion))).all()
        agencies = (await session.execute(select(
            CatalogAgency.procedure_code, CatalogAgency.version, CatalogAgency.agency_code,
            CatalogAgency.province_code, CatalogAgency.commune_code))).all()
        index_rows = await aggregates.compacted_rows(session)
    skip = {"updated_at"}
    columns = [c.name for c in Base.metadata.tables["dossier_fact"].columns if c.name not in skip]
    version_columns = [c.name for c in Base.metadata.tables["catalog_version"].columns]
    return {"facts": {f.dossier_code: {c: getattr(f, c) for c in columns} for f in facts},
            "synced": {s.dossier_code: (s.record_id, s.content_sha256) for s in synced},
            "emc": sorted(emc),
            "catalog": {(v.procedure_code, v.version): {c: getattr(v, c)
                                                        for c in version_columns}
                        for v in versions},
            "catalog_agencies": sorted(tuple(a) for a in agencies),
            # The index aggregates (pending changes folded in) follow the facts.
            "index_aggregates": index_rows}


class TestRebuild:
    async def test_shuffled_duplicated_delivery_then_rebuild_equals_live(self, mesh: Mesh,
                                                                         ) -> None:
        metrics = await mesh.start("metrics")
        events = envelopes(mesh, scenario.build(mesh.province))
        duplicates = await publish(mesh, events, shuffle_seed=7, duplicate_every=3)
        assert duplicates > 10
        await applied(metrics, len(events), duplicates)
        # Out of order and duplicated: the hand-worked figures all the same.
        _check_agency_a(await index(metrics, f"agency:000.01.17.{mesh.province}", "2026-03"))
        await wait_for(lambda: _drained(metrics), what="national records published")

        live = await _figures(metrics.runtime.sessions, mesh.province)
        live_rows = await _rows(metrics.runtime.sessions)

        fresh_url = await mesh.make_database("metrics_rebuilt")
        report = await rebuild(mesh.settings("metrics"), database_url=fresh_url, batch=7)
        assert report.applied == len(events)
        assert report.duplicates == duplicates
        assert report.read["intake"] + report.read["workflow"] + report.read["payments"] + \
            report.read["identity"] == len(events) + duplicates

        from motcua.db import create_engine, session_factory
        engine = create_engine(fresh_url)
        try:
            rebuilt = await _figures(session_factory(engine), mesh.province)
            rebuilt_rows = await _rows(session_factory(engine))
        finally:
            await engine.dispose()
        assert rebuilt == live
        assert rebuilt_rows == live_rows
        assert len(live_rows["index_aggregates"]) > 40
        assert len(live_rows["catalog"]) == 7 and len(live_rows["catalog_agencies"]) == 9
        march = items(live[f"agency:000.01.17.{mesh.province} 2026-03"])
        assert march["progress.settlement"]["points"] == round(100 / 9, 4)
        assert march["online.procedures_online"]["points"] == 3.75

    async def test_rebuild_in_place_is_idempotent(self, mesh: Mesh) -> None:
        metrics = await mesh.start("metrics")
        events = envelopes(mesh, scenario.build(mesh.province))
        await publish(mesh, events)
        await applied(metrics, len(events))
        before = await _figures(metrics.runtime.sessions, mesh.province)
        await mesh.stop("metrics")
        report = await rebuild(mesh.settings("metrics"))
        assert report.applied == len(events)
        metrics = await mesh.start("metrics")
        after = await _figures(metrics.runtime.sessions, mesh.province)
        assert after == before


async def _drained(metrics: Any) -> bool:
    return await unpublished(metrics) == 0
