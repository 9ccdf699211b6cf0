"""The hand-worked scenario (tests/motcua_metrics/scenario.py) through real NATS events."""

from __future__ import annotations

import pytest

from motcua.testing import Mesh
from motcua_metrics.index.config import DEFAULT_INDEX
from tests.motcua_metrics import scenario
from tests.motcua_metrics.helpers import applied, envelopes, index, items, publish

V1 = DEFAULT_INDEX.with_name("index-v1.toml")


def _check_agency_a(doc: dict) -> None:
    found = items(doc)
    for item_id, (ratio, points) in scenario.EXPECTED_A.items():
        assert found[item_id]["available"], item_id
        assert found[item_id]["ratio"] == pytest.approx(ratio, abs=1e-6), item_id
        assert found[item_id]["points"] == pytest.approx(points, abs=1e-4), item_id
    for item_id in scenario.NOT_AVAILABLE:
        assert found[item_id]["available"] is False
        assert found[item_id]["points"] is None
        assert found[item_id]["reason"]["en"].startswith("Not available")
    assert set(found) == set(scenario.EXPECTED_A) | scenario.NOT_AVAILABLE
    # P4 was published without a decision date: left out of both timeliness items, said so.
    assert found["publicity.published_on_time"]["denominator"] == 4
    assert found["publicity.published_on_time"]["note"]["en"] == (
        "1 procedure(s) published in the period not judged: no decision date or effective "
        "date.")
    assert found["publicity.database_on_time"]["note"]["en"].startswith("1 procedure(s)")
    groups = {g["id"]: g["points"] for g in doc["groups"]}
    assert groups == pytest.approx(scenario.EXPECTED_A_GROUPS, abs=1e-4)
    assert doc["points"] == pytest.approx(scenario.EXPECTED_A_TOTAL, abs=1e-4)
    assert doc["max_available"] == scenario.EXPECTED_A_MAX_AVAILABLE
    assert doc["scaled_100"] == pytest.approx(
        scenario.EXPECTED_A_TOTAL * 100 / scenario.EXPECTED_A_MAX_AVAILABLE, abs=1e-4)
    assert doc["counts"] | {} == doc["counts"]
    c = doc["counts"]
    assert (c["settlement_scope"], c["early"], c["on_time"], c["late_finished"],
            c["in_process_within_time"], c["in_process_overdue"]) == (9, 1, 2, 3, 2, 1)
    assert (c["catalog_procedures"], c["catalog_complete"], c["catalog_online"],
            c["catalog_online_used"]) == (4, 3, 3, 2)


