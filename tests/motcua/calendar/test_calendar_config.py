"""Office hours, overrides files and argument checking."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import pytest

from motcua.calendar import (
    TIMEZONE,
    Calendar,
    InvalidOverrides,
    OfficeHours,
    Override,
    load_overrides,
)


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TIMEZONE)


OVERRIDES_TOML = """
# A hypothetical provincial notice: an extra Tết day, paid back on a Saturday.
[[day_off]]
date = 2026-02-13
reason = "Thông báo 12/TB-UBND: extra Tết day"

[[working_day]]
date = 2026-02-28
reason = "Thông báo 12/TB-UBND: make-up day for 13/02"
"""


class TestOfficeHours:
    def test_default_is_seven_to_five_with_lunch(self):
        hours = OfficeHours()
        assert (hours.opening, hours.closing) == (time(7), time(17))
        assert hours.day_length == timedelta(hours=8)

    def test_parses_agency_hours(self):
        hours = OfficeHours.parse("07:30-11:30, 13:00-17:00")
        assert hours.periods == ((time(7, 30), time(11, 30)), (time(13), time(17)))
        assert hours.day_length == timedelta(hours=8)

    @pytest.mark.parametrize(
        "text", ["", "07:00", "11:30-07:00", "07:00-12:00, 11:00-17:00", "13:00-17:00, 07:00-11:00"]
    )
    def test_refuses_malformed_hours(self, text):
        with pytest.raises(ValueError):
            OfficeHours.parse(text)

    def test_agency_hours_drive_the_count(self):
        # 07:30–11:30, 13:00–17:00. Mon 10/03/2025 12:00 counts from 13:00: 4h to 17:00,
        # 4h left; Tue 07:30 + 4h = 11:30, which is the end of the morning period.
        cal = Calendar(OfficeHours.parse("07:30-11:30, 13:00-17:00"))
        assert cal.add(at(2025, 3, 10, 12), 1, "working_days").due_at == at(2025, 3, 11, 11, 30)
        assert cal.add(at(2025, 3, 3, 10), 3, "calendar_days").due_at == at(2025, 3, 6, 17)


class TestOverrides:
    def test_loads_toml(self, tmp_path):
        path = tmp_path / "calendar.toml"
        path.write_text(OVERRIDES_TOML, encoding="utf-8")
        assert [(o.day, o.kind) for o in load_overrides(path)] == [
            (date(2026, 2, 13), "day_off"),
            (date(2026, 2, 28), "working_day"),
        ]

    def test_loads_json(self, tmp_path):
        path = tmp_path / "calendar.json"
        path.write_text(
            json.dumps({"working_day": [{"date": "2026-11-24", "reason": "not observed here"}]}),
            encoding="utf-8",
        )
        assert load_overrides(path) == (
            Override(date(2026, 11, 24), "working_day", "not observed here"),
        )

    def test_day_off_override_is_skipped_with_its_reason(self, tmp_path):
        # Thu 12/02/2026 16:00: 1h, 7h left; Fri 13/02 (override) and Sat 14–Sun 22 (Tết)
        # skipped; Mon 23/02 morning 4h30, 2h30 left; 13:30 + 2h30 = 16:00.
        path = tmp_path / "calendar.toml"
        path.write_text(OVERRIDES_TOML, encoding="utf-8")
        cal = Calendar(overrides=load_overrides(path))
        result = cal.add(at(2026, 2, 12, 16), 1, "working_days")
        assert result.due_at == at(2026, 2, 23, 16)
        first = result.skipped_days[0]
        assert (first.day, first.kind) == (date(2026, 2, 13), "override")
        assert first.reason == "override: Thông báo 12/TB-UBND: extra Tết day"

    def test_working_day_override_opens_a_saturday(self, tmp_path):
        # Fri 27/02/2026 16:00: 1h, 7h left; Sat 28/02 is worked: 4h30, 2h30 left; 16:00.
        path = tmp_path / "calendar.toml"
        path.write_text(OVERRIDES_TOML, encoding="utf-8")
        cal = Calendar(overrides=load_overrides(path))
        result = cal.add(at(2026, 2, 27, 16), 1, "working_days")
        assert result.due_at == at(2026, 2, 28, 16)
        assert "make-up day for 13/02" in result.explain("en")

    def test_working_day_override_beats_a_package_holiday(self):
        cal = Calendar(overrides=[Override(date(2026, 11, 24), "working_day", "not observed")])
        assert cal.is_working_day(date(2026, 11, 24))
        assert not Calendar().is_working_day(date(2026, 11, 24))

    @pytest.mark.parametrize(
        ("name", "text"),
        [
            ("bad.toml", "[[day_off]]\ndate = 2026-02-13\n"),  # no reason
            ("bad.toml", '[[day_off]]\ndate = 2026-02-13\nreason = ""\n'),
            ("bad.toml", '[[holiday]]\ndate = 2026-02-13\nreason = "x"\n'),  # unknown list
            ("bad.toml", '[[day_off]]\ndate = 2026-02-13T10:00:00\nreason = "x"\n'),
            ("bad.toml", "not toml ["),
            ("bad.json", '{"day_off": [{"date": "13/02/2026", "reason": "x"}]}'),
            ("bad.json", '{"day_off": {"date": "2026-02-13", "reason": "x"}}'),
            (
                "bad.json",
                '{"day_off": [{"date": "2026-02-13", "reason": "x"}],'
                ' "working_day": [{"date": "2026-02-13", "reason": "y"}]}',
            ),
            ("bad.yaml", "day_off: []"),
        ],
    )
    def test_refuses_a_malformed_file(self, tmp_path, name, text):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InvalidOverrides):
            load_overrides(path)

    def test_refuses_two_overrides_for_one_day(self):
        with pytest.raises(InvalidOverrides):
            Calendar(
                overrides=[
                    Override(date(2026, 2, 13), "day_off", "a"),
                    Override(date(2026, 2, 13), "working_day", "b"),
                ]
            )


class TestArguments:
    def test_refuses_negative_amounts(self):
        with pytest.raises(ValueError):
            Calendar().add(at(2025, 3, 10, 9), -1, "working_hours")

    def test_refuses_unknown_units(self):
        with pytest.raises(ValueError):
            Calendar().add(at(2025, 3, 10, 9), 1, "weeks")  # type: ignore[arg-type]

    def test_refuses_naive_datetimes(self):
        with pytest.raises(ValueError):
            Calendar().add(datetime(2025, 3, 10, 9), 1, "working_hours")
        with pytest.raises(ValueError):
            Calendar().working_time_between(datetime(2025, 3, 10), at(2025, 3, 11))

    def test_accepts_any_timezone_and_answers_in_vietnam_time(self):
        # 02:00 UTC is 09:00 in Hà Nội; + 2h = 11:00 +07:00.
        due = Calendar().add(datetime(2025, 3, 10, 2, tzinfo=UTC), 2, "working_hours").due_at
        assert due == at(2025, 3, 10, 11) and due.tzinfo is TIMEZONE

    def test_working_time_is_zero_backwards(self):
        assert Calendar().working_time_between(at(2025, 3, 11), at(2025, 3, 10)) == timedelta()

    def test_working_time_over_a_week(self):
        # Mon 10/03/2025 00:00 to Mon 17/03 00:00: five working days of 8h.
        assert Calendar().working_time_between(at(2025, 3, 10), at(2025, 3, 17)) == timedelta(
            hours=40
        )

    def test_long_counts_stay_fast_and_exact(self):
        # 250 working days from Thu 02/01/2025 07:00 must end at closing of a working day
        # and measure exactly 2000 working hours.
        cal = Calendar()
        result = cal.add(at(2025, 1, 2, 7), 250, "working_days")
        assert result.due_at.time() == time(17)
        assert cal.working_time_between(at(2025, 1, 2, 7), result.due_at) == timedelta(hours=2000)
