"""National sync records and EMC, exports, dashboard, operations, pipeline health and
problem+json, on the hand-worked scenario."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from motcua.contracts import identity
from motcua.events import Envelope
from motcua.testing import Mesh, RunningService, wait_for
from tests.e2e.helpers import stream_messages, unpublished
from tests.motcua_metrics import scenario
from tests.motcua_metrics.helpers import applied, envelopes, publish

UNITS = """
[agencies."000.01.17.{p}"]
name_vi = "UBND xã A"
commune = "C01"
area_type = "rural"
officials = 2
"""


@pytest.fixture
async def metrics(mesh: Mesh, tmp_path: Path) -> RunningService:
    """Metrics with the scenario applied (units file: agency A rural, 2 officials)."""
    units = tmp_path / "units.toml"
    units.write_text(UNITS.format(p=mesh.province), encoding="utf-8")
    mesh.overrides.update(units_file=str(units), pipeline_poll_s=0.2)
    service = await mesh.start("metrics")
    events = envelopes(mesh, scenario.build(mesh.province))
    await publish(mesh, events)
    await applied(service, len(events))
    return service


def _reader(mesh: Mesh) -> dict[str, str]:
    """A mesh service allowed to read dossier-level figures."""
    return mesh.mint.service("reporting", "metrics.read")


def _code(mesh: Mesh, agency: str, n: int) -> str:
    return f"000.0{agency}.17.{mesh.province}-2603{n:02d}-0001"


class TestNationalSync:
    async def test_records_progress_and_emc_with_stable_ids(self, mesh: Mesh,
                                                            metrics: RunningService) -> None:
        d3 = _code(mesh, "1", 3)
        reader = _reader(mesh)
        r = await metrics.client.get(f"/v1/national/records/{d3}", headers=reader)
        assert r.status_code == 200, r.text
        sent = r.json()
        rec = sent["record"]
        assert (rec["MaHoSo"], rec["MaTTHC"], rec["KenhThucHien"], rec["LoaiDoiTuong"]) == \
            (d3, scenario.P2, 2, 1)
        assert (rec["NgayTiepNhan"], rec["NgayHenTra"], rec["NgayKetThucXuLy"]) == \
            ("20260303080000", "20260306080000", "20260310100000")
        assert rec["TrangThaiHoSo"] == 9 and rec["DuocThanhToanTrucTuyen"] == 1
        assert rec["DanhSachLePhi"] == [{"MaPhiLePhi": "LP01", "TenPhiLePhi": "Lệ phí",
                                         "LoaiPhiLePhi": 1, "SoTien": 50000}]
        assert rec["DanhSachGiayToKetQua"] == [{"MaGiayTo": "kq-d3", "LoaiGiayTo": "GP"}]
        d4 = (await metrics.client.get(f"/v1/national/records/{_code(mesh, '1', 4)}",
                                       headers=reader)).json()
        assert d4["record"]["DanhSachHoSoBoSung"] == [
            {"NgayYeuCauBoSung": "20260310080000", "NgayBoSung": "20260311080000"}]
        d10 = (await metrics.client.get(f"/v1/national/records/{_code(mesh, '1', 10)}",
                                        headers=reader)).json()
        assert d10["record"]["TrangThaiHoSo"] == 3
        assert d10["record"]["NgayTuChoi"] == "20260304082000"

        await wait_for(lambda: _drained(metrics), what="outbox drained")
        msgs = [Envelope.from_bytes(m.data) for m in await stream_messages(
            mesh.nats_url, mesh.province, "metrics", "national.dossier_synced")]
        for_d3 = [e for e in msgs if e.subject == d3]
        assert len({e.data["record_id"] for e in for_d3}) == 1
        revisions = [e.sequence for e in for_d3]
        assert revisions == sorted(revisions) and len(set(revisions)) == len(revisions)
        assert for_d3[-1].data["record"] == rec

        # A correction: a late fact re-sends the whole record under the same key.
        late = envelopes(mesh, [scenario.Event(identity.DocumentReusedV1(
            document_id="x", document_type="CCCD", issuing_agency="BCA", reuse_id="r3",
            dossier_code=d3, component_code="TP02", reused=True, from_national_store=False,
            reused_at=scenario.at("03-03", "08:02")), d3, None)])
        await publish(mesh, late, duplicate_every=1)
        await wait_for(lambda: _revision(metrics, d3, sent["revision"], reader),
                       what="correction")
        again = (await metrics.client.get(f"/v1/national/records/{d3}", headers=reader)).json()
        assert again["record_id"] == sent["record_id"]
        assert again["record"]["TaiLieuNop"] == [{"MaThanhPhan": "TP02", "TenTepDinhKem": None,
                                                  "DuocSoHoa": 1, "DuocTaiSuDung": 1,
                                                  "DuocLayTuKhoDMQG": 0}]

        progress = await stream_messages(mesh.nats_url, mesh.province, "metrics",
                                         "national.progress_synced")
        reported = [e for e in scenario.build(mesh.province) if e.data.event_type() in (
            "vn.motcua.workflow.case.status_changed.v1", "vn.motcua.workflow.case.transferred.v1",
            "vn.motcua.workflow.case.handed_over.v1")]
        assert len(progress) == len(reported)
        emc = [Envelope.from_bytes(m.data).data for m in await stream_messages(
            mesh.nats_url, mesh.province, "metrics", "emc.tracked")]
        d1 = [(e["Status"], e["FormsReception"]) for e in emc
              if e["MaHoSo"] == _code(mesh, "1", 1)]
        assert sorted(d1) == [(1, 1), (2, 1), (3, 1)]  # received, processing, returned
        d7 = [e["Status"] for e in emc if e["MaHoSo"] == _code(mesh, "1", 7)]
        assert sorted(d7) == [1, 2, 4]  # received, processing, assigned (transferred)
        handover = [m for m in progress if Envelope.from_bytes(m.data).data["entry"][
            "NguoiXuLy"] == "cb-01"]
        assert Envelope.from_bytes(handover[0].data).data["entry"]["ChucDanh"] == "chuyen_vien"
        assert len({e["tracking_id"] for e in emc}) == len(emc)


class TestReadsAndExports:
    async def test_operations_exports_dashboard_and_pipeline(self, mesh: Mesh,
                                                            metrics: RunningService) -> None:
        a = f"agency:000.01.17.{mesh.province}"
        q = {"unit": a, "period": "2026-03"}
        ops = (await metrics.client.get("/v1/stats/operations", params=q)).json()
        assert ops["on_time"] == {"finished": 6, "early": 1, "on_time": 2, "late": 3,
                                  "rate": 0.5}
        prod = ops["productivity"]["agencies"][0]
        # D1, D2, D3, D4, D5, D9 finished in March; 2 officials; annualised over 31 days.
        assert prod["finished"] == 6 and prod["target_per_year"] == 1200
        assert prod["per_official_per_year"] == round(6 / 2 * 365 / 31, 1)
        b = (await metrics.client.get("/v1/stats/operations", params={
            "unit": f"agency:000.02.17.{mesh.province}", "period": "2026-03"})).json()
        # D11: received Mon 08:00, finished Tue 10:00 = 7 h + 3 h = 1.25 working days.
        assert b["processing_time"] == [{"procedure_code": scenario.P1, "unit": "working_days",
                                         "dossiers": 1, "average": 1.25, "statutory": 3}]
        assert b["productivity"]["agencies"][0]["per_official_per_year"] is None
        assert ops["desk_time"]["available"] is False

        commune = (await metrics.client.get("/v1/index", params={
            "unit": "commune:C01", "period": "2026-03"})).json()
        assert commune["points"] == pytest.approx(scenario.EXPECTED_A_TOTAL, abs=1e-4)

        csv = await metrics.client.get("/v1/index/export", params=q | {"format": "csv",
                                                                       "lang": "en"})
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        text = csv.content.decode("utf-8-sig")
        assert "progress.settlement" in text and "766-six-groups/2026.2" in text
        reader = _reader(mesh)
        xlsx = await metrics.client.get("/v1/index/export", params=q, headers=reader)
        book = load_workbook(io.BytesIO(xlsx.content))
        assert book.sheetnames == ["Chỉ số", "Chi tiết"]
        codes = {row[1] for row in book["Chi tiết"].iter_rows(values_only=True)}
        assert _code(mesh, "1", 6) in codes
        assert scenario.P3 in codes  # a catalog item's procedure row
        # Anonymous: the published index only, no dossier rows.
        public = load_workbook(io.BytesIO(
            (await metrics.client.get("/v1/index/export", params=q)).content))
        assert public.sheetnames == ["Chỉ số"]
        assert _code(mesh, "1", 6) not in {
            c for row in public["Chỉ số"].iter_rows(values_only=True) for c in row}
        drill_csv = await metrics.client.get(
            "/v1/index/items/progress.settlement/dossiers", params=q | {"format": "csv"},
            headers=reader)
        assert "Quá hạn 3 ngày làm việc" in drill_csv.content.decode("utf-8-sig")

        for lang, title in (("vi", "Chỉ số phục vụ"), ("en", "Service index")):
            page = await metrics.client.get("/dashboard", params=q | {"lang": lang})
            assert page.status_code == 200 and title in page.text
            assert "<svg" in page.text and "<script" not in page.text
            offline = page.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
            assert "http://" not in offline and "https://" not in offline
            # Anonymous viewers get the figures, not the dossiers behind them.
            assert _code(mesh, "1", 6) not in page.text and scenario.P3 not in page.text
        signed_in = await metrics.client.get("/dashboard", params=q | {"lang": "en"},
                                             headers=mesh.mint.officer(
                                                 f"000.01.17.{mesh.province}", "approver"))
        assert signed_in.status_code == 200
        assert _code(mesh, "1", 6) in signed_in.text and scenario.P3 in signed_in.text

        async def scraped() -> str:
            # The figures are refreshed by a background loop: wait for a refresh that has
            # seen every fact (the scenario's 11 dossiers), not just the first one.
            text = (await metrics.client.get("/metrics")).text
            ready = ('motcua_pipeline_consumer_pending{durable="workflow-intake"}' in text
                     and 'motcua_metrics_dossier_facts{state="total"} 11.0' in text)
            return text if ready else ""

        text = await wait_for(scraped, what="pipeline figures")
        assert 'motcua_metrics_events_applied_total{source="intake"}' in text
        assert 'motcua_pipeline_dead_letters{consumer="metrics-intake"} 0.0' in text
        assert 'motcua_metrics_dossier_facts{state="total"} 11.0' in text
        assert "motcua_outbox_backlog" in text and "motcua_consumer_lag" in text
        assert 'motcua_consumer_batch_reruns_total{durable="metrics-intake",service="metrics"}' \
            in text


BAD_QUERIES = [
    ("/v1/index", {"period": "2026-13"}, 422, "index.query_invalid", "query.period"),
    ("/v1/index", {"period": "2026-03-10..2026-03-01"}, 422, "index.query_invalid",
     "query.period"),
    ("/v1/index", {"period": "last month"}, 422, "index.query_invalid", "query.period"),
    ("/v1/index", {"unit": "city:HN"}, 422, "index.query_invalid", "query.unit"),
    ("/v1/index/ranking", {"level": "district"}, 422, "request.validation_failed",
     "query.level"),
    ("/v1/index/items/nope/dossiers", {}, 404, "index.item_not_found", None),
    ("/v1/index/items/progress.settlement/dossiers", {"limit": 0}, 422,
     "request.validation_failed", "query.limit"),
    ("/v1/index/items/progress.settlement/dossiers", {"unit": "city:HN"}, 422,
     "index.query_invalid", "query.unit"),
    ("/v1/index/export", {"format": "pdf"}, 422, "request.validation_failed", "query.format"),
    ("/v1/national/records/NOPE", {}, 404, "national.record_not_found", None),
    ("/dashboard", {"period": "2026-Q5"}, 422, "index.query_invalid", "query.period"),
]


class TestProblems:
    async def test_bad_queries_get_problem_json(self, mesh: Mesh) -> None:
        metrics = await mesh.start("metrics")
        reader = _reader(mesh)  # the protected routes' problems, past authorisation
        for path, params, status, code, field in BAD_QUERIES:
            r = await metrics.client.get(path, params=params, headers=reader)
            assert r.status_code == status, (path, params, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            body = r.json()
            assert body["code"] == code, (path, params, body)
            if field:
                assert field in [e["field"] for e in body["errors"]], (path, params, body)


async def _drained(metrics: RunningService) -> bool:
    return await unpublished(metrics) == 0


async def _revision(metrics: RunningService, code: str, previous: int,
                    headers: dict[str, str]) -> bool:
    r = await metrics.client.get(f"/v1/national/records/{code}", headers=headers)
    return r.json()["revision"] > previous
