"""The fold: every event known about a dossier → the values of its fact row.

``fold`` is a pure function of the *set* of events, so delivery order, duplicates and
a replay from the streams all give the same fact. Within one producer, events are
ordered by the envelope ``sequence`` (the aggregate's version; stale ones lose), then
by their time; across producers only times and rules below are used.

Rules (domain.md §5), each a decision the index depends on:

* **Current status** = the latest status change of the furthest lifecycle stage reached
  (open 1/2/4/5/6 → finished 9 → closed 3/7/8/10), from the events that make the change:
  intake's reception-side events and workflow's ``status_changed``, never the status
  that intake's ``rated`` mirrors (it can lag behind workflow's).
* **Finished** = first time status 9 was reached, else 10, else the earliest of
  stopped (8), refused (3) and withdrawn (7); ``finish_status`` says which.
* **Supplement requests** = entries into status 5 or workflow's ``supplement_requested``
  events (the clock pauses), whichever counts more (workflow's ``completed`` count too).
  A pause ends at the next status other than 5, or when intake reports the citizen's
  supplement, whichever comes first; a pause with no end is *open* (the clock stopped).
* **Extension** (apology slip, ``case.extended``) does not move the due date used for
  classification: a dossier finished after its original appointment is late; the fact
  records ``extended`` so the drill-down says so.
* **Effective due date** = the appointment moved forward by the working time of the
  closed pauses ("supplement time is not counted").
* **Outcome** of a finished, received dossier, comparing business dates: before the
  (effective) due date → early, on it → on time, after → late; more than
  ``max_supplement_requests`` supplement requests → late whatever the dates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from motcua.calendar import TIMEZONE, Calendar
from motcua.contracts import identity as ident
from motcua.contracts import intake, payments, workflow
from motcua_metrics.index.config import Units

SUBMITTED = intake.DossierSubmittedV1.event_type()
RECEIVED = intake.DossierReceivedV1.event_type()
REFUSED = intake.DossierRefusedV1.event_type()
SUPPLEMENTED = intake.DossierSupplementedV1.event_type()
WITHDRAWN = intake.DossierWithdrawnV1.event_type()
RATED = intake.DossierRatedV1.event_type()
CASE_STARTED = workflow.CaseStartedV1.event_type()
CASE_STATUS = workflow.CaseStatusChangedV1.event_type()
CASE_SUPPLEMENT_REQUESTED = workflow.CaseSupplementRequestedV1.event_type()
CASE_EXTENDED = workflow.CaseExtendedV1.event_type()
CASE_COMPLETED = workflow.CaseCompletedV1.event_type()
CASE_RESULT_RETURNED = workflow.CaseResultReturnedV1.event_type()
CASE_TRANSFERRED = workflow.CaseTransferredV1.event_type()
CASE_HANDED_OVER = workflow.CaseHandedOverV1.event_type()
FEE_ASSESSED = payments.FeeAssessedV1.event_type()
ASSESSMENT_SETTLED = payments.AssessmentSettledV1.event_type()
ASSESSMENT_RELEASED = payments.AssessmentReleasedV1.event_type()
PAYMENT_SETTLED = payments.PaymentSettledV1.event_type()
DOCUMENT_STORED = ident.DocumentStoredV1.event_type()
DOCUMENT_REUSED = ident.DocumentReusedV1.event_type()
POPULATION_LOOKED_UP = ident.PopulationLookedUpV1.event_type()

#: Statuses that end a dossier when neither 9 nor 10 was reached.
_OTHER_ENDS = (8, 3, 7)
_SUPPLEMENT = 5
#: The events that change the status they carry. Intake's ``dossier.rated`` carries
#: intake's *mirror* of workflow's status at the time of rating, which may lag behind
#: (9 after workflow returned the result): it says nothing about the status.
_STATUS_OWNERS = frozenset({SUBMITTED, RECEIVED, REFUSED, SUPPLEMENTED, WITHDRAWN,
                            CASE_STATUS})
#: Closed statuses (refused, withdrawn, stopped, returned): nothing follows them.
_CLOSED = frozenset({3, 7, 8, 10})
_FINISHED = 9


def _stage(status: int) -> int:
    """The lifecycle stage of a status; the current status never moves to an earlier one.

    Open statuses (1, 2, 4, 5, 6) go back and forth among themselves (a supplement or a
    payment hold resumes processing), then 9 (finished, result ready) may only be
    followed by 10, and a closed status ends the dossier. So a late or clock-skewed event
    of an earlier stage cannot move a finished or closed dossier back.
    """
    return 2 if status in _CLOSED else 1 if status == _FINISHED else 0


@dataclass(frozen=True)
class EventRow:
    """The facts of one event that the fold reads."""

    event_id: str
    source: str
    event_type: str
    sequence: int | None
    occurred_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class Pause:
    """The citizen's supplement time: from the request until the supplement (or open)."""

    start: datetime
    end: datetime | None


