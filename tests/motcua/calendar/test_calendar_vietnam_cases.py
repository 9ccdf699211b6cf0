"""Real Vietnamese 2025–2026 calendar cases, each worked out by hand.

Days off as `holidays` 0.109 (country VN) models them, checked against its source:

* 2025: Wed 01/01; Tết Mon 27/01–Fri 31/01 (the package moves the 4th day, Sat 01/02, to
  Mon 27/01, so the break is Sat 25/01–Sun 02/02 as announced); Hùng Kings Mon 07/04;
  Wed 30/04, Thu 01/05 and Fri 02/05 swapped with **Sat 26/04, a working day**;
  Mon 01/09 + Tue 02/09.
* 2026: Thu 01/01; Tết Mon 16/02–Fri 20/02 (no extra days); Hùng Kings Sun 26/04, observed
  Mon 27/04; Thu 30/04, Fri 01/05; Mon 31/08 swapped with **Sat 22/08, a working day**;
  Tue 01/09 + Wed 02/09; Tue 24/11 Vietnam Culture Day (Resolution 80-NQ/TW, new in 2026).

Office hours 07:00–11:30 and 13:30–17:00; one working day is 8 working hours.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from motcua.calendar import TIMEZONE, Calendar

CAL = Calendar()


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TIMEZONE)


# (received, amount, unit, cutoff, due) — the comment above each case is the hand count.
# The table stays two lines a case so each hand count sits next to its numbers.
# fmt: off
CASES = [
    # Tết 2025. Fri 24/01 10:00: 1h30 + 3h30 = 5h, 11h left; Sat 25–Sun 02/02 off (27–31
    # Tết, 01/02 4th day on a Saturday); Mon 03/02 8h, 3h left; Tue 04/02 07:00 + 3h.
    pytest.param(at(2025, 1, 24, 10), 2, "working_days", None, at(2025, 2, 4, 10),
                 id="tet-2025-two-working-days"),
    # Tết 2025 with the cut-off: 15:30 ≥ 15:00, so counting starts Mon 03/02 07:00 and one
    # working day ends exactly at 17:00 that day (boundary rule), not Tue 07:00.
    pytest.param(at(2025, 1, 24, 15, 30), 1, "working_days", time(15), at(2025, 2, 3, 17),
                 id="tet-2025-after-cutoff"),
    # Same arrival without a cut-off: Fri 15:30–17:00 is 1h30, 6h30 left; Mon 03/02
    # 07:00–11:30 is 4h30, 2h left; 13:30 + 2h = 15:30.
    pytest.param(at(2025, 1, 24, 15, 30), 1, "working_days", None, at(2025, 2, 3, 15, 30),
                 id="tet-2025-no-cutoff"),
    # Tết 2026. Fri 13/02 16:00: 1h, 23h left; Sat 14–Sun 22/02 off; Mon 23 8h (15 left),
    # Tue 24 8h (7 left), Wed 25 4h30 in the morning, 2h30 left; 13:30 + 2h30 = 16:00.
    pytest.param(at(2026, 2, 13, 16), 3, "working_days", None, at(2026, 2, 25, 16),
                 id="tet-2026-three-working-days"),
    # Tết 2026, calendar days: Wed 11/02 not counted; day 5 is Mon 16/02 (New Year's Eve),
    # a rest day, and so is everything up to Sun 22/02; closing time Mon 23/02.
    pytest.param(at(2026, 2, 11, 9), 5, "calendar_days", None, at(2026, 2, 23, 17),
                 id="tet-2026-calendar-days-end-on-holiday"),
    # Hùng Kings 2025 (Mon 07/04). Fri 04/04 14:00: 3h, 5h left; Sat, Sun, Mon skipped;
    # Tue 08/04 morning 4h30, 30 min left; 13:30 + 0:30 = 14:00.
    pytest.param(at(2025, 4, 4, 14), 8, "working_hours", None, at(2025, 4, 8, 14),
                 id="hung-kings-2025"),
    # Hùng Kings 2026 falls on Sun 26/04, observed Mon 27/04. Fri 24/04 17:00 is at closing:
    # count from Tue 28/04 07:00; one working day ends 17:00 the same day.
    pytest.param(at(2026, 4, 24, 17), 1, "working_days", None, at(2026, 4, 28, 17),
                 id="hung-kings-2026-observed-monday"),
    # 30/4 swap 2025: Thu 24/04 10:00: 5h, 19h left; Fri 25 8h (11 left); Sat 26 is a
    # working day, 8h (3 left); Sun 27 off; Mon 28 07:00 + 3h.
    pytest.param(at(2025, 4, 24, 10), 3, "working_days", None, at(2025, 4, 28, 10),
                 id="reunification-2025-working-saturday"),
    # Across the 2025 break: Tue 29/04 09:00: 2h30 + 3h30 = 6h, 10h left; Wed 30/04,
    # Thu 01/05, Fri 02/05 (substituted), Sat 03, Sun 04 off; Mon 05 8h; Tue 06 07:00 + 2h.
    pytest.param(at(2025, 4, 29, 9), 2, "working_days", None, at(2025, 5, 6, 9),
                 id="reunification-2025-five-day-break"),
    # 2025 calendar days ending in the break: Fri 25/04 not counted; day 5 is Wed 30/04;
    # 01/05, 02/05, 03/05, 04/05 are rest days; closing time Mon 05/05.
    pytest.param(at(2025, 4, 25, 10), 5, "calendar_days", None, at(2025, 5, 5, 17),
                 id="reunification-2025-calendar-days"),
    # Calendar days ending on the working Saturday: Mon 21/04 not counted; day 5 is
    # Sat 26/04/2025, a working day, so the limit ends at its closing time.
    pytest.param(at(2025, 4, 21, 9), 5, "calendar_days", None, at(2025, 4, 26, 17),
                 id="calendar-days-end-on-working-saturday"),
    # National Day 2025 (Mon 01/09 + Tue 02/09). Fri 29/08 10:00: 5h, 11h left; Sat 30 to
    # Tue 02/09 off; Wed 03 8h (3 left); Thu 04 07:00 + 3h.
    pytest.param(at(2025, 8, 29, 10), 2, "working_days", None, at(2025, 9, 4, 10),
                 id="national-day-2025"),
    # National Day 2025, calendar days: day 3 after Fri 29/08 is Mon 01/09 (holiday), then
    # Tue 02/09 (holiday); closing time Wed 03/09.
    pytest.param(at(2025, 8, 29, 10), 3, "calendar_days", None, at(2025, 9, 3, 17),
                 id="national-day-2025-calendar-days"),
    # National Day 2026: Fri 28/08 09:00: 6h, 10h left; Sat 29, Sun 30, Mon 31/08
    # (substituted for Sat 22/08), Tue 01/09, Wed 02/09 off; Thu 03 8h; Fri 04 07:00 + 2h.
    pytest.param(at(2026, 8, 28, 9), 2, "working_days", None, at(2026, 9, 4, 9),
                 id="national-day-2026"),
    # Working Saturday 22/08/2026: 08:00 to 11:30 is 3h30, 30 min left; 13:30 + 0:30.
    pytest.param(at(2026, 8, 22, 8), 4, "working_hours", None, at(2026, 8, 22, 14),
                 id="working-saturday-2026-arrival"),
    # Fri 21/08/2026 16:30: 30 min, 7h30 left; Sat 22 morning 4h30, 3h left; 13:30 + 3h.
    pytest.param(at(2026, 8, 21, 16, 30), 1, "working_days", None, at(2026, 8, 22, 16, 30),
                 id="working-saturday-2026-counted"),
    # Lunch: Wed 12/03/2025 12:15 counts from 13:30; + 2h = 15:30.
    pytest.param(at(2025, 3, 12, 12, 15), 2, "working_hours", None, at(2025, 3, 12, 15, 30),
                 id="lunch-arrival"),
    # Lunch, longer: 13:30–17:00 is 3h30, 30 min left; Thu 13/03 07:30.
    pytest.param(at(2025, 3, 12, 12, 15), 4, "working_hours", None, at(2025, 3, 13, 7, 30),
                 id="lunch-arrival-next-morning"),
    # Exactly at closing, Mon 10/03/2025 17:00: next opening Tue 07:00; 8h ends 17:00 Tue.
    pytest.param(at(2025, 3, 10, 17), 8, "working_hours", None, at(2025, 3, 11, 17),
                 id="at-closing"),
    # After hours on a Friday, 18:45 07/03/2025: Mon 10/03 07:00 + 1h.
    pytest.param(at(2025, 3, 7, 18, 45), 1, "working_hours", None, at(2025, 3, 10, 8),
                 id="friday-evening"),
    # Before opening, Mon 10/03/2025 06:30: from 07:00 + 4h = 11:00.
    pytest.param(at(2025, 3, 10, 6, 30), 4, "working_hours", None, at(2025, 3, 10, 11),
                 id="before-opening"),
    # Ending exactly at lunch: Mon 10/03/2025 07:30 + 4h = 11:30, not 13:30 (boundary rule).
    pytest.param(at(2025, 3, 10, 7, 30), 4, "working_hours", None, at(2025, 3, 10, 11, 30),
                 id="ends-exactly-at-lunch"),
    # Cut-off, just before: Thu 13/03/2025 14:59 counts; 14:59–17:00 is 2h01, 1h59 left;
    # Fri 14/03 07:00 + 1h59 = 08:59.
    pytest.param(at(2025, 3, 13, 14, 59), 4, "working_hours", time(15), at(2025, 3, 14, 8, 59),
                 id="cutoff-just-before"),
    # Cut-off, exactly at 15:00: counts from Fri 14/03 07:00; + 4h = 11:00.
    pytest.param(at(2025, 3, 13, 15), 4, "working_hours", time(15), at(2025, 3, 14, 11),
                 id="cutoff-exactly"),
    # Calendar days ending on a Saturday: Mon 03/03/2025 not counted; day 5 is Sat 08/03,
    # then Sun 09/03; closing time Mon 10/03.
    pytest.param(at(2025, 3, 3, 10), 5, "calendar_days", None, at(2025, 3, 10, 17),
                 id="calendar-days-end-on-saturday"),
    # Calendar days ending on a working day: day 3 after Mon 03/03 is Thu 06/03.
    pytest.param(at(2025, 3, 3, 10), 3, "calendar_days", None, at(2025, 3, 6, 17),
                 id="calendar-days-end-on-thursday"),
    # Calendar days after hours: Fri 07/03/2025 18:00 is received Mon 10/03; day 2 = Wed 12.
    pytest.param(at(2025, 3, 7, 18), 2, "calendar_days", None, at(2025, 3, 12, 17),
                 id="calendar-days-after-hours"),
    # New Year 2026: Wed 31/12/2025 16:00: 1h, 7h left; Thu 01/01 off; Fri 02/01 morning
    # 4h30, 2h30 left; 13:30 + 2h30 = 16:00.
    pytest.param(at(2025, 12, 31, 16), 1, "working_days", None, at(2026, 1, 2, 16),
                 id="new-year-2026"),
    # Vietnam Culture Day, Tue 24/11/2026: Mon 23/11 17:30 counts from Wed 25/11 07:00.
    pytest.param(at(2026, 11, 23, 17, 30), 1, "working_days", None, at(2026, 11, 25, 17),
                 id="culture-day-2026"),
    # Zero: due at the normalised arrival. Sat 26/04/2025 06:00 is a working Saturday
    # before opening, so 07:00 that day.
    pytest.param(at(2025, 4, 26, 6), 0, "working_hours", None, at(2025, 4, 26, 7),
                 id="zero-on-working-saturday"),
    # Zero on Sun 02/02/2025 (end of Tết): Mon 03/02 07:00, also for calendar days.
    pytest.param(at(2025, 2, 2, 10), 0, "calendar_days", None, at(2025, 2, 3, 7),
                 id="zero-calendar-days"),
]
# fmt: on


class TestDueDates:
    @pytest.mark.parametrize(("received", "amount", "unit", "cutoff", "due"), CASES)
    def test_due_date_matches_the_hand_count(self, received, amount, unit, cutoff, due):
        result = CAL.add(received, amount, unit, cutoff)
        assert result.due_at == due
        assert result.due_at.utcoffset().total_seconds() == 7 * 3600

    def test_tet_2025_names_every_skipped_day(self):
        result = CAL.add(at(2025, 1, 24, 10), 2, "working_days")
        assert [(o.day.day, o.kind, o.reason) for o in result.skipped_days] == [
            (25, "weekend", "Saturday"),
            (26, "weekend", "Sunday"),
            (27, "holiday", "29 of Lunar New Year (holiday)"),
            (28, "holiday", "Lunar New Year's Eve (holiday)"),
            (29, "holiday", "Lunar New Year (holiday)"),
            (30, "holiday", "Second Day of Lunar New Year (holiday)"),
            (31, "holiday", "Third Day of Lunar New Year (holiday)"),
            (1, "holiday", "Fourth Day of Lunar New Year (holiday, Saturday)"),
            (2, "weekend", "Sunday"),
        ]
        assert result.skipped_days[4].reason_vi == "Tết Nguyên Đán (ngày lễ)"

    def test_hung_kings_2026_explains_the_observed_day(self):
        result = CAL.add(at(2026, 4, 24, 17), 1, "working_days")
        assert [o.reason_vi for o in result.skipped_days] == [
            "Thứ Bảy",
            "Ngày Giỗ Tổ Hùng Vương (ngày lễ, Chủ nhật)",
            "Ngày Giỗ Tổ Hùng Vương (nghỉ bù) (ngày lễ)",
        ]
        assert [s.kind for s in result.steps][-2:] == ["counted_from", "due"]

    def test_working_saturday_is_explained_with_its_day_off(self):
        result = CAL.add(at(2025, 4, 24, 10), 3, "working_days")
        notes = [s for s in result.steps if s.kind == "working_weekend"]
        assert [s.day for s in notes] == [date(2025, 4, 26)]
        assert "Friday 02/05/2025" in notes[0].text
        assert "ngày làm bù cho ngày nghỉ Thứ Sáu 02/05/2025" in notes[0].text_vi

    def test_explanation_reads_in_both_languages(self):
        result = CAL.add(at(2025, 1, 24, 15, 30), 1, "working_days", time(15))
        assert result.explain("en").splitlines()[0] == "Received at 15:30 Friday 24/01/2025."
        vi = result.explain("vi").splitlines()
        assert vi[-2] == "Tính từ 07:00 Thứ Hai 03/02/2025: tiếp nhận từ 15:00 trở đi."
        assert vi[-1] == "Hạn trả: 17:00 Thứ Hai 03/02/2025 (1 ngày làm việc)."


# (day, is a working day, reason kind or None)
DAYS = [
    (date(2025, 1, 1), False, "holiday"),
    (date(2025, 1, 27), False, "holiday"),  # 4th day of Tết (Sat 01/02) moved here
    (date(2025, 1, 31), False, "holiday"),
    (date(2025, 2, 3), True, None),
    (date(2025, 4, 7), False, "holiday"),
    (date(2025, 4, 26), True, None),  # Saturday worked for Fri 02/05
    (date(2025, 5, 2), False, "holiday"),
    (date(2025, 9, 1), False, "holiday"),
    (date(2025, 9, 2), False, "holiday"),
    (date(2025, 9, 3), True, None),
    (date(2025, 3, 8), False, "weekend"),
    (date(2026, 2, 16), False, "holiday"),
    (date(2026, 2, 20), False, "holiday"),
    (date(2026, 2, 23), True, None),
    (date(2026, 4, 26), False, "holiday"),
    (date(2026, 4, 27), False, "holiday"),
    (date(2026, 8, 22), True, None),  # Saturday worked for Mon 31/08
    (date(2026, 8, 31), False, "holiday"),
    (date(2026, 9, 1), False, "holiday"),
    (date(2026, 9, 2), False, "holiday"),
    (date(2026, 11, 24), False, "holiday"),
]


class TestWorkingDays:
    @pytest.mark.parametrize(("day", "working", "kind"), DAYS, ids=str)
    def test_day_matches_the_announced_calendar(self, day, working, kind):
        assert CAL.is_working_day(day) is working
        off = CAL.day_off(day)
        assert (off.kind if off else None) == kind

    def test_tet_2026_is_exactly_monday_to_friday(self):
        off = CAL.non_working_days(date(2026, 2, 14), date(2026, 2, 22))
        assert [o.day.day for o in off] == list(range(14, 23))
        assert [o.kind for o in off] == ["weekend"] * 2 + ["holiday"] * 5 + ["weekend"] * 2

    def test_2025_has_the_announced_number_of_working_days_in_may(self):
        # May 2025: 31 days, 9 weekend days, Thu 01/05 and Fri 02/05 off → 20.
        assert CAL.working_days_between(date(2025, 5, 1), date(2025, 5, 31)) == 20

    def test_next_working_day_after_tet_2025(self):
        assert CAL.next_working_day(date(2025, 1, 24)) == date(2025, 2, 3)
