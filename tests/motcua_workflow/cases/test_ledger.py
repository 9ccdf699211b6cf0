"""The deadline ledger and the classification, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motcua.calendar import TIMEZONE, Calendar
from motcua_workflow.cases.ledger import Entry, classify, derive

CAL = Calendar()


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TIMEZONE)


START = Entry("start", at(2026, 3, 2, 8), amount=5, unit="working_days")  # Mon 02/03/2026


class TestDerive:
    def test_start_counts_the_statutory_time(self):
        state = derive([START], CAL)
        # Mon 08:00 + 40 working hours → Mon 09/03 08:00.
        assert state.due_at == state.statutory_due_at == at(2026, 3, 9, 8)
        assert not state.extended and state.paused_since is None
        assert state.lines[0].text_vi.splitlines()[-1].startswith("Hạn trả: 08:00")

    def test_a_pause_hides_the_due_date_until_resumed(self):
        state = derive([START, Entry("pause", at(2026, 3, 3, 10))], CAL)
        assert state.due_at is None and state.paused_since == at(2026, 3, 3, 10)
        assert state.due_when_paused == at(2026, 3, 9, 8)

    def test_resuming_adds_back_the_paused_office_time(self):
        # Paused Tue 03/03 10:00 → Thu 05/03 10:00: 16 working hours not counted.
        state = derive([START, Entry("pause", at(2026, 3, 3, 10)),
                        Entry("resume", at(2026, 3, 5, 10))], CAL)
        assert state.paused_total == timedelta(hours=16)
        assert state.due_at == state.statutory_due_at == at(2026, 3, 11, 8)
        assert "16 giờ 0 phút" in state.lines[-1].text_vi

    def test_a_pause_over_a_weekend_counts_only_office_time(self):
        # Paused Fri 06/03 16:00 → Mon 09/03 08:00: 1 h Friday + 1 h Monday.
        state = derive([START, Entry("pause", at(2026, 3, 6, 16)),
                        Entry("resume", at(2026, 3, 9, 8))], CAL)
        assert state.paused_total == timedelta(hours=2)
        assert state.due_at == at(2026, 3, 9, 10)

    def test_extension_moves_the_appointment_not_the_statutory_date(self):
        state = derive([START, Entry("extend", at(2026, 3, 6, 9),
                                     new_due_at=at(2026, 3, 12, 17), reason="survey")], CAL)
        assert state.due_at == at(2026, 3, 12, 17)
        assert state.statutory_due_at == at(2026, 3, 9, 8)
        assert state.extended
        assert "survey" in state.lines[-1].text_en

    def test_a_pause_after_the_extension_shifts_both_dates(self):
        state = derive([START, Entry("extend", at(2026, 3, 6, 9), new_due_at=at(2026, 3, 12, 17)),
                        Entry("pause", at(2026, 3, 10, 9)), Entry("resume", at(2026, 3, 10, 11))],
                       CAL)
        assert state.due_at == at(2026, 3, 13, 9)  # 17:00 Thu + 2 h → Fri 09:00
        assert state.statutory_due_at == at(2026, 3, 9, 10)

    def test_the_cut_off_applies_to_the_start(self):
        state = derive([Entry("start", at(2026, 3, 2, 15, 30), amount=1, unit="working_days",
                              cutoff="15:00")], CAL)
        assert state.due_at == at(2026, 3, 3, 17)

    @settings(deadline=None, max_examples=60)
    @given(st.lists(st.integers(1, 600), min_size=2, max_size=8).map(sorted))
    def test_pauses_never_bring_the_due_date_forward(self, minutes):
        entries = [START]
        kinds = ["pause", "resume"]
        for i, m in enumerate(minutes[: len(minutes) // 2 * 2]):
            entries.append(Entry(kinds[i % 2], at(2026, 3, 2, 8) + timedelta(minutes=m * 10)))
        state = derive(entries, CAL)
        assert state.due_at is not None and state.due_at >= at(2026, 3, 9, 8)
        assert CAL.working_time_between(at(2026, 3, 9, 8), state.due_at) == state.paused_total


class TestClassify:
    due = at(2026, 3, 9, 10)

    @pytest.mark.parametrize(("ended", "requests", "expected"), [
        (at(2026, 3, 6, 16), 0, "early"),
        (at(2026, 3, 9, 7), 0, "on_time"),
        (at(2026, 3, 9, 16), 1, "on_time"),  # the same date counts as on time
        (at(2026, 3, 10, 7), 0, "late"),
        (at(2026, 3, 5, 9), 2, "late"),  # more than one supplement request
    ])
    def test_against_the_appointment_date(self, ended, requests, expected):
        assert classify(ended, self.due, requests) == expected

    def test_compares_dates_in_vietnam(self):
        # 23:30 UTC on 08/03 is 06:30 on 09/03 in Vietnam (the due date); 16:59 UTC is
        # still 23:59 on 08/03.
        assert classify(datetime(2026, 3, 8, 23, 30, tzinfo=UTC), self.due, 0) == "on_time"
        assert classify(datetime(2026, 3, 8, 16, 59, tzinfo=UTC), self.due, 0) == "early"

    def test_no_appointment_no_classification(self):
        assert classify(at(2026, 3, 2), None, 0) is None