def business_day(instant: datetime | None) -> date | None:
    """The business date (Asia/Ho_Chi_Minh) of an instant."""
    return instant.astimezone(TIMEZONE).date() if instant is not None else None


def _order(e: EventRow) -> tuple[int, datetime, str]:
    return (e.sequence or 0, e.occurred_at, e.event_id)


def _latest(events: Iterable[EventRow], *types: str) -> EventRow | None:
    chosen = [e for e in events if e.event_type in types]
    return max(chosen, key=_order) if chosen else None


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def status_timeline(events: Sequence[EventRow]) -> list[tuple[datetime, int, EventRow]]:
    """Workflow status changes in case-version order (stale ones keep their place)."""
    changes = sorted((e for e in events if e.event_type == CASE_STATUS), key=_order)
    return [(e.occurred_at, int(e.data["status"]), e) for e in changes]


def pauses(events: Sequence[EventRow]) -> list[Pause]:
    """Supplement pauses: entries into status 5 (or explicit supplement requests that did
    not change the status) and when each one ended."""
    timeline = status_timeline(events)
    resumed = sorted(e.occurred_at for e in events if e.event_type == SUPPLEMENTED)
    starts = [t for i, (t, status, _) in enumerate(timeline)
              if status == _SUPPLEMENT and not (i and timeline[i - 1][1] == _SUPPLEMENT)]
    starts += [e.occurred_at for e in events if e.event_type == CASE_SUPPLEMENT_REQUESTED]
    out: list[Pause] = []
    for start in sorted(set(starts)):
        if out and (out[-1].end is None or start < out[-1].end):
            continue  # the same request seen twice (status change and request event)
        ends = [t for t, s, _ in timeline if s != _SUPPLEMENT and t > start]
        ends += [t for t in resumed if t >= start]
        out.append(Pause(start, min(ends) if ends else None))
    return out


def extend_working_time(calendar: Calendar, instant: datetime, minutes: int) -> datetime:
    """The instant ``minutes`` of office time after ``instant`` (public calendar API only)."""
    if minutes <= 0:
        return instant
    remaining = timedelta(minutes=minutes)
    local = instant.astimezone(TIMEZONE)
    day = local.date()
    spans = calendar.office_hours.spans()
    while True:
        if calendar.is_working_day(day):
            midnight = datetime.combine(day, datetime.min.time(), TIMEZONE)
            for start, end in spans:
                lo, hi = max(midnight + start, local), midnight + end
                if hi <= lo:
                    continue
                if remaining <= hi - lo:
                    return lo + remaining
                remaining -= hi - lo
        day += timedelta(days=1)


