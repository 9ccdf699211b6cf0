"""Units (province, agency, commune) and periods (month, quarter, year, custom range)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

UnitKind = Literal["province", "agency", "commune"]
_PROVINCE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
_AGENCY = re.compile(r"^[0-9A-Z.]{1,35}$")
_COMMUNE = re.compile(r"^[0-9A-Za-z._-]{1,35}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
#: The longest custom range accepted (a few years), so one request stays bounded.
MAX_RANGE_DAYS = 3 * 366


@dataclass(frozen=True)
class Unit:
    """A unit the index is computed for."""

    kind: UnitKind
    code: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.code}"


@dataclass(frozen=True)
class Period:
    """A period of business days, both ends included."""

    label: str
    kind: Literal["month", "quarter", "year", "range"]
    start: date
    end: date

    def judged_on(self, today: date) -> date:
        """The day unfinished dossiers are judged: the period's end, or today if sooner."""
        return min(self.end, today)


def parse_unit(text: str) -> Unit:
    """``province:H56``, ``agency:000.01.17.H56``, ``commune:<code>``; a bare province
    code or agency code is accepted too. Raises ValueError."""
    kind, sep, code = text.partition(":")
    if not sep:
        code = text
        kind = "province" if _PROVINCE.match(text) else "agency"
    if kind == "province" and _PROVINCE.match(code):
        return Unit("province", code)
    if kind == "agency" and _AGENCY.match(code) and "." in code:
        return Unit("agency", code)
    if kind == "commune" and _COMMUNE.match(code):
        return Unit("commune", code)
    raise ValueError("unit must be province:<code>, agency:<code> or commune:<code>")


def parse_period(text: str) -> Period:
    """``2026-03`` (month), ``2026-Q1`` (quarter), ``2026`` (year) or
    ``2026-03-01..2026-03-15`` (custom, both days included). Raises ValueError."""
    try:
        if m := _MONTH.match(text):
            year, month = int(m[1]), int(m[2])
            start = date(year, month, 1)
            end = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
            return Period(text, "month", start, end)
        if m := _QUARTER.match(text):
            year, q = int(m[1]), int(m[2])
            start = date(year, 3 * q - 2, 1)
            end = date(year + (q == 4), (3 * q) % 12 + 1, 1) - timedelta(days=1)
            return Period(text, "quarter", start, end)
        if m := _YEAR.match(text):
            year = int(m[1])
            return Period(text, "year", date(year, 1, 1), date(year, 12, 31))
        if m := _RANGE.match(text):
            start, end = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if end < start:
                raise ValueError("the range ends before it starts")
            if (end - start).days > MAX_RANGE_DAYS:
                raise ValueError(f"a custom range may span at most {MAX_RANGE_DAYS} days")
            return Period(text, "range", start, end)
    except ValueError as exc:
        if "range" in str(exc):
            raise
        raise ValueError(f"not a valid date: {exc}") from None
    raise ValueError("period must be YYYY-MM, YYYY-Qn, YYYY or YYYY-MM-DD..YYYY-MM-DD")


def months_back(end: date, count: int) -> list[Period]:
    """The ``count`` calendar months ending with the month of ``end``, oldest first."""
    out = []
    year, month = end.year, end.month
    for _ in range(count):
        out.append(parse_period(f"{year:04d}-{month:02d}"))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]
