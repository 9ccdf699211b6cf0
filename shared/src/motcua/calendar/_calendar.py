"""Working days, office hours and due dates (ngày hẹn trả) in Vietnam's time zone.

Decisions a caller should know:

* **Working days.** A day is a working day unless an override, the `holidays` package
  (``VN``: holidays, observed days, substituted days off) or the weekend says otherwise.
  Precedence: a deployment override first, then the package's weekend working days
  (make-up Saturdays) and days off, then Saturday/Sunday as rest days.
* **Normalising the arrival.** Before opening → opening; during a break (lunch) → the
  next period's start; at or after closing, or on a non-working day → the next working
  day's opening. With a ``cutoff`` (e.g. 15:00), an arrival on a working day at or after
  the cut-off also counts from the next working day's opening; the cut-off is compared
  with the arrival as received, before any other move. Every unit starts from
  the normalised arrival, calendar days included (their "arrival day" is its date).
* **Working units.** ``working_hours`` count office time; ``working_days`` are
  ``amount × 8`` working hours (the statutory day, whatever an agency's own hours add up
  to). The due instant is the *earliest* instant at which that much office time has
  elapsed, so time running out exactly at a period boundary is due at that boundary:
  8 hours from 07:00 Monday is due 17:00 Monday, not 07:00 Tuesday, and 4 hours from
  07:30 is due 11:30, not 13:30.
* **Calendar days** follow the Civil Code (Art. 147–148): the arrival day is not counted,
  the limit ends on day ``arrival + amount``; if that day is a rest day it moves to the
  next working day. The Code ends a day at 24:00; a dossier can only be returned while
  the office is open, so the limit ends at that day's *closing time*.
* **Zero.** ``amount == 0`` is due at the normalised arrival, for every unit. Negative
  amounts raise :class:`ValueError`, as do naive datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from ._holidays import year_table
from ._hours import OfficeHours
from ._overrides import Override, check_unique

TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
HOURS_PER_WORKING_DAY = 8

Unit = Literal["working_hours", "working_days", "calendar_days"]
DayOffKind = Literal["weekend", "holiday", "override"]
StepKind = Literal[
    "received", "skipped", "working_weekend", "counted_from", "counted", "extended", "due"
]

_UNITS: frozenset[str] = frozenset(get_args(Unit))
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
_ONE_DAY = timedelta(days=1)
# rewind() gives up after this many days (no calendar has that many rest days in a row).
_MAX_REWIND_DAYS = 3660


@dataclass(frozen=True, slots=True)
class DayOff:
    """A non-working day and why (ngày nghỉ), in English and Vietnamese."""

    day: date
    kind: DayOffKind
    reason: str
    reason_vi: str


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a due-date explanation, in English and Vietnamese."""

    kind: StepKind
    text: str
    text_vi: str
    day: date | None = None
    at: datetime | None = None
    day_off: DayOff | None = None


@dataclass(frozen=True, slots=True)
class DueDate:
    """A due instant (ngày hẹn trả) with the steps that led to it."""

    due_at: datetime
    received_at: datetime
    counted_from: datetime
    amount: int
    unit: Unit
    cutoff: time | None
    steps: tuple[Step, ...]

    @property
    def skipped_days(self) -> tuple[DayOff, ...]:
        """Non-working days the computation stepped over, in order."""
        return tuple(step.day_off for step in self.steps if step.day_off is not None)

    def explain(self, language: Literal["en", "vi"] = "vi") -> str:
        """The steps as human-readable lines in Vietnamese or English."""
        if language not in ("en", "vi"):
            raise ValueError(f"language must be 'en' or 'vi', not {language!r}")
        return "\n".join(step.text_vi if language == "vi" else step.text for step in self.steps)


