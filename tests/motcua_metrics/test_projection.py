"""The fold, the periods and the scoring rule as pure functions (no NATS, no database)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motcua.calendar import Calendar
from motcua.contracts.intake import ProcedurePublishedV1
from motcua_metrics.catalog.service import CatalogCounts
from motcua_metrics.facts.projection import (
    CASE_STATUS,
    RATED,
    SUPPLEMENTED,
    EventRow,
    extend_working_time,
    fold,
    pauses,
)
from motcua_metrics.index.config import DEFAULT_INDEX, Units, load_index_config
from motcua_metrics.index.periods import months_back, parse_period, parse_unit
from motcua_metrics.index.service import CATALOG_ITEMS, Aggregates, score
from tests.motcua_metrics import scenario

CAL = Calendar()
V1 = DEFAULT_INDEX.with_name("index-v1.toml")


def _rows(province: str = "H56") -> dict[str, list[EventRow]]:
    by_dossier: dict[str, list[EventRow]] = defaultdict(list)
    for i, e in enumerate(scenario.build(province)):
        if isinstance(e.data, ProcedurePublishedV1):
            continue  # catalog events are not about a dossier
        data = e.data.model_dump(mode="json")
        when = getattr(e.data, "occurred_at", None) or getattr(e.data, "reused_at", None) or \
            getattr(e.data, "stored_at", None) or e.data.looked_up_at
        by_dossier[e.key].append(EventRow(f"e{i:04d}", e.data.service, e.data.event_type(),
                                          e.sequence, when, data))
    return by_dossier


ROWS = _rows()


def _fold(code: str, events: list[EventRow]) -> dict:
    return fold(code, events, calendar=CAL, units=Units())


def _with_status(e: EventRow, status: int) -> EventRow:
    return replace(e, data={**e.data, "status": status})


class TestFold:
    def test_supplement_time_is_added_back_to_the_due_date(self) -> None:
        d4 = _fold("x", ROWS["000.01.17.H56-260304-0001"])
        assert d4["supplement_count"] == 1 and d4["paused_minutes"] == 480
        assert d4["due_day"] == date(2026, 3, 13) and d4["outcome"] == "on_time"

    def test_more_than_one_supplement_request_is_late(self) -> None:
        d5 = _fold("x", ROWS["000.01.17.H56-260305-0001"])
        assert d5["supplement_count"] == 2 and d5["finish_day"] < d5["due_day"]
        assert d5["outcome"] == "late"

    def test_open_pause_stops_the_clock(self) -> None:
        d8 = _fold("x", ROWS["000.01.17.H56-260308-0001"])
        assert d8["open_pause_day"] == date(2026, 3, 26) and d8["finish_day"] is None

    def test_finish_prefers_status_9_then_10_then_refusal(self) -> None:
        d1 = _fold("x", ROWS["000.01.17.H56-260301-0001"])
        assert (d1["finish_status"], d1["finish_day"], d1["status"]) == (9, date(2026, 3, 4), 10)
        d10 = _fold("x", ROWS["000.01.17.H56-260310-0001"])
        assert (d10["finish_status"], d10["received_day"], d10["outcome"]) == (3, None, None)

    @settings(max_examples=40, deadline=None)
    @given(st.sampled_from(sorted(ROWS)), st.data())
    def test_delivery_order_does_not_matter(self, code: str, data: st.DataObject) -> None:
        events = ROWS[code]
        shuffled = data.draw(st.permutations(events))
        assert _fold(code, shuffled) == _fold(code, events)

    def test_extending_working_time_skips_nights_and_weekends(self) -> None:
        fri = datetime.fromisoformat("2026-03-13T16:00:00+07:00")
        assert extend_working_time(CAL, fri, 120) == datetime.fromisoformat(
            "2026-03-16T08:00:00+07:00")
        assert extend_working_time(CAL, fri, 0) == fri

    def test_a_rating_after_completion_does_not_move_the_status_back(self) -> None:
        """Intake's rating carries its mirror of the status, which can lag behind workflow
        (9 after the result was returned): the fact stays at 10, every figure unchanged."""
        d1 = ROWS["000.01.17.H56-260301-0001"]
        assert _fold("x", d1)["status"] == 10
        for stale in (9, 4, 2):
            rows = [_with_status(e, stale) if e.event_type == RATED else e for e in d1]
            assert _fold("x", rows) == _fold("x", d1), stale

    def test_a_rating_is_not_a_status_change(self) -> None:
        """A result returned straight from processing (no 9): a rating mirroring 9 later
        neither finishes the dossier again nor changes when it finished."""
        rows = [e for e in ROWS["000.01.17.H56-260301-0001"]
                if not (e.event_type == CASE_STATUS and e.data["status"] == 9)]
        rated = next(e for e in rows if e.event_type == RATED)
        without = _fold("x", [e for e in rows if e is not rated])
        found = _fold("x", [_with_status(e, 9) if e is rated else e for e in rows])
        assert (found["status"], found["finish_status"], found["finished_at"]) == (
            10, 10, datetime.fromisoformat("2026-03-05T09:00:00+07:00"))
        assert {k: v for k, v in found.items() if k not in ("rating", "event_count")} == \
            {k: v for k, v in without.items() if k not in ("rating", "event_count")}

    def test_the_status_never_moves_back_to_an_earlier_stage(self) -> None:
        """An open status stamped after the dossier finished (clock skew between intake and
        workflow) does not reopen it; a closed status is not followed by a finished one."""
        d2 = ROWS["000.01.17.H56-260302-0001"]
        skewed = EventRow("late-supplement", "intake", SUPPLEMENTED, 99,
                          datetime.fromisoformat("2026-03-06T10:00:00+07:00"),
                          {**d2[0].data, "status": 4})
        assert _fold("x", [*d2, skewed])["status"] == 9
        d1 = ROWS["000.01.17.H56-260301-0001"]
        late_nine = EventRow("late-nine", "workflow", CASE_STATUS, 1,
                             datetime.fromisoformat("2026-03-06T10:00:00+07:00"),
                             {**next(e for e in d1 if e.event_type == CASE_STATUS).data,
                              "status": 9})
        assert _fold("x", [*d1, late_nine])["status"] == 10

    def test_a_stale_status_does_not_end_a_pause_early(self) -> None:
        d4 = ROWS["000.01.17.H56-260304-0001"]
        assert [(p.start.day, p.end.day if p.end else None) for p in pauses(d4)] == [(10, 11)]


class TestPeriods:
    @pytest.mark.parametrize(("text", "start", "end"), [
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2026-12", date(2026, 12, 1), date(2026, 12, 31)),
        ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026", date(2026, 1, 1), date(2026, 12, 31)),
        ("2026-03-01..2026-03-15", date(2026, 3, 1), date(2026, 3, 15)),
    ])
    def test_parses(self, text: str, start: date, end: date) -> None:
        p = parse_period(text)
        assert (p.start, p.end) == (start, end)

    @pytest.mark.parametrize("text", ["2026-13", "2026-Q0", "26", "2026-02-30..2026-03-01",
                                      "2026-03-02..2026-03-01", "2020-01-01..2026-01-01", ""])
    def test_rejects(self, text: str) -> None:
        with pytest.raises(ValueError):
            parse_period(text)

    def test_units_and_months_back(self) -> None:
        assert str(parse_unit("H56")) == "province:H56"
        assert str(parse_unit("000.01.17.H56")) == "agency:000.01.17.H56"
        assert [p.label for p in months_back(date(2026, 2, 28), 3)] == [
            "2025-12", "2026-01", "2026-02"]
        with pytest.raises(ValueError):
            parse_unit("district:X")


class TestScoring:
    def test_payment_group_is_capped_at_its_maximum(self) -> None:
        a = Aggregates(received=4, with_fees=4, paid_online=4, fee_procedures=2,
                       fee_procedures_paid_online=2, fee_procedures_synced=2)
        doc = score(load_index_config(), a)
        payment = next(g for g in doc["groups"] if g["id"] == "payment")
        assert [i["points"] for i in payment["items"]] == [6.0, 2.0, 2.5]
        assert payment["points"] == 10.0 and payment["max_available"] == 10.0

    def test_below_threshold_scores_proportionally(self) -> None:
        a = Aggregates(received=10, with_fees=10, paid_online=5, fee_procedures=5,
                       fee_procedures_paid_online=2, fee_procedures_synced=1)
        payment = next(g for g in score(load_index_config(), a)["groups"]
                       if g["id"] == "payment")
        # 6·0.5 + min(2, 2.5·0.4) + 2.5·0.2 = 3 + 1 + 0.5
        assert [i["points"] for i in payment["items"]] == [3.0, 1.0, 0.5]
        assert payment["points"] == 4.5

    def test_nothing_available_is_not_full_marks(self) -> None:
        doc = score(load_index_config(), Aggregates())
        assert doc["points"] == 0 and doc["max_available"] == 0 and doc["scaled_100"] is None
        assert all(not i["available"] and i["reason"] for g in doc["groups"]
                   for i in g["items"])

    def test_configured_weights_sum_to_100(self) -> None:
        for config in (load_index_config(), load_index_config(V1)):
            assert config.max_total == 100
            assert Fraction(sum(i.max for i in config.groups[1].items)) == 20

    def test_catalog_items_only_with_catalog_rules(self) -> None:
        """Version 2026.1 has no catalog rules: its figures stay as they were published."""
        a = Aggregates(catalog=CatalogCounts(procedures=4, complete=3, online=3,
                                             online_used=2, announced=4, announced_on_time=3,
                                             published=4, published_on_time=2))
        v2 = {i["id"]: i for g in score(load_index_config(), a)["groups"] for i in g["items"]}
        assert [v2[i]["points"] for i in CATALOG_ITEMS] == [4.5, 2.0, 1.5, 3.75, 2.6667]
        v1 = {i["id"]: i for g in score(load_index_config(V1), a)["groups"] for i in g["items"]}
        assert load_index_config(V1).version == "766-six-groups/2026.1"
        assert all(not v1[i]["available"] for i in CATALOG_ITEMS)

    def test_unjudged_publications_are_left_out_and_said(self) -> None:
        a = Aggregates(catalog=CatalogCounts(procedures=2, announced_unjudged=2,
                                             published=1, published_on_time=1,
                                             published_unjudged=1))
        found = {i["id"]: i for g in score(load_index_config(), a)["groups"] for i in g["items"]}
        assert found["publicity.published_on_time"]["available"] is False
        assert found["publicity.published_on_time"]["reason"]["en"].startswith(
            "Not available: the procedures published in the period carry no decision date")
        assert found["publicity.database_on_time"]["points"] == 4.0
        assert found["publicity.database_on_time"]["note"]["en"] == (
            "1 procedure(s) published in the period not judged: no decision date.")
        assert found["online.procedures_with_online_dossiers"]["reason"]["en"] == (
            "No procedure of this unit offers an online service.")
