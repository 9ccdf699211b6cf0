"""workflow settings: ``MOTCUA_WORKFLOW_*`` then ``MOTCUA_*``."""

from pathlib import Path

from motcua.config import service_settings


class Settings(service_settings("workflow")):  # type: ignore[misc]
    """Workflow's settings: the calendar per agency, timers and deadline policy."""

    #: Office hours of agencies without their own (``HH:MM-HH:MM, HH:MM-HH:MM``).
    default_office_hours: str = "07:00-11:30, 13:30-17:00"
    #: Agency code → its office hours, e.g. ``{"000.01.17.H56": "07:30-11:30, 13:00-17:00"}``.
    agency_office_hours: dict[str, str] = {}
    #: TOML/JSON file of announced days off and make-up days the `holidays` package lacks.
    calendar_overrides_path: Path | None = None
    #: How often the durable timers look for cases whose next check is due.
    timer_poll_s: float = 5.0
    timer_batch: int = 100
    #: Working hours before the appointment when "due soon" fires and lateness is predicted
    #: (the apology must go out at least one working day, 8 h, before the deadline).
    due_soon_working_hours: int = 16
    #: Working hours before the deadline by which an apology must be sent (domain.md §2).
    apology_notice_working_hours: int = 8
    #: Working hours a receiving agency has to acknowledge a transfer (Decree 63/2024).
    acknowledge_working_hours: int = 2
    #: Classify early/on time/late against the extended appointment instead of the
    #: statutory one ([unconfirmed] which one the national index uses; statutory by default).
    classify_against_extended_due: bool = False
