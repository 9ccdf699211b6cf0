"""Office hours of an agency on a working day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

_DEFAULT_PERIODS = ((time(7, 0), time(11, 30)), (time(13, 30), time(17, 0)))


@dataclass(frozen=True, slots=True)
class OfficeHours:
    """Opening periods of an agency on a working day (giờ làm việc)."""

    # Default: 07:00–11:30 and 13:30–17:00, the common hours of state agencies.

    periods: tuple[tuple[time, time], ...] = _DEFAULT_PERIODS

    def __post_init__(self) -> None:
        periods = tuple((start, end) for start, end in self.periods)
        object.__setattr__(self, "periods", periods)
        if not periods:
            raise ValueError("office hours need at least one period")
        previous_end: time | None = None
        for start, end in periods:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("office hours are local wall-clock times, without tzinfo")
            if not start < end:
                raise ValueError(f"office period {start}–{end} must end after it starts")
            if previous_end is not None and start < previous_end:
                raise ValueError("office periods must be in order and must not overlap")
            previous_end = end

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        """Build office hours from text such as ``"07:00-11:30, 13:30-17:00"``."""
        periods = []
        for chunk in text.split(","):
            start, sep, end = chunk.strip().partition("-")
            if not sep:
                raise ValueError(f"office period {chunk.strip()!r} is not 'HH:MM-HH:MM'")
            periods.append((time.fromisoformat(start.strip()), time.fromisoformat(end.strip())))
        return cls(tuple(periods))

    @property
    def opening(self) -> time:
        """Time the office opens."""
        return self.periods[0][0]

    @property
    def closing(self) -> time:
        """Time the office closes."""
        return self.periods[-1][1]

    @property
    def day_length(self) -> timedelta:
        """Working time in one full office day."""
        return sum((_offset(end) - _offset(start) for start, end in self.periods), timedelta())

    def spans(self) -> tuple[tuple[timedelta, timedelta], ...]:
        """Periods as offsets from midnight, for arithmetic."""
        return tuple((_offset(start), _offset(end)) for start, end in self.periods)


def _offset(t: time) -> timedelta:
    """Time of day as a duration since midnight."""
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)
