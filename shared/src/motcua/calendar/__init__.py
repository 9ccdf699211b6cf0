"""The legal working calendar: working days, office hours and due dates (ngày hẹn trả).

A :class:`Calendar` combines Vietnam's public holidays from the `holidays` package
(country ``VN``, with its observed days, substituted days off and make-up Saturdays),
per-deployment :class:`Override` entries read by :func:`load_overrides`, and an agency's
:class:`OfficeHours` (default 07:00–11:30 and 13:30–17:00, time zone Asia/Ho_Chi_Minh)::

    calendar = Calendar(overrides=load_overrides("calendar-overrides.toml"))
    due = calendar.add(received_at, 3, "working_days", cutoff=time(15))
    due.due_at, due.explain("vi")
    calendar.shift(due.due_at, paused)           # move a due date by office time
    calendar.rewind(due.due_at, timedelta(hours=8))  # one working day before it

:class:`CalendarRegistry` holds the calendar of each agency of a deployment (shared
overrides, per-agency office hours).

Boundary rules (normalising arrivals, the cut-off, time running out exactly at closing,
calendar days under the Civil Code, zero amounts) are set out in
``motcua.calendar._calendar``. Errors: :class:`ValueError` for negative amounts, unknown
units and naive datetimes; :class:`InvalidOverrides` (a ``ValueError``) for a bad
overrides file.
"""

from ._calendar import (
    HOURS_PER_WORKING_DAY,
    TIMEZONE,
    Calendar,
    DayOff,
    DueDate,
    Step,
    Unit,
)
from ._hours import OfficeHours
from ._overrides import InvalidOverrides, Override, load_overrides
from ._registry import CalendarRegistry

__all__ = [
    "HOURS_PER_WORKING_DAY",
    "TIMEZONE",
    "Calendar",
    "CalendarRegistry",
    "DayOff",
    "DueDate",
    "InvalidOverrides",
    "OfficeHours",
    "Override",
    "Step",
    "Unit",
    "load_overrides",
]
