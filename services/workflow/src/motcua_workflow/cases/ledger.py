"""The deadline ledger (sổ theo dõi thời hạn): pure derivation of a case's due dates.

A case's ledger is an append-only list of entries:

* ``start`` — the dossier was received: statutory ``amount``/``unit``/``cutoff`` from the
  arrival instant, counted by the shared working calendar;
* ``pause`` — the clock stops (a supplement was requested from the applicant, or a fee
  must be paid first); one pause at a time: a second reason waits for the first to end
  (``payments.hold_after_supplement``), so paused time is never counted twice;
* ``resume`` — the clock runs again; the office time the pause covered is added back to
  the due dates (the applicant's time is not counted, domain.md §2);
* ``extend`` — the appointment moves to the new date of the apology slip (once).

:func:`derive` folds the entries into the due dates and a readable history. Nothing else
sets a due date: the case's ``due_at`` columns are this function's output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Literal

from motcua.calendar import TIMEZONE, Calendar

Kind = Literal["start", "pause", "resume", "extend"]


@dataclass(frozen=True)
class Entry:
    """One ledger entry (see the module docstring)."""

    kind: Kind
    at: datetime
    amount: int | None = None
    unit: str | None = None
    cutoff: str | None = None
    new_due_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Line:
    """An entry with the due dates after it and why, in Vietnamese and English."""

    entry: Entry
    due_at: datetime | None
    statutory_due_at: datetime | None
    text_vi: str
    text_en: str
    paused: timedelta | None = None


@dataclass
class Ledger:
    """The derived state: due dates now, pause, extension, and the history."""

    started: bool = False
    #: The appointment now (extension applied); None before reception and while paused.
    due_at: datetime | None = None
    #: The statutory appointment: pauses added back, extension not applied.
    statutory_due_at: datetime | None = None
    paused_since: datetime | None = None
    #: The appointment as it stood when the clock stopped (shown while paused).
    due_when_paused: datetime | None = None
    paused_total: timedelta = timedelta()
    extended: bool = False
    lines: list[Line] = field(default_factory=list)


def _fmt(at: datetime | None) -> str:
    return f"{at.astimezone(TIMEZONE):%H:%M %d/%m/%Y}" if at else "—"


def _duration(d: timedelta) -> tuple[str, str]:
    minutes = int(d.total_seconds() // 60)
    hours, mins = divmod(minutes, 60)
    return f"{hours} giờ {mins} phút", f"{hours} h {mins} min"


def derive(entries: Sequence[Entry], calendar: Calendar) -> Ledger:
    """Fold the entries, in order, into the case's due dates."""
    state = Ledger()
    due: datetime | None = None
    statutory: datetime | None = None
    for e in entries:
        paused: timedelta | None = None
        if e.kind == "start":
            if e.amount is None or e.unit is None:
                raise ValueError("a start entry needs an amount and a unit")
            cutoff = time.fromisoformat(e.cutoff) if e.cutoff else None
            computed = calendar.add(e.at, e.amount, e.unit, cutoff)  # type: ignore[arg-type]
            due = statutory = computed.due_at
            state.started = True
            vi, en = computed.explain("vi"), computed.explain("en")
        elif e.kind == "pause":
            if state.paused_since is None:
                state.paused_since, state.due_when_paused = e.at, due
            vi = f"Tạm dừng tính thời hạn lúc {_fmt(e.at)}" + (f": {e.reason}" if e.reason else "")
            en = f"Clock stopped at {_fmt(e.at)}" + (f": {e.reason}" if e.reason else "")
        elif e.kind == "resume":
            if state.paused_since is not None and due is not None and statutory is not None:
                paused = calendar.working_time_between(state.paused_since, e.at)
                if paused:
                    due, statutory = calendar.shift(due, paused), calendar.shift(statutory, paused)
                state.paused_total += paused
                state.paused_since = state.due_when_paused = None
            d_vi, d_en = _duration(paused or timedelta())
            vi = (f"Tính tiếp thời hạn lúc {_fmt(e.at)}; không tính {d_vi} làm việc tạm dừng; "
                  f"hạn trả {_fmt(due)}")
            en = (f"Clock restarted at {_fmt(e.at)}; {d_en} of office time paused is not "
                  f"counted; due {_fmt(due)}")
        elif e.kind == "extend":
            if e.new_due_at is None:
                raise ValueError("an extend entry needs the new due date")
            before, due = due, e.new_due_at
            state.extended = True
            vi = f"Gia hạn (xin lỗi) từ {_fmt(before)} đến {_fmt(due)}" + (
                f": {e.reason}" if e.reason else "")
            en = f"Extended (apology) from {_fmt(before)} to {_fmt(due)}" + (
                f": {e.reason}" if e.reason else "")
        else:
            raise ValueError(f"unknown ledger entry kind {e.kind!r}")
        shown = None if state.paused_since is not None else due
        state.lines.append(Line(e, shown, None if state.paused_since else statutory, vi, en,
                                paused))
    state.due_at = None if state.paused_since is not None else due
    state.statutory_due_at = None if state.paused_since is not None else statutory
    return state


Classification = Literal["early", "on_time", "late"]


def classify(ended_at: datetime, due_at: datetime | None,
             supplement_requests: int) -> Classification | None:
    """Early / on time / late as the national index judges it (domain.md §5).

    Compared by calendar date in Vietnam: ended before the due date → early, on it → on
    time, after → late. More than one supplement request is late whatever the dates.
    None when there was never an appointment (ended before reception).
    """
    if due_at is None:
        return None
    if supplement_requests > 1:
        return "late"
    ended, due = ended_at.astimezone(TIMEZONE).date(), due_at.astimezone(TIMEZONE).date()
    if ended < due:
        return "early"
    return "on_time" if ended == due else "late"
