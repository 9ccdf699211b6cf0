"""Calendars per agency: one deployment's overrides, each agency's own office hours."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from ._calendar import Calendar
from ._hours import OfficeHours
from ._overrides import Override, load_overrides


class CalendarRegistry:
    """The working calendar of every agency of a deployment (lịch làm việc theo cơ quan).

    All agencies share the deployment's overrides (announced days off and make-up days);
    an agency listed in ``agency_hours`` (by its exact code) keeps its own office hours,
    every other agency uses ``default_hours``::

        calendars = CalendarRegistry.from_settings(
            "07:00-11:30, 13:30-17:00", {"000.01.17.H56": "07:30-11:30, 13:00-17:00"},
            overrides_path="calendar-overrides.toml")
        calendars.for_agency("000.01.17.H56").add(received_at, 3, "working_days")
    """

    def __init__(
        self,
        default_hours: OfficeHours | None = None,
        agency_hours: Mapping[str, OfficeHours] | None = None,
        overrides: Iterable[Override] = (),
    ) -> None:
        self._overrides = tuple(overrides)
        self._default = Calendar(default_hours, self._overrides)
        self._by_agency = {
            code: Calendar(hours, self._overrides) for code, hours in (agency_hours or {}).items()
        }

    @classmethod
    def from_settings(
        cls,
        default_hours: str | None = None,
        agency_hours: Mapping[str, str] | None = None,
        overrides_path: str | os.PathLike[str] | None = None,
    ) -> CalendarRegistry:
        """Build from text settings (``"HH:MM-HH:MM, HH:MM-HH:MM"``) and an overrides file."""
        return cls(
            OfficeHours.parse(default_hours) if default_hours else None,
            {code: OfficeHours.parse(text) for code, text in (agency_hours or {}).items()},
            load_overrides(overrides_path) if overrides_path else (),
        )

    @property
    def default(self) -> Calendar:
        """The calendar of agencies without their own office hours."""
        return self._default

    def for_agency(self, agency_code: str | None) -> Calendar:
        """The calendar of ``agency_code`` (the default one when it has no own hours)."""
        if agency_code is None:
            return self._default
        return self._by_agency.get(agency_code, self._default)

    def agencies_with_own_hours(self) -> tuple[str, ...]:
        """Codes of agencies whose office hours differ from the default, sorted."""
        return tuple(sorted(self._by_agency))
