"""What workflow's entry points share: settings, calendars per agency and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from motcua.calendar import CalendarRegistry
from motcua_workflow.clock import Clock, SystemClock
from motcua_workflow.config import Settings


@dataclass(frozen=True)
class Workflow:
    """Workflow's collaborators, built once per app (``app.state.workflow``)."""

    settings: Settings
    calendars: CalendarRegistry
    clock: Clock

    @property
    def province(self) -> str:
        """The province this deployment serves (event subjects)."""
        return self.settings.province

    @property
    def due_soon_lead(self) -> timedelta:
        """Office time before the appointment when "due soon" fires."""
        return timedelta(hours=self.settings.due_soon_working_hours)

    @property
    def notice_lead(self) -> timedelta:
        """Office time before the deadline by which an apology must be sent."""
        return timedelta(hours=self.settings.apology_notice_working_hours)

    @property
    def acknowledge_within(self) -> timedelta:
        """Office time a receiving agency has to acknowledge a transfer."""
        return timedelta(hours=self.settings.acknowledge_working_hours)

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> Workflow:
        """From settings (reads the overrides file once)."""
        calendars = CalendarRegistry.from_settings(
            settings.default_office_hours, settings.agency_office_hours,
            settings.calendar_overrides_path)
        return cls(settings, calendars, clock or SystemClock())


async def workflow(request: Request) -> Workflow:
    """The app's workflow collaborators."""
    return request.app.state.workflow


WorkflowDep = Annotated[Workflow, Depends(workflow)]