def fold(code: str, events: Sequence[EventRow], *, calendar: Calendar, units: Units,
         max_supplement_requests: int = 1) -> dict[str, Any]:
    """The column values of ``code``'s fact from every event known about it."""
    events = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
    out: dict[str, Any] = {"event_count": len(events)}
    submitted = _latest(events, SUBMITTED)
    received = _latest(events, RECEIVED)
    first = [x for x in (received, submitted) if x is not None] + list(events)
    agency = next((e.data["agency_code"] for e in first if e.data.get("agency_code")), None)
    out["agency_code"] = agency or ""
    out["province_code"] = agency.rsplit(".", 1)[-1] if agency else None
    out["commune_code"] = units.get(agency).commune if agency else None
    out["procedure_code"] = next(
        (e.data["procedure_code"] for e in first if e.data.get("procedure_code")), None)
    out["channel"] = (received or submitted).data.get("channel") if (received or submitted) \
        else None
    out["applicant_kind"] = (submitted or received).data.get("applicant_kind") \
        if (submitted or received) else None
    out["submitted_at"] = submitted.occurred_at if submitted else None
    out["vneid_verified"] = any(bool(e.data.get("vneid_verified")) for e in events
                                if e.event_type in (SUBMITTED, RECEIVED))

    started = [e for e in events if e.event_type == CASE_STARTED]
    out["case_opened_at"] = min(e.occurred_at for e in started) if started else None
    timeline = status_timeline(events)
    out["status_sequence"] = max((e.sequence or 0 for _, _, e in timeline), default=0)

    # Current status: the latest change of the furthest stage reached (a workflow change
    # wins a tie). Only the events that make a change count, never a mirror of it.
    carrying = [e for e in events if e.event_type in _STATUS_OWNERS and "status" in e.data]
    if carrying:
        last = max(carrying, key=lambda e: (_stage(int(e.data["status"])), e.occurred_at,
                                            e.source == "workflow", e.sequence or 0,
                                            e.event_id))
        out["status"] = int(last.data["status"])
    else:
        out["status"] = None

    reached: dict[int, datetime] = {}
    marks = [(int(e.data["status"]), e.occurred_at) for e in carrying]
    marks += [(9, _time(e.data["finished_at"])) for e in events if e.event_type == CASE_COMPLETED]
    marks += [(10, _time(e.data["returned_at"])) for e in events
              if e.event_type == CASE_RESULT_RETURNED]
    for s, when in marks:
        if when is not None and (s not in reached or when < reached[s]):
            reached[s] = when
    if 9 in reached:
        finished, finish_status = reached[9], 9
    elif 10 in reached:
        finished, finish_status = reached[10], 10
    else:
        ends = [(reached[s], s) for s in _OTHER_ENDS if s in reached]
        finished, finish_status = min(ends) if ends else (None, None)
    out["finished_at"], out["finish_status"] = finished, finish_status
    out["returned_at"] = reached.get(10)
    refused = _latest(events, REFUSED)
    out["refused_at"] = refused.occurred_at if refused else None

    out["received_at"] = _time(received.data.get("received_at")) if received else None
    out["due_at"] = _time(received.data.get("due_at")) if received else None
    statutory = (received.data.get("statutory_time") or {}) if received else {}
    out["statutory_amount"] = statutory.get("amount")
    out["statutory_unit"] = statutory.get("unit")

    found = pauses(events)
    closed = [p for p in found if p.end is not None]
    open_ = [p for p in found if p.end is None]
    requested = {e.data.get("request_id") or e.event_id for e in events
                 if e.event_type == CASE_SUPPLEMENT_REQUESTED}
    reported = [int(e.data.get("supplement_requests") or 0) for e in events
                if e.event_type == CASE_COMPLETED]
    out["supplement_count"] = max(len(found), len(requested), *reported, 0)
    out["extended"] = any(e.event_type == CASE_EXTENDED for e in events)
    paused = sum((calendar.working_time_between(p.start, p.end) for p in closed
                  if p.end is not None), timedelta())
    out["paused_minutes"] = int(paused.total_seconds() // 60)
    out["open_pause_day"] = business_day(min(p.start for p in open_)) if open_ else None
    due = out["due_at"]
    effective_due = extend_working_time(calendar, due, out["paused_minutes"]) if due else None
    out["received_day"] = business_day(out["received_at"])
    out["due_day"] = business_day(effective_due)
    out["finish_day"] = business_day(finished)
    outcome = None
    if finished is not None and out["received_day"] and out["due_day"]:
        if out["supplement_count"] > max_supplement_requests:
            outcome = "late"
        elif out["finish_day"] < out["due_day"]:
            outcome = "early"
        elif out["finish_day"] == out["due_day"]:
            outcome = "on_time"
        else:
            outcome = "late"
    out["outcome"] = outcome

    out.update(_payments(events, received))
    out.update(_identity(events))
    if any(e.event_type == CASE_COMPLETED and e.data.get("result") for e in events):
        out["electronic_result"] = True  # workflow references an electronic result
    rated = _latest(events, RATED)
    out["rating"] = int(rated.data["score"]) if rated else None
    out["complaint"] = bool(rated.data.get("complaint")) if rated else False
    return out


def fee_lines(events: Sequence[EventRow]) -> list[dict[str, Any]]:
    """The dossier's fee lines: the latest assessment's, else those at reception."""
    assessed = _latest(events, FEE_ASSESSED)
    if assessed is not None:
        return [{"code": x["code"], "kind": x["kind"], "label_vi": x["label_vi"],
                 "amount_vnd": x.get("payable_vnd"), "collect": x.get("collect")}
                for x in assessed.data.get("lines", [])]
    received = _latest(events, RECEIVED)
    return list(received.data.get("fee_lines", [])) if received else []


def _payments(events: Sequence[EventRow], received: EventRow | None) -> dict[str, Any]:
    latest = _latest(events, FEE_ASSESSED, ASSESSMENT_RELEASED)
    if latest is not None and latest.event_type == ASSESSMENT_RELEASED:
        has_fees, payable = False, 0  # withdrawn or refused: nothing was due in the end
    elif latest is not None:
        payable = int(latest.data.get("payable_vnd") or 0)
        has_fees = payable > 0
    else:
        lines = received.data.get("fee_lines", []) if received else []
        due_lines = [x for x in lines
                     if x.get("collect") != "waived" and (x.get("amount_vnd") or 0)]
        payable = sum(int(x["amount_vnd"]) for x in due_lines) if received else None
        has_fees = bool(due_lines)
    settled = [e for e in events if e.event_type == PAYMENT_SETTLED]
    online = [e for e in settled if e.data.get("paid_online")]
    codes = [int(e.data.get("online_payment_code") or 1) for e in online]
    whole = [e for e in events if e.event_type == ASSESSMENT_SETTLED and e.data.get("paid_online")]
    if whole and not codes:
        codes = [1]
    return {"has_fees": has_fees, "payable_vnd": payable, "paid_online": bool(codes),
            "online_payment_code": max(codes, default=0),
            "paid_at_desk": any(not e.data.get("paid_online") for e in settled)}


def _identity(events: Sequence[EventRow]) -> dict[str, Any]:
    stored = [e for e in events if e.event_type == DOCUMENT_STORED]
    reused = [e for e in events if e.event_type == DOCUMENT_REUSED]
    return {
        "electronic_result": any(e.data.get("source") == "result" for e in stored),
        # A reused component is digitised data too (HoSoCoThanhPhanSoHoa).
        "digitised": any(e.data.get("source") == "digitised" for e in stored)
        or any(e.data.get("reused", True) for e in reused),
        "reused": any(e.data.get("reused", True) for e in reused),
        "from_national_store": any(e.data.get("from_national_store") for e in reused)
        or any(e.data.get("source") == "national_store" for e in stored),
        "population_verified": any(e.data.get("found") for e in events
                                   if e.event_type == POPULATION_LOOKED_UP),
    }
