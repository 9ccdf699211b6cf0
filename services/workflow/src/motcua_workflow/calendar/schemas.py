"""Response bodies of the calendar API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from motcua.calendar import DayOff, DueDate, Step


class DayOffRead(BaseModel):
    """A non-working day and why (ngày nghỉ)."""

    date: dt.date
    kind: str
    reason: str
    reason_vi: str

    @classmethod
    def of(cls, off: DayOff) -> DayOffRead:
        """From the calendar's value."""
        return cls(date=off.day, kind=off.kind, reason=off.reason, reason_vi=off.reason_vi)


class StepRead(BaseModel):
    """One line of a due-date explanation."""

    kind: str
    text: str
    text_vi: str
    date: dt.date | None = None
    at: dt.datetime | None = None

    @classmethod
    def of(cls, step: Step) -> StepRead:
        """From the calendar's value."""
        return cls(kind=step.kind, text=step.text, text_vi=step.text_vi, date=step.day,
                   at=step.at)


class Explanation(BaseModel):
    """The computation as readable lines."""

    vi: str
    en: str


class DueDateRead(BaseModel):
    """A due instant (ngày hẹn trả) and how it was computed."""

    due_at: dt.datetime
    received_at: dt.datetime
    counted_from: dt.datetime
    amount: int
    unit: str
    cutoff: str | None
    agency: str | None
    office_hours: str
    skipped_days: list[DayOffRead]
    steps: list[StepRead]
    explanation: Explanation

    @classmethod
    def of(cls, due: DueDate, *, agency: str | None, office_hours: str) -> DueDateRead:
        """From the calendar's value, in Vietnam time (+07:00)."""
        return cls(
            due_at=due.due_at, received_at=due.received_at, counted_from=due.counted_from,
            amount=due.amount, unit=due.unit,
            cutoff=f"{due.cutoff:%H:%M}" if due.cutoff else None, agency=agency,
            office_hours=office_hours,
            skipped_days=[DayOffRead.of(o) for o in due.skipped_days],
            steps=[StepRead.of(s) for s in due.steps],
            explanation=Explanation(vi=due.explain("vi"), en=due.explain("en")))


class WorkingTimeRead(BaseModel):
    """Office time between two instants."""

    start: dt.datetime
    end: dt.datetime
    agency: str | None
    working_minutes: int
    #: The same as working days of 8 hours and the remaining hours/minutes.
    text_vi: str
    text_en: str


class DaysRead(BaseModel):
    """Non-working days in a range, with reasons."""

    first: dt.date
    last: dt.date
    agency: str | None
    working_days: int
    days_off: list[DayOffRead]
