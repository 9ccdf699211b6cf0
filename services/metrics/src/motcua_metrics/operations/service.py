"""Operational figures from the seeds: on-time rate, processing time, productivity.

* **On-time rate** = finished early or on time ÷ finished, among dossiers received and
  finished (by the period's judging day) in the period's settlement scope.
* **Average processing time per procedure**, in the procedure's own statutory unit:
  office time from reception to finish minus the citizen's supplement time, as working
  hours or working days (8 h), or calendar days for calendar-day procedures.
* **Productivity** = dossiers finished with a result (status 9/10) in the period per
  official, annualised (× 365 / days in the period), against the target of the
  agency's area type (urban 1,600, rural 1,200, disadvantaged 800 a year;
  configurable). Needs the number of officials in the units file.
* **Desk handling (30 min) and waiting time (15 min)** need desk queue events (ticket
  taken, called, served), which no service publishes yet: reported as not available.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.calendar import Calendar
from motcua_metrics.facts.models import DossierFact as F
from motcua_metrics.index import service as index
from motcua_metrics.index.config import IndexConfig, Units
from motcua_metrics.index.periods import Period, Unit

_MINUTES_PER_DAY = 8 * 60


def _elapsed(calendar: Calendar, f: Any) -> float | None:
    if f.received_at is None or f.finished_at is None:
        return None
    if f.statutory_unit == "calendar_days":
        return float((f.finish_day - f.received_day).days)
    minutes = calendar.working_time_between(f.received_at, f.finished_at).total_seconds() / 60
    minutes = max(0.0, minutes - f.paused_minutes)
    return minutes / 60 if f.statutory_unit == "working_hours" else minutes / _MINUTES_PER_DAY


async def operations(session: AsyncSession, config: IndexConfig, calendar: Calendar,
                     units: Units, unit: Unit, period: Period, today: date) -> dict[str, Any]:
    """Operational figures of one unit and period."""
    judged = period.judged_on(today)
    found = await index.aggregates(session, unit.kind, period, judged, config, calendar,
                                   only=unit.code)
    a = found.get(unit.code, index.Aggregates())
    finished = a.early + a.on_time + a.late_finished
    key = index.KEY_COLUMN[unit.kind]
    rows = (await session.scalars(select(F).where(
        key == unit.code, F.received_day.is_not(None), F.finish_status.in_((9, 10)),
        F.finish_day >= period.start,
        F.finish_day <= judged).order_by(F.procedure_code, F.dossier_code))).all()
    per_procedure: dict[str, list[Any]] = defaultdict(list)
    for f in rows:
        per_procedure[f.procedure_code or "?"].append(f)
    procedures = []
    for code, facts in sorted(per_procedure.items()):
        by_unit: dict[str, list[float]] = defaultdict(list)
        for f in facts:
            value = _elapsed(calendar, f)
            if value is not None and f.statutory_unit:
                by_unit[f.statutory_unit].append(value)
        for time_unit, values in sorted(by_unit.items()):
            amounts = {f.statutory_amount for f in facts if f.statutory_unit == time_unit}
            procedures.append({
                "procedure_code": code, "unit": time_unit, "dossiers": len(values),
                "average": round(sum(values) / len(values), 2),
                "statutory": amounts.pop() if len(amounts) == 1 else None})
    return {
        "config_version": config.version, "unit": {"kind": unit.kind, "code": unit.code},
        "period": {"label": period.label, "start": period.start.isoformat(),
                   "end": period.end.isoformat(), "judged_on": judged.isoformat()},
        "on_time": {"finished": finished, "early": a.early, "on_time": a.on_time,
                    "late": a.late_finished,
                    "rate": round((a.early + a.on_time) / finished, 6) if finished else None},
        "processing_time": procedures,
        "desk_time": {"available": False, "target_minutes": {"handling": 30, "waiting": 15},
                      "reason": {"vi": "Chưa có sự kiện hàng đợi tại quầy (lấy số, gọi số, "
                                       "phục vụ).",
                                 "en": "No desk queue events (ticket taken, called, served) "
                                       "are published yet."}},
        "productivity": await _productivity(session, config, units, unit, period, judged),
    }


async def _productivity(session: AsyncSession, config: IndexConfig, units: Units, unit: Unit,
                        period: Period, judged: date) -> dict[str, Any]:
    key = index.KEY_COLUMN[unit.kind]
    rows = (await session.execute(
        select(F.agency_code, func.count())
        .where(key == unit.code, F.finish_status.in_((9, 10)),
               and_(F.finish_day >= period.start, F.finish_day <= judged))
        .group_by(F.agency_code))).all()
    days = (judged - period.start).days + 1
    agencies = []
    for agency_code, n in sorted(rows):
        info = units.get(agency_code)
        target = config.productivity.get(info.area_type or "")
        entry: dict[str, Any] = {"agency_code": agency_code, "finished": n,
                                 "officials": info.officials, "area_type": info.area_type,
                                 "target_per_year": target}
        if info.officials and days > 0:
            per_year = n / info.officials * 365 / days
            entry["per_official_per_year"] = round(per_year, 1)
            entry["target_ratio"] = round(per_year / target, 4) if target else None
        else:
            entry["per_official_per_year"] = None
            entry["reason"] = {"vi": "Chưa khai báo số cán bộ của cơ quan (tệp đơn vị).",
                               "en": "The agency's number of officials is not configured "
                                     "(units file)."}
        agencies.append(entry)
    return {"days": max(days, 0), "agencies": agencies}

