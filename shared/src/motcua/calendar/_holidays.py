"""Vietnamese public holidays and make-up working days, read from `holidays` and cached."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date
from functools import lru_cache
from types import MappingProxyType

import holidays

COUNTRY = "VN"


@dataclass(frozen=True, slots=True)
class HolidayName:
    """A holiday's name in English and Vietnamese, as the package gives it."""

    en: str
    vi: str


@dataclass(frozen=True, slots=True)
class YearTable:
    """One year's days off and weekend working days (ngày làm bù)."""

    days_off: Mapping[date, HolidayName]
    # Weekend working day -> the weekday off it pays for, when the package says which.
    working_weekends: Mapping[date, date | None]


@lru_cache(maxsize=256)
def year_table(year: int) -> YearTable:
    """Return the holidays and weekend working days falling in ``year`` (cached)."""
    # Neighbouring years are populated as well: the package files a swap under the year of
    # the day off, and its make-up Saturday can fall in the other year (the 31/12/2018 day
    # off was paid back on Sat 05/01/2019).
    years = list(range(max(MINYEAR, year - 1), min(MAXYEAR, year + 1) + 1))
    # The language is explicit because the package otherwise follows the process locale.
    vi = holidays.country_holidays(COUNTRY, years=years, language="vi")
    en = holidays.country_holidays(COUNTRY, years=years, language="en_US")
    days_off = {
        day: HolidayName(en=en.get(day, name), vi=name)
        for day, name in sorted(vi.items())
        if day.year == year
    }
    working_weekends = {
        day: _paid_back_day(vi, day) for day in sorted(vi.weekend_workdays) if day.year == year
    }
    return YearTable(MappingProxyType(days_off), MappingProxyType(working_weekends))


def _paid_back_day(vi: holidays.HolidayBase, working_day: date) -> date | None:
    """Find the day off whose substitution label names ``working_day``, if any."""
    # The package keeps no link from a make-up day to its day off other than this label,
    # "Ngày nghỉ (thay cho ngày 26/04/2025)"; without a match the reason stays generic.
    needle = working_day.strftime("%d/%m/%Y")
    for day, name in vi.items():
        if needle in name:
            return day
    return None
