"""Moving instants by office time (shift, rewind) and calendars per agency."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from motcua.calendar import TIMEZONE, Calendar, CalendarRegistry, OfficeHours, Override

relaxed = settings(deadline=None, max_examples=150)
CAL = Calendar()
AGENCY = Calendar(OfficeHours.parse("07:30-11:30, 13:00-16:30"),
                  [Override(date(2025, 6, 13), "day_off", "provincial notice (test)")])
calendars = st.sampled_from([CAL, AGENCY])
instants = st.datetimes(min_value=datetime(2024, 12, 1), max_value=datetime(2027, 1, 31),
                        timezones=st.sampled_from([TIMEZONE, UTC]))
durations = st.integers(0, 60 * 8 * 15).map(lambda m: timedelta(minutes=m))


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TIMEZONE)


class TestShift:
    def test_moves_a_due_date_over_tet(self):
        # Due Fri 13/02/2026 16:00; a pause of 3h of office time: 1h to 17:00, then Tết
        # and the weekends are skipped; Mon 23/02 07:00 + 2h = 09:00.
        assert CAL.shift(at(2026, 2, 13, 16), timedelta(hours=3)) == at(2026, 2, 23, 9)

    def test_a_due_date_at_closing_moves_into_the_next_morning(self):
        assert CAL.shift(at(2025, 3, 10, 17), timedelta(minutes=30)) == at(2025, 3, 11, 7, 30)

    def test_zero_keeps_the_instant(self):
        assert CAL.shift(at(2025, 3, 10, 17), timedelta()) == at(2025, 3, 10, 17)

    def test_refuses_negative_durations(self):
        with pytest.raises(ValueError):
            CAL.shift(at(2025, 3, 10, 9), timedelta(minutes=-1))

    @relaxed
    @given(calendars, instants, durations)
    def test_exactly_that_much_office_time_elapses(self, cal, start, duration):
        end = cal.shift(start, duration)
        assert end >= start
        assert cal.working_time_between(start, end) == duration

    @relaxed
    @given(calendars, instants, durations, durations)
    def test_is_additive(self, cal, start, a, b):
        # Zero keeps even an instant outside office hours, so both parts are positive.
        assume(a > timedelta() and b > timedelta())
        assert cal.shift(cal.shift(start, a), b) == cal.shift(start, a + b)


class TestRewind:
    def test_one_working_day_before_a_tuesday_morning(self):
        # Tue 04/02/2025 10:00 minus 8h: 3h back to 07:00 Tue, 5h left; Mon 03/02 17:00
        # back 3h30 to 13:30, 1h30 left; 11:30 − 1h30 = 10:00 Mon.
        assert CAL.rewind(at(2025, 2, 4, 10), timedelta(hours=8)) == at(2025, 2, 3, 10)

    def test_skips_tet_backwards(self):
        # Mon 03/02/2025 09:00 minus 8h: 2h to 07:00; Tết and the weekend skipped back to
        # Fri 24/01 17:00; 6h back: 3h30 to 13:30, 2h30 more from 11:30 → 09:00 Fri 24/01.
        assert CAL.rewind(at(2025, 2, 3, 9), timedelta(hours=8)) == at(2025, 1, 24, 9)

    def test_a_whole_day_ending_at_closing_starts_at_opening(self):
        assert CAL.rewind(at(2025, 3, 10, 17), timedelta(hours=8)) == at(2025, 3, 10, 7)

    @relaxed
    @given(calendars, instants, durations)
    def test_exactly_that_much_office_time_lies_between(self, cal, end, duration):
        start = cal.rewind(end, duration)
        assert start <= end
        assert cal.working_time_between(start, end) == duration

    @relaxed
    @given(calendars, instants, durations)
    def test_undoes_shift(self, cal, start, duration):
        # Shifting forward then back lands on an instant with the same office time to go.
        end = cal.shift(start, duration)
        back = cal.rewind(end, duration)
        assert cal.working_time_between(back, end) == duration
        assert cal.working_time_between(start, back) == timedelta()


class TestRegistry:
    def test_agency_hours_apply_to_that_agency_only(self):
        reg = CalendarRegistry.from_settings(None, {"000.01.17.H56": "07:30-11:30, 13:00-17:00"})
        # 12:00 is lunch for both; the agency resumes at 13:00, the default at 13:30.
        own = reg.for_agency("000.01.17.H56").add(at(2025, 3, 10, 12), 1, "working_hours")
        other = reg.for_agency("000.02.17.H56").add(at(2025, 3, 10, 12), 1, "working_hours")
        assert own.due_at == at(2025, 3, 10, 14)
        assert other.due_at == at(2025, 3, 10, 14, 30)
        assert reg.for_agency(None) is reg.default
        assert reg.agencies_with_own_hours() == ("000.01.17.H56",)

    def test_overrides_are_shared_by_every_agency(self, tmp_path):
        path = tmp_path / "overrides.json"
        path.write_text(json.dumps({"day_off": [{"date": "2026-02-13", "reason": "TB 12"}]}))
        reg = CalendarRegistry.from_settings("07:00-11:30, 13:30-17:00",
                                             {"A.B": "08:00-12:00, 13:00-17:00"}, path)
        assert not reg.for_agency("A.B").is_working_day(date(2026, 2, 13))
        assert not reg.for_agency("X").is_working_day(date(2026, 2, 13))

    def test_refuses_malformed_agency_hours(self):
        with pytest.raises(ValueError):
            CalendarRegistry.from_settings(None, {"A": "17:00-07:00"})
