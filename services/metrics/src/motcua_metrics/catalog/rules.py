"""Deadlines of the publicity items, judged on the working calendar.

The working days are counted with the deployment's calendar (holidays, swapped days);
the rule itself is in the index configuration (``[catalog]``, *[unconfirmed]*):

* **announced on time** — the announcing decision (``decision_date``) is dated no later
  than the ``announce_lead_working_days``-th working day before the procedure takes
  effect (``valid_from``);
* **published on time** — the procedure was published (``published_at``, business date)
  no later than the ``publish_within_working_days``-th working day after the decision.

A version whose dates are unknown is *not judged* (left out of the item's denominator,
and counted in its note), never silently on time or late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from motcua.calendar import Calendar
from motcua_metrics.index.config import CatalogRules

Text = tuple[str, str]  # (vi, en)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Judgement:
    """On time (True), late (False) or not judged (None), with the reason when not on time."""

    on_time: bool | None
    reason_code: str | None = None
    reason: Text | None = None


def working_days_before(calendar: Calendar, day: date, count: int) -> date:
    """The ``count``-th working day before ``day`` (``day`` itself when count is 0)."""
    while count > 0:
        day -= _DAY
        if calendar.is_working_day(day):
            count -= 1
    return day


def working_days_after(calendar: Calendar, day: date, count: int) -> date:
    """The ``count``-th working day after ``day`` (``day`` itself when count is 0)."""
    for _ in range(count):
        day = calendar.next_working_day(day)
    return day


def _late_by(calendar: Calendar, deadline: date, day: date) -> int:
    """Working days from the day after ``deadline`` to ``day`` (at least 1 when late)."""
    return max(1, calendar.working_days_between(deadline + _DAY, day))


def announced(calendar: Calendar, config: CatalogRules, decision_date: date | None,
              valid_from: date | None) -> Judgement:
    """Whether the announcing decision came early enough before the effective date."""
    if decision_date is None or valid_from is None:
        return Judgement(None)
    lead = config.announce_lead_working_days
    deadline = working_days_before(calendar, valid_from, lead)
    if decision_date <= deadline:
        return Judgement(True)
    days = _late_by(calendar, deadline, decision_date)
    return Judgement(False, "announced_late", (
        f"Quyết định công bố ngày {decision_date} sau hạn {deadline} (chậm nhất {lead} ngày "
        f"làm việc trước ngày có hiệu lực {valid_from}); trễ {days} ngày làm việc.",
        f"Announcing decision of {decision_date} came after the deadline {deadline} "
        f"({lead} working days before it took effect on {valid_from}); late by {days} "
        f"working day(s)."))


def published(calendar: Calendar, config: CatalogRules, decision_date: date | None,
              published_day: date) -> Judgement:
    """Whether the procedure was published soon enough after its announcing decision."""
    if decision_date is None:
        return Judgement(None)
    within = config.publish_within_working_days
    deadline = working_days_after(calendar, decision_date, within)
    if published_day <= deadline:
        return Judgement(True)
    days = _late_by(calendar, deadline, published_day)
    return Judgement(False, "published_late", (
        f"Công khai ngày {published_day} sau hạn {deadline} ({within} ngày làm việc kể từ "
        f"quyết định công bố ngày {decision_date}); trễ {days} ngày làm việc.",
        f"Published on {published_day}, after the deadline {deadline} ({within} working "
        f"days from the announcing decision of {decision_date}); late by {days} working "
        f"day(s)."))
