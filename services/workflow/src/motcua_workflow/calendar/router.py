"""The public calendar API: due dates, working time and days off, per agency (no token)."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from motcua.auth import PUBLIC
from motcua.calendar import TIMEZONE, Calendar
from motcua.errors import FieldError, ValidationFailed, problems
from motcua.pagination import ISO_8601
from motcua_workflow.calendar.schemas import DayOffRead, DaysRead, DueDateRead, WorkingTimeRead
from motcua_workflow.context import WorkflowDep

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])

AgencyQuery = Annotated[str | None, Query(pattern=r"^[0-9A-Z.]{1,35}$",
                                          description="Agency code (its own office hours)")]
#: Longest count accepted: ten years of working days is beyond any statutory time.
MAX_AMOUNT = 2600
MAX_RANGE_DAYS = 3660


class RangeInvalid(ValidationFailed):
    code = "calendar.range_invalid"
    title = "The range is empty or too long"


def _hours_text(cal: Calendar) -> str:
    return ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in cal.office_hours.periods)


@router.get("/due-date", operation_id="computeDueDate", responses=problems(),
            dependencies=[PUBLIC])
async def due_date(
    wf: WorkflowDep,
    start: Annotated[AwareDatetime, Query(description="Arrival, ISO 8601 with offset"),
                     ISO_8601],
    amount: Annotated[int, Query(ge=0, le=MAX_AMOUNT, description="Statutory amount")],
    unit: Annotated[Literal["working_hours", "working_days", "calendar_days"], Query()],
    cutoff: Annotated[str | None, Query(pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                                        description="Cut-off, e.g. 15:00")] = None,
    agency: AgencyQuery = None,
) -> DueDateRead:
    """The appointment (ngày hẹn trả) for an arrival and a statutory time, explained.

    Public: the same computation every desk and the citizen tracking page use.
    """
    cal = wf.calendars.for_agency(agency)
    due = cal.add(start, amount, unit, time.fromisoformat(cutoff) if cutoff else None)
    return DueDateRead.of(due, agency=agency, office_hours=_hours_text(cal))


@router.get("/working-time", operation_id="computeWorkingTime", responses=problems(RangeInvalid),
            dependencies=[PUBLIC])
async def working_time(
    wf: WorkflowDep,
    start: Annotated[AwareDatetime, Query(description="ISO 8601 with offset"), ISO_8601],
    end: Annotated[AwareDatetime, Query(description="ISO 8601 with offset"), ISO_8601],
    agency: AgencyQuery = None,
) -> WorkingTimeRead:
    """Office time on working days between two instants (zero if end ≤ start). Public."""
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise RangeInvalid(errors=[FieldError(field="query.end", code="range.too_long",
                                              message=f"at most {MAX_RANGE_DAYS} days")])
    cal = wf.calendars.for_agency(agency)
    minutes = int(cal.working_time_between(start, end).total_seconds() // 60)
    days, rest = divmod(minutes, 8 * 60)
    hours, mins = divmod(rest, 60)
    return WorkingTimeRead(
        start=start.astimezone(TIMEZONE), end=end.astimezone(TIMEZONE), agency=agency,
        working_minutes=minutes,
        text_vi=f"{days} ngày làm việc {hours} giờ {mins} phút",
        text_en=f"{days} working day(s) {hours} h {mins} min")


@router.get("/days-off", operation_id="listDaysOff", responses=problems(RangeInvalid),
            dependencies=[PUBLIC])
async def days_off(wf: WorkflowDep, first: date, last: date,
                   agency: AgencyQuery = None) -> DaysRead:
    """Non-working days from ``first`` to ``last`` inclusive, with reasons. Public."""
    if last < first or (last - first).days > MAX_RANGE_DAYS:
        raise RangeInvalid(errors=[FieldError(field="query.last", code="range.invalid",
                                              message="last must be on or after first, "
                                                      f"at most {MAX_RANGE_DAYS} days later")])
    cal = wf.calendars.for_agency(agency)
    return DaysRead(first=first, last=last, agency=agency,
                    working_days=cal.working_days_between(first, last),
                    days_off=[DayOffRead.of(o) for o in cal.non_working_days(first, last)])