class TestHandWorkedScenario:
    async def test_index_comes_out_exactly(self, mesh: Mesh) -> None:
        metrics = await mesh.start("metrics")
        events = envelopes(mesh, scenario.build(mesh.province))
        await publish(mesh, events)
        await applied(metrics, len(events))
        a = f"agency:000.01.17.{mesh.province}"
        doc = await index(metrics, a, "2026-03")
        assert doc["config_version"] == "766-six-groups/2026.2"
        assert doc["period"] == {"label": "2026-03", "kind": "month", "start": "2026-03-01",
                                 "end": "2026-03-31", "judged_on": "2026-03-31"}
        _check_agency_a(doc)
        b = await index(metrics, f"agency:000.02.17.{mesh.province}", "2026-03")
        assert b["points"] == scenario.EXPECTED_B_TOTAL
        assert b["max_available"] == scenario.EXPECTED_B_MAX_AVAILABLE
        assert {i["id"] for i in b["groups"][5]["items"] if not i["available"]} == {
            "payment.dossiers_paid_online", "payment.procedures_paid_online",
            "payment.fee_data_synced"}
        assert items(b)["payment.dossiers_paid_online"]["reason"]["en"] == \
            "No dossiers with fees in the period."
        assert {i: items(b)[i]["points"] for i in (
            "publicity.published_on_time", "publicity.database_on_time",
            "publicity.full_content", "online.procedures_online",
            "online.procedures_with_online_dossiers")} == {
            "publicity.published_on_time": 6.0, "publicity.database_on_time": 4.0,
            "publicity.full_content": 2.0, "online.procedures_online": 4.0,
            "online.procedures_with_online_dossiers": 4.0}

        ranking = (await metrics.client.get("/v1/index/ranking", params={
            "level": "agency", "period": "2026-03"})).json()
        assert [(u["rank"], u["unit"]["code"]) for u in ranking["units"]] == [
            (1, f"000.02.17.{mesh.province}"), (2, f"000.01.17.{mesh.province}")]

        # Drill-down (an auditor of agency A): what cost settlement its points, and why.
        auditor = mesh.mint.officer(f"000.01.17.{mesh.province}", "auditor")
        drill = (await metrics.client.get(
            "/v1/index/items/progress.settlement/dossiers",
            params={"unit": a, "period": "2026-03"}, headers=auditor)).json()
        reasons = {r["dossier_code"].split("-")[1]: (r["reason_code"], r["reason"]["en"])
                   for r in drill["rows"]}
        assert drill["total"] == 4
        assert reasons["260303"] == ("late", "Late by 2 working day(s) (due 2026-03-06, "
                                             "finished 2026-03-10).")
        assert reasons["260305"][0] == "supplements"
        assert reasons["260306"] == (
            "overdue,extended", "Overdue by 3 working day(s) on 2026-03-31 (due 2026-03-26), "
            "not finished. Extended once with an apology; the original due date still counts.")
        assert reasons["260309"][0] == "late"
        pay = (await metrics.client.get(
            "/v1/index/items/payment.dossiers_paid_online/dossiers",
            params={"unit": a, "period": "2026-03", "lang": "en"}, headers=auditor)).json()
        assert {r["dossier_code"].split("-")[1]: r["reason_code"] for r in pay["rows"]} == {
            "260304": "paid_at_desk", "260307": "not_paid_online"}

        # Catalog items: which procedures cost points, and why (worked out by hand).
        for item_id, expected in scenario.EXPECTED_A_CATALOG_DRILL.items():
            r = await metrics.client.get(f"/v1/index/items/{item_id}/dossiers",
                                         params={"unit": a, "period": "2026-03"},
                                         headers=auditor)
            assert r.status_code == 200, r.text
            rows = r.json()["rows"]
            assert {row["procedure_code"]: row["reason_code"] for row in rows} == expected, \
                item_id
            assert r.json()["total"] == len(expected)
        late = (await metrics.client.get(
            "/v1/index/items/publicity.published_on_time/dossiers",
            params={"unit": a, "period": "2026-03"}, headers=auditor)).json()["rows"][0]
        assert late["reason"]["en"] == (
            "Announcing decision of 2026-03-02 came after the deadline 2026-02-26 (5 working "
            "days before it took effect on 2026-03-05); late by 2 working day(s).")
        published = (await metrics.client.get(
            "/v1/index/items/publicity.database_on_time/dossiers",
            params={"unit": a, "period": "2026-03"}, headers=auditor)).json()["rows"]
        assert [r["reason"]["en"].split("; ")[-1] for r in published] == [
            "late by 2 working day(s).", "late by 1 working day(s)."]
        content = (await metrics.client.get(
            "/v1/index/items/publicity.full_content/dossiers",
            params={"unit": a, "period": "2026-03", "lang": "en"},
            headers=auditor)).json()["rows"]
        assert content[0]["reason"]["en"] == "Mandatory content missing: mau_to_khai."

    async def test_a_version_1_configuration_reproduces_figures_without_the_catalog(
            self, mesh: Mesh) -> None:
        mesh.overrides["index_config"] = str(V1)
        metrics = await mesh.start("metrics")
        events = envelopes(mesh, scenario.build(mesh.province))
        await publish(mesh, events)
        await applied(metrics, len(events))
        doc = await index(metrics, f"agency:000.01.17.{mesh.province}", "2026-03")
        assert doc["config_version"] == "766-six-groups/2026.1"
        assert doc["points"] == pytest.approx(scenario.EXPECTED_A_V1_TOTAL, abs=1e-4)
        assert doc["max_available"] == scenario.EXPECTED_A_V1_MAX_AVAILABLE
        found = items(doc)
        for item_id in ("publicity.published_on_time", "publicity.database_on_time",
                        "publicity.full_content", "online.procedures_online",
                        "online.procedures_with_online_dossiers"):
            assert found[item_id]["available"] is False
            assert found[item_id]["reason"]["en"] == (
                "Not available: this index configuration version has no catalog rules.")
