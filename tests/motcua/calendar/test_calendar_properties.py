"""Property tests: due dates are monotonic, additive, inside office hours and exact."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from motcua.calendar import TIMEZONE, Calendar, OfficeHours, Override

# Year tables are built lazily, so the first example of a run can be slow.
relaxed = settings(deadline=None, max_examples=150)

DEFAULT = Calendar()
# A deployment with its own hours and overrides must obey the same laws.
AGENCY = Calendar(
    OfficeHours.parse("07:30-11:30, 13:00-16:30"),
    [
        Override(date(2025, 6, 13), "day_off", "provincial notice (test)"),
        Override(date(2025, 6, 14), "working_day", "make-up Saturday (test)"),
        Override(date(2026, 2, 21), "working_day", "Saturday after Tết (test)"),
    ],
)


@st.composite
def office_hours(draw: st.DrawFn) -> OfficeHours:
    """Between one and three disjoint periods on a five-minute grid."""
    count = draw(st.integers(1, 3))
    marks = sorted(draw(st.sets(st.integers(1, 287), min_size=2 * count, max_size=2 * count)))
    at = [time(m * 5 // 60, m * 5 % 60) for m in marks]
    return OfficeHours(tuple(zip(at[::2], at[1::2], strict=True)))


calendars = st.one_of(st.sampled_from([DEFAULT, AGENCY]), office_hours().map(lambda h: Calendar(h)))
instants = st.datetimes(
    min_value=datetime(2024, 12, 1), max_value=datetime(2027, 1, 31), timezones=st.just(TIMEZONE)
) | st.datetimes(
    min_value=datetime(2024, 12, 1), max_value=datetime(2027, 1, 31), timezones=st.just(UTC)
)
minute_instants = instants.map(lambda t: t.replace(second=0, microsecond=0))
working_units = st.sampled_from(["working_hours", "working_days"])
units = st.sampled_from(["working_hours", "working_days", "calendar_days"])
cutoffs = st.sampled_from([None, time(15, 0)])


def hours_of(amount: int, unit: str) -> timedelta:
    return timedelta(hours=amount * (8 if unit == "working_days" else 1))


def amounts_for(unit: str) -> st.SearchStrategy[int]:
    return st.integers(0, 40) if unit == "working_hours" else st.integers(0, 12)


class TestMonotonic:
    @relaxed
    @given(calendars, instants, instants, units, cutoffs, st.data())
    def test_later_start_is_never_due_earlier(self, cal, s1, s2, unit, cutoff, data):
        s1, s2 = sorted((s1, s2))
        amount = data.draw(amounts_for(unit))
        assert cal.add(s1, amount, unit, cutoff).due_at <= cal.add(s2, amount, unit, cutoff).due_at

    @relaxed
    @given(calendars, instants, units, cutoffs, st.data())
    def test_larger_amount_is_never_due_earlier(self, cal, start, unit, cutoff, data):
        a, b = sorted((data.draw(amounts_for(unit)), data.draw(amounts_for(unit))))
        assert cal.add(start, a, unit, cutoff).due_at <= cal.add(start, b, unit, cutoff).due_at


class TestAdditive:
    # From a normalised start, counting a then b equals counting a + b whenever b > 0.
    # With b == 0 it cannot hold: a due exactly at closing (17:00) is itself an arrival
    # "after closing" and normalises to the next opening, so only the working time agrees.
    @relaxed
    @given(calendars, instants, working_units, st.data())
    def test_counting_in_two_steps_equals_one_step(self, cal, raw, unit, data):
        start = cal.normalise(raw)
        a = data.draw(amounts_for(unit))
        b = data.draw(amounts_for(unit).filter(lambda n: n > 0))
        first = cal.add(start, a, unit).due_at
        assert cal.add(first, b, unit).due_at == cal.add(start, a + b, unit).due_at

    @relaxed
    @given(calendars, instants, working_units, st.data())
    def test_zero_after_a_count_adds_no_working_time(self, cal, raw, unit, data):
        start = cal.normalise(raw)
        a = data.draw(amounts_for(unit))
        first = cal.add(start, a, unit).due_at
        again = cal.add(first, 0, unit).due_at
        assert cal.working_time_between(first, again) == timedelta()

    # The cut-off is compared with the arrival as received: an arrival in a break before a
    # period that starts at or after the cut-off still counts that day, so idempotence needs
    # every period to start before the cut-off (true of 15:00 with the default hours).
    @relaxed
    @given(calendars, instants, cutoffs)
    def test_normalising_twice_changes_nothing(self, cal, raw, cutoff):
        assume(cutoff is None or all(start < cutoff for start, _ in cal.office_hours.periods))
        once = cal.normalise(raw, cutoff)
        assert cal.normalise(once, cutoff) == once


class TestInsideOfficeHours:
    @relaxed
    @given(calendars, instants, working_units, cutoffs, st.data())
    def test_working_units_are_due_inside_an_office_period(self, cal, start, unit, cutoff, data):
        due = cal.add(start, data.draw(amounts_for(unit)), unit, cutoff).due_at
        assert due.tzinfo is TIMEZONE and due.utcoffset() == timedelta(hours=7)
        assert cal.is_working_day(due.date())
        clock = due.time()
        assert any(begin <= clock <= end for begin, end in cal.office_hours.periods)

    @relaxed
    @given(calendars, instants, cutoffs, st.integers(1, 60))
    def test_calendar_days_end_at_closing_of_a_working_day(self, cal, start, cutoff, amount):
        result = cal.add(start, amount, "calendar_days", cutoff)
        last = result.counted_from.date() + timedelta(days=amount)
        due_day = result.due_at.date()
        assert result.due_at.time() == cal.office_hours.closing
        assert cal.is_working_day(due_day) and due_day >= last
        # Only rest days may lie between the nominal last day and the due day.
        assert cal.working_days_between(last, due_day - timedelta(days=1)) == 0


class TestExactCount:
    @relaxed
    @given(calendars, instants, working_units, st.data())
    def test_working_time_to_due_equals_the_amount(self, cal, start, unit, data):
        # Without a cut-off, normalising only skips non-working time, so this holds from
        # the raw arrival as well as from the normalised one.
        amount = data.draw(amounts_for(unit))
        due = cal.add(start, amount, unit).due_at
        assert cal.working_time_between(start, due) == hours_of(amount, unit)

    @relaxed
    @given(calendars, instants, working_units, st.data())
    def test_due_is_the_first_instant_with_enough_time(self, cal, start, unit, data):
        amount = data.draw(amounts_for(unit).filter(lambda n: n > 0))
        result = cal.add(start, amount, unit, time(15))
        just_before = result.due_at - timedelta(microseconds=1)
        assert cal.working_time_between(result.counted_from, result.due_at) == hours_of(
            amount, unit
        )
        assert cal.working_time_between(result.counted_from, just_before) < hours_of(amount, unit)

    @relaxed
    @given(calendars, instants, working_units, st.data())
    def test_every_non_working_day_on_the_way_is_skipped_and_named(self, cal, start, unit, data):
        result = cal.add(start, data.draw(amounts_for(unit)), unit)
        first, last = result.received_at.date(), result.due_at.date()
        expected = [off.day for off in cal.non_working_days(first, last)]
        assert [off.day for off in result.skipped_days] == expected
        assert all(off.reason and off.reason_vi for off in result.skipped_days)


class TestWorkingTimeBetween:
    @relaxed
    @given(calendars, instants, instants, instants)
    def test_is_additive_over_a_split_point(self, cal, a, b, c):
        a, b, c = sorted((a, b, c))
        total = cal.working_time_between(a, c)
        assert total == cal.working_time_between(a, b) + cal.working_time_between(b, c)
        assert cal.working_time_between(c, a) == timedelta()

    @settings(deadline=None, max_examples=60)
    @given(calendars, minute_instants, st.integers(0, 3 * 24 * 60))
    def test_matches_counting_minute_by_minute(self, cal, a, minutes):
        b = a + timedelta(minutes=minutes)
        local = a.astimezone(TIMEZONE)
        counted = 0
        for i in range(minutes):
            t = local + timedelta(minutes=i)
            clock = t.time()
            if cal.is_working_day(t.date()) and any(
                begin <= clock < end for begin, end in cal.office_hours.periods
            ):
                counted += 1
        assert cal.working_time_between(a, b) == timedelta(minutes=counted)

    @relaxed
    @given(calendars, instants, instants)
    def test_brackets_the_instant_between_two_hour_counts(self, cal, raw, b):
        # If h whole working hours fit between a and b, h hours from a are due by b and
        # h + 1 hours are due after b: add and working_time_between measure the same time.
        a = cal.normalise(raw)
        assume(a <= b)
        hours = cal.working_time_between(a, b) // timedelta(hours=1)
        assert cal.add(a, hours, "working_hours").due_at <= b
        assert cal.add(a, hours + 1, "working_hours").due_at > b


class TestDays:
    @relaxed
    @given(calendars, st.dates(date(2024, 12, 1), date(2027, 1, 31)), st.integers(0, 90))
    def test_working_and_non_working_days_partition_a_range(self, cal, first, length):
        last = first + timedelta(days=length)
        off = cal.non_working_days(first, last)
        assert cal.working_days_between(first, last) + len(off) == length + 1
        assert all(not cal.is_working_day(o.day) for o in off)

    @relaxed
    @given(calendars, st.dates(date(2024, 12, 1), date(2027, 1, 31)))
    def test_next_working_day_skips_only_rest_days(self, cal, day):
        nxt = cal.next_working_day(day)
        assert nxt > day and cal.is_working_day(nxt)
        assert cal.working_days_between(day + timedelta(days=1), nxt - timedelta(days=1)) == 0