class Calendar:
    """The working calendar of one agency (lịch làm việc): days, office hours, due dates."""

    def __init__(
        self, office_hours: OfficeHours | None = None, overrides: Iterable[Override] = ()
    ) -> None:
        self._hours = office_hours if office_hours is not None else OfficeHours()
        self._overrides = check_unique(overrides)
        self._spans = self._hours.spans()
        self._opening, self._closing = self._spans[0][0], self._spans[-1][1]

    def __repr__(self) -> str:
        return f"Calendar(office_hours={self._hours!r}, overrides={len(self._overrides)})"

    @property
    def office_hours(self) -> OfficeHours:
        """The agency's office hours."""
        return self._hours

    @property
    def overrides(self) -> tuple[Override, ...]:
        """The deployment's overrides, by date."""
        return tuple(self._overrides[day] for day in sorted(self._overrides))

    # Days

    def day_off(self, day: date) -> DayOff | None:
        """Why ``day`` is not a working day, or None when it is one."""
        override = self._overrides.get(day)
        if override is not None:
            if override.kind == "working_day":
                return None
            return DayOff(
                day, "override", f"override: {override.reason}", f"điều chỉnh: {override.reason}"
            )
        table = year_table(day.year)
        holiday = table.days_off.get(day)
        weekend = day.weekday() >= 5
        if weekend and day in table.working_weekends:
            return None
        if holiday is not None:
            if weekend:
                return DayOff(
                    day,
                    "holiday",
                    f"{holiday.en} (holiday, {_weekday_en(day)})",
                    f"{holiday.vi} (ngày lễ, {_weekday_vi(day)})",
                )
            return DayOff(day, "holiday", f"{holiday.en} (holiday)", f"{holiday.vi} (ngày lễ)")
        if weekend:
            return DayOff(day, "weekend", _weekday_en(day), _weekday_vi(day))
        return None

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day (ngày làm việc)."""
        return self.day_off(day) is None

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        day += _ONE_DAY
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def non_working_days(self, first: date, last: date) -> list[DayOff]:
        """Non-working days from ``first`` to ``last`` inclusive, with reasons."""
        return [off for day in _days(first, last) if (off := self.day_off(day)) is not None]

    def working_days_between(self, first: date, last: date) -> int:
        """Count working days from ``first`` to ``last``, both included (0 if last < first)."""
        return sum(1 for day in _days(first, last) if self.is_working_day(day))

    # Instants

    def normalise(self, instant: datetime, cutoff: time | None = None) -> datetime:
        """The instant from which an arrival at ``instant`` is counted."""
        return self._normalise(_local(instant), cutoff, [])

    def add(self, start: datetime, amount: int, unit: Unit, cutoff: time | None = None) -> DueDate:
        """Due instant of ``amount`` ``unit`` from an arrival at ``start``, with explanation."""
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise TypeError(f"amount must be an int, not {amount!r}")
        if amount < 0:
            raise ValueError(f"amount must not be negative, got {amount}")
        if unit not in _UNITS:
            raise ValueError(f"unit must be one of {sorted(_UNITS)}, not {unit!r}")
        if cutoff is not None and cutoff.tzinfo is not None:
            raise ValueError("cutoff is a local wall-clock time, without tzinfo")
        received = _local(start)
        steps: list[Step] = []
        counted_from = self._normalise(received, cutoff, steps)
        if unit == "calendar_days":
            due = self._add_calendar_days(counted_from, amount, steps)
        else:
            hours = amount * (HOURS_PER_WORKING_DAY if unit == "working_days" else 1)
            due = self._add_working_time(counted_from, timedelta(hours=hours), steps)
        steps.append(
            Step(
                "due",
                f"Due at {_at_en(due)} ({amount} {_unit_en(unit, amount)}).",
                f"Hạn trả: {_at_vi(due)} ({amount} {_UNIT_VI[unit]}).",
                at=due,
            )
        )
        return DueDate(due, received, counted_from, amount, unit, cutoff, tuple(steps))

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Office time elapsed on working days between ``a`` and ``b`` (zero if b <= a)."""
        a, b = _local(a), _local(b)
        total = timedelta()
        if b <= a:
            return total
        for day in _days(a.date(), b.date()):
            if not self.is_working_day(day):
                continue
            midnight = _midnight(day)
            for start, end in self._spans:
                lo, hi = max(midnight + start, a), min(midnight + end, b)
                if hi > lo:
                    total += hi - lo
        return total

    def shift(self, instant: datetime, working_time: timedelta) -> datetime:
        """The earliest instant at which ``working_time`` of office time has elapsed since
        ``instant`` (the instant itself when ``working_time`` is zero).

        Used to move a due date by a duration that is not a whole number of hours, such as
        the office time a supplement request paused the clock for.
        """
        if working_time < timedelta():
            raise ValueError("working_time must not be negative")
        local = _local(instant)
        if not working_time:
            return local
        return self._add_working_time(self._normalise(local, None, []), working_time, [])

    def rewind(self, instant: datetime, working_time: timedelta) -> datetime:
        """The latest instant at or before ``instant`` with exactly ``working_time`` of office
        time between it and ``instant`` (for "one working day before the deadline")."""
        if working_time < timedelta():
            raise ValueError("working_time must not be negative")
        local = _local(instant)
        if not working_time:
            return local
        remaining = working_time
        day = local.date()
        offset = local - _midnight(day)
        for _ in range(_MAX_REWIND_DAYS):
            if self.is_working_day(day):
                for start, end in reversed(self._spans):
                    hi = min(end, offset)
                    if hi <= start:
                        continue
                    if remaining <= hi - start:
                        return _midnight(day) + hi - remaining
                    remaining -= hi - start
            day -= _ONE_DAY
            offset = timedelta(days=1)
        raise ValueError("working_time reaches too far into the past")

    # Internals

    def _normalise(self, received: datetime, cutoff: time | None, steps: list[Step]) -> datetime:
        """Move an arrival to the instant counting starts from, logging why."""
        steps.append(
            Step(
                "received",
                f"Received at {_at_en(received)}.",
                f"Tiếp nhận lúc {_at_vi(received)}.",
                at=received,
            )
        )
        day = received.date()
        offset = received - _midnight(day)
        off = self.day_off(day)
        if off is not None:
            steps.append(_skipped(off))
            why = ("received on a non-working day", "tiếp nhận vào ngày nghỉ")
        elif cutoff is not None and received.time() >= cutoff:
            why = (
                f"received at or after the {cutoff:%H:%M} cut-off",
                f"tiếp nhận từ {cutoff:%H:%M} trở đi",
            )
        elif offset >= self._closing:
            why = ("received at or after closing time", "tiếp nhận sau giờ làm việc")
        else:
            self._note_working_weekend(day, steps)
            for start, end in self._spans:
                if offset < start:
                    counted = _midnight(day) + start
                    why = (
                        ("received before opening", "tiếp nhận trước giờ làm việc")
                        if start == self._opening
                        else ("received during the break", "tiếp nhận trong giờ nghỉ trưa")
                    )
                    steps.append(_counted_from(counted, why))
                    return counted
                if offset < end:
                    return received
        day = self._advance(day, steps)
        counted = _midnight(day) + self._opening
        steps.append(_counted_from(counted, why))
        return counted

    def _add_working_time(self, cur: datetime, remaining: timedelta, steps: list[Step]) -> datetime:
        """Walk office time forward from ``cur`` (a normalised instant) a day at a time."""
        if not remaining:
            return cur
        day = cur.date()
        offset = cur - _midnight(day)
        while True:
            available = sum(
                (
                    end - max(start, offset)
                    for start, end in self._spans
                    if max(start, offset) < end
                ),
                timedelta(),
            )
            if remaining <= available:
                break
            remaining -= available
            day = self._advance(day, steps)
            offset = timedelta()
        # The due instant is the first at which the time has elapsed, so a period that
        # exactly exhausts it ends the count at its own end (17:00, or 11:30 before lunch),
        # never at the start of the next one.
        for start, end in self._spans:
            lo = max(start, offset)
            if lo >= end:
                continue
            if remaining <= end - lo:
                return _midnight(day) + lo + remaining
            remaining -= end - lo
        raise AssertionError("unreachable: the day had enough office time")

    def _add_calendar_days(self, cur: datetime, amount: int, steps: list[Step]) -> datetime:
        """Civil Code count: arrival day excluded, ends at closing, rest day moves forward."""
        if amount == 0:
            return cur
        first, last = cur.date() + _ONE_DAY, cur.date() + amount * _ONE_DAY
        steps.append(
            Step(
                "counted",
                f"Arrival day not counted: day 1 is {_day_en(first)}, "
                f"day {amount} is {_day_en(last)}.",
                f"Không tính ngày tiếp nhận: ngày thứ 1 là {_day_vi(first)}, "
                f"ngày thứ {amount} là {_day_vi(last)}.",
                day=last,
            )
        )
        off = self.day_off(last)
        if off is not None:
            steps.append(_skipped(off))
            last = self._advance(last, steps)
            steps.append(
                Step(
                    "extended",
                    f"The last day is a rest day: the limit moves to {_day_en(last)}.",
                    f"Ngày cuối cùng là ngày nghỉ: thời hạn chuyển sang {_day_vi(last)}.",
                    day=last,
                )
            )
        return _midnight(last) + self._closing

    def _advance(self, day: date, steps: list[Step]) -> date:
        """Next working day after ``day``, logging each day skipped on the way."""
        day += _ONE_DAY
        while (off := self.day_off(day)) is not None:
            steps.append(_skipped(off))
            day += _ONE_DAY
        self._note_working_weekend(day, steps)
        return day

    def _note_working_weekend(self, day: date, steps: list[Step]) -> None:
        """Say why a Saturday or Sunday is being counted as a working day."""
        if day.weekday() < 5:
            return
        override = self._overrides.get(day)
        if override is not None:
            en, vi = f"override: {override.reason}", f"điều chỉnh: {override.reason}"
        else:
            paid_back = year_table(day.year).working_weekends.get(day)
            en, vi = "make-up working day", "ngày làm bù"
            if paid_back is not None:
                en += f" for the day off on {_day_en(paid_back)}"
                vi += f" cho ngày nghỉ {_day_vi(paid_back)}"
        steps.append(
            Step(
                "working_weekend",
                f"{_day_en(day)} is a working day ({en}).",
                f"{_day_vi(day)} là ngày làm việc ({vi}).",
                day=day,
            )
        )


_UNIT_VI = {
    "working_hours": "giờ làm việc",
    "working_days": "ngày làm việc",
    "calendar_days": "ngày",
}


def _unit_en(unit: Unit, amount: int) -> str:
    words = unit.replace("_", " ")
    return words[:-1] if amount == 1 else words


def _local(instant: datetime) -> datetime:
    """Convert an aware instant to Vietnam time; naive ones are refused."""
    if not isinstance(instant, datetime):
        raise TypeError(f"expected a datetime, not {instant!r}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
    return instant.astimezone(TIMEZONE)


def _midnight(day: date) -> datetime:
    """Start of ``day`` in Vietnam time; offsets added to it are wall-clock offsets."""
    return datetime.combine(day, time(), tzinfo=TIMEZONE)


def _days(first: date, last: date) -> Iterator[date]:
    """Each date from ``first`` to ``last`` inclusive."""
    day = first
    while day <= last:
        yield day
        day += _ONE_DAY


def _skipped(off: DayOff) -> Step:
    return Step(
        "skipped",
        f"Skipped {_day_en(off.day)}: {off.reason}.",
        f"Bỏ qua {_day_vi(off.day)}: {off.reason_vi}.",
        day=off.day,
        day_off=off,
    )


def _counted_from(at: datetime, why: tuple[str, str]) -> Step:
    return Step(
        "counted_from",
        f"Counted from {_at_en(at)}: {why[0]}.",
        f"Tính từ {_at_vi(at)}: {why[1]}.",
        at=at,
    )


def _weekday_en(day: date) -> str:
    return _WEEKDAYS_EN[day.weekday()]


def _weekday_vi(day: date) -> str:
    return _WEEKDAYS_VI[day.weekday()]


def _day_en(day: date) -> str:
    return f"{_weekday_en(day)} {day:%d/%m/%Y}"


def _day_vi(day: date) -> str:
    return f"{_weekday_vi(day)} {day:%d/%m/%Y}"


def _clock(at: datetime) -> str:
    return f"{at:%H:%M:%S}" if at.second or at.microsecond else f"{at:%H:%M}"


def _at_en(at: datetime) -> str:
    return f"{_clock(at)} {_day_en(at.date())}"


def _at_vi(at: datetime) -> str:
    return f"{_clock(at)} {_day_vi(at.date())}"
