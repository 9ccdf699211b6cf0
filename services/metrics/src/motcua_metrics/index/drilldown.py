"""Drill-down: for an item, the dossiers or procedures that cost points, and why.

``agencies`` narrows the rows to those agencies' dossiers and catalog entries (an
officer's view of a province or commune); the item's figures stay the unit's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from motcua.calendar import Calendar
from motcua_metrics.catalog import service as catalog
from motcua_metrics.facts.models import DossierFact as F
from motcua_metrics.index import service
from motcua_metrics.index.config import IndexConfig
from motcua_metrics.index.periods import Period, Unit

CHANNEL: dict[str | None, tuple[str, str]] = {
    "direct": ("nộp trực tiếp", "submitted at the desk"),
    "postal": ("nộp qua bưu chính", "submitted by post"),
    None: ("chưa rõ kênh nộp", "channel unknown"),
}


@dataclass(frozen=True)
class _Spec:
    kind: str  # "dossier", "procedure" or "catalog"
    scope: str  # "settlement", "received", "results"
    #: Dossier items: settlement conditions → SQL condition of a row that costs points.
    #: Procedure items: what a procedure needs at least one dossier with.
    condition: Any


def _specs(config: IndexConfig) -> dict[str, _Spec]:
    disliked = or_(F.complaint, F.rating <= config.dislike_max_score)
    population = or_(F.population_verified, F.vneid_verified)
    return {
        "progress.settlement": _Spec("dossier", "settlement",
                                     lambda c: or_(and_(c["finished"], F.outcome == "late"),
                                                   c["overdue"])),
        "satisfaction.reception": _Spec("dossier", "settlement",
                                        lambda c: or_(and_(c["finished"], F.outcome == "late"),
                                                      c["overdue"], disliked)),
        "publicity.dossiers_synced": _Spec("dossier", "received",
                                           lambda c: not_(F.national_synced)),
        "online.online_dossiers": _Spec("dossier", "received", lambda c: or_(
            F.channel.is_(None), F.channel != "online", not_(F.national_synced))),
        "digitisation.electronic_result": _Spec("dossier", "results",
                                                lambda c: not_(F.electronic_result)),
        "digitisation.digitised_dossier_and_result": _Spec(
            "dossier", "results", lambda c: not_(and_(F.digitised, F.electronic_result))),
        "digitisation.reuse": _Spec("dossier", "received", lambda c: not_(F.reused)),
        "digitisation.national_store": _Spec("dossier", "received", lambda c: not_(
            or_(F.from_national_store, F.electronic_result))),
        "digitisation.population_data": _Spec("dossier", "received",
                                              lambda c: not_(population)),
        "payment.dossiers_paid_online": _Spec("dossier", "received",
                                              lambda c: and_(F.has_fees, not_(F.paid_online))),
        "digitisation.population_data_procedures": _Spec("procedure", "received", population),
        "payment.procedures_paid_online": _Spec("procedure", "received",
                                                and_(F.has_fees, F.paid_online)),
        "payment.fee_data_synced": _Spec("procedure", "received",
                                         and_(F.has_fees, F.fee_data_synced)),
        **{item: _Spec("catalog", "catalog", None) for item in service.CATALOG_ITEMS},
    }


async def drilldown(session: AsyncSession, config: IndexConfig, calendar: Calendar, unit: Unit,
                    period: Period, today: date, item_id: str, *, limit: int = 100,
                    offset: int = 0, agencies: frozenset[str] | None = None,
                    doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """What cost ``item_id`` its points for ``unit`` in ``period`` (one page of it).

    ``agencies`` narrows the rows (None: every agency of the unit); ``doc`` is the unit's
    index document when the caller already has it.
    """
    judged = period.judged_on(today)
    if doc is None:
        doc = await service.index_document(session, config, calendar, unit, period, today)
    item = next(i for g in doc["groups"] for i in g["items"] if i["id"] == item_id)
    base = {"config_version": config.version, "unit": doc["unit"], "period": doc["period"],
            "item": {k: item[k] for k in ("id", "name", "max", "threshold", "available",
                                          "ratio", "points", "lost", "reason")},
            "total": 0, "limit": limit, "offset": offset, "rows": []}
    if agencies is not None:
        base["narrowed_to"] = sorted(agencies)
    spec = _specs(config).get(item_id)
    if not item["available"] or spec is None:
        return base
    if not item["lost"]:
        base["note"] = {"vi": "Đạt điểm tối đa: không có hồ sơ nào làm mất điểm.",
                        "en": "Full marks: nothing cost points."}
        return base
    c = service.settlement_conditions(period.start, judged, config.max_supplement_requests)
    scopes = {
        "settlement": c["scope"],
        "received": and_(F.received_day >= period.start, F.received_day <= judged),
        "results": and_(F.finish_status.in_((9, 10)), F.finish_day >= period.start,
                        F.finish_day <= judged),
    }
    if spec.kind == "catalog":
        assert config.catalog is not None  # the item is available
        rows = await _catalog_rows(session, config, calendar, unit, period, judged, item_id,
                                   agencies)
        return base | {"total": len(rows), "rows": rows[offset:offset + limit]}
    unit_cond = service.KEY_COLUMN[unit.kind] == unit.code
    if agencies is not None:
        unit_cond = and_(unit_cond, F.agency_code.in_(sorted(agencies)))
    if spec.kind == "procedure":
        return base | await _procedures(session, item_id, spec, scopes[spec.scope], unit_cond,
                                        limit, offset)
    bad: ColumnElement[bool] = spec.condition(c)
    where = [scopes[spec.scope], unit_cond, bad]
    base["total"] = int(await session.scalar(select(func.count()).select_from(F).where(*where)))
    facts = (await session.scalars(select(F).where(*where).order_by(F.dossier_code)
                                   .limit(limit).offset(offset))).all()
    base["rows"] = [_dossier_row(item_id, f, judged, calendar, config) for f in facts]
    return base


async def _procedures(session: AsyncSession, item_id: str, spec: _Spec,
                      scope: ColumnElement[bool], unit_cond: ColumnElement[bool], limit: int,
                      offset: int) -> dict[str, Any]:
    good = service._any(spec.condition)
    fees = service._any(F.has_fees)
    query = (select(F.procedure_code, func.count(), good, fees)
             .where(scope, unit_cond, F.procedure_code.is_not(None))
             .group_by(F.procedure_code).order_by(F.procedure_code))
    rows = []
    for code, n, ok, has_fees in (await session.execute(query)).all():
        if ok or (item_id.startswith("payment.") and not has_fees):
            continue
        reason = {
            "digitisation.population_data_procedures": (
                "Không hồ sơ nào sử dụng dữ liệu dân cư.", "No dossier used population data."),
            "payment.procedures_paid_online": (
                "Không có giao dịch thanh toán trực tuyến.", "No online payment."),
            "payment.fee_data_synced": (
                "Chưa đồng bộ dữ liệu phí, lệ phí.", "Fee data not synced."),
        }[item_id]
        rows.append({"procedure_code": code, "dossiers": n, "reason_code": item_id,
                     "reason": {"vi": reason[0], "en": reason[1]}})
    return {"total": len(rows), "rows": rows[offset:offset + limit]}


async def _catalog_rows(session: AsyncSession, config: IndexConfig, calendar: Calendar,
                        unit: Unit, period: Period, judged: date, item_id: str,
                        agencies: frozenset[str] | None) -> list[dict[str, Any]]:
    """Procedures that cost a catalog item points, and why."""
    rows: list[dict[str, Any]] = []
    if item_id in ("publicity.published_on_time", "publicity.database_on_time"):
        which = "announced" if item_id == "publicity.published_on_time" else "published"
        assert config.catalog is not None
        found = await catalog.publications(session, unit.kind, period, judged, config.catalog,
                                           calendar, only=unit.code, agencies=agencies)
        for p in sorted(found.get(unit.code, {}).values(), key=lambda p: p.procedure_code):
            if which not in p.late:
                continue
            version, judgement = p.late[which]
            assert judgement.reason is not None
            rows.append(_procedure_row(p.procedure_code, version, p.name_vi,
                                       judgement.reason_code or which, judgement.reason))
        return rows
    for e in await catalog.entries(session, unit.kind, unit.code, period, judged, agencies):
        if item_id == "publicity.full_content" and e.missing_content:
            missing = ", ".join(str(m) for m in e.missing_content)
            rows.append(_procedure_row(e.procedure_code, e.version, e.name_vi,
                                       "missing_content", (
                                           f"Thiếu nội dung bắt buộc: {missing}.",
                                           f"Mandatory content missing: {missing}.")))
        elif item_id == "online.procedures_online" and not e.online:
            rows.append(_procedure_row(e.procedure_code, e.version, e.name_vi, "not_online", (
                "Không cung cấp dịch vụ công trực tuyến.", "Offers no online service.")))
        elif (item_id == "online.procedures_with_online_dossiers" and e.online
              and not e.online_used):
            rows.append(_procedure_row(
                e.procedure_code, e.version, e.name_vi, "no_online_dossiers", (
                    "Có dịch vụ công trực tuyến nhưng không phát sinh hồ sơ trực tuyến trong "
                    "kỳ.", "Offers an online service but received no online dossier in the "
                           "period.")))
    return rows


def _procedure_row(code: str, version: int, name_vi: str, reason_code: str,
                   reason: tuple[str, str]) -> dict[str, Any]:
    return {"procedure_code": code, "procedure_version": version, "name_vi": name_vi,
            "reason_code": reason_code, "reason": {"vi": reason[0], "en": reason[1]}}


def _late_days(calendar: Calendar, due: date | None, until: date | None) -> int | None:
    if due is None or until is None or until <= due:
        return None
    return calendar.working_days_between(due + timedelta(days=1), until)


def _dossier_row(item_id: str, f: F, judged: date, calendar: Calendar,
                 config: IndexConfig) -> dict[str, Any]:
    reasons: list[tuple[str, str, str]] = []
    finished = f.finish_day is not None and f.finish_day <= judged
    if item_id in ("progress.settlement", "satisfaction.reception"):
        if f.supplement_count > config.max_supplement_requests:
            reasons.append(("supplements", f"Yêu cầu bổ sung {f.supplement_count} lần (> 1).",
                            f"{f.supplement_count} supplement requests (more than one)."))
        if finished and f.outcome == "late":
            days = _late_days(calendar, f.due_day, f.finish_day)
            if days:
                reasons.append(("late", f"Trễ hạn {days} ngày làm việc (hẹn {f.due_day}, "
                                        f"xong {f.finish_day}).",
                                f"Late by {days} working day(s) (due {f.due_day}, finished "
                                f"{f.finish_day})."))
        elif not finished and (f.finish_day is None or f.finish_day > judged):
            days = _late_days(calendar, f.due_day, judged)
            if days and f.open_pause_day is None:
                reasons.append(("overdue", f"Quá hạn {days} ngày làm việc tại {judged} "
                                           f"(hẹn {f.due_day}), chưa giải quyết xong.",
                                f"Overdue by {days} working day(s) on {judged} (due "
                                f"{f.due_day}), not finished."))
            elif f.open_pause_day is not None and f.due_day and f.open_pause_day > f.due_day:
                reasons.append(("overdue", f"Đã quá hạn khi yêu cầu bổ sung ({f.open_pause_day}).",
                                f"Already overdue when the supplement was requested "
                                f"({f.open_pause_day})."))
        if reasons and f.extended:
            reasons.append(("extended", "Đã gia hạn (xin lỗi) một lần; hạn ban đầu vẫn được "
                                        "dùng để đánh giá.",
                            "Extended once with an apology; the original due date still "
                            "counts."))
        if item_id == "satisfaction.reception":
            if f.complaint:
                reasons.append(("complaint", "Có khiếu nại.", "Complaint filed."))
            if f.rating is not None and f.rating <= config.dislike_max_score:
                reasons.append(("dislike", f"Đánh giá {f.rating}/5 (không hài lòng).",
                                f"Rated {f.rating}/5 (dissatisfied)."))
    elif item_id == "publicity.dossiers_synced":
        problem = f.national_problem or "national sync disabled"
        reasons.append(("not_synced", f"Chưa đồng bộ: {problem}.", f"Not synced: {problem}."))
    elif item_id == "online.online_dossiers":
        if f.channel != "online":
            vi, en = CHANNEL.get(f.channel, CHANNEL[None])
            reasons.append(("not_online", f"Hồ sơ {vi}.", f"Dossier {en}."))
        if not f.national_synced:
            reasons.append(("not_synced", "Chưa đồng bộ.", "Not synced."))
    elif item_id == "digitisation.electronic_result":
        reasons.append(("no_electronic_result", "Không có kết quả điện tử.",
                        "No electronic result."))
    elif item_id == "digitisation.digitised_dossier_and_result":
        if not f.digitised:
            reasons.append(("not_digitised", "Thành phần hồ sơ chưa được số hóa.",
                            "Components not digitised."))
        if not f.electronic_result:
            reasons.append(("no_electronic_result", "Không có kết quả điện tử.",
                            "No electronic result."))
    elif item_id == "digitisation.reuse":
        reasons.append(("not_reused", "Không tái sử dụng dữ liệu đã số hóa.",
                        "No digitised data reused."))
    elif item_id == "digitisation.national_store":
        reasons.append(("no_store", "Không khai thác hoặc đẩy dữ liệu vào kho của công dân.",
                        "Nothing taken from or pushed to the citizen's data store."))
    elif item_id == "digitisation.population_data":
        reasons.append(("no_population_data", "Không sử dụng dữ liệu dân cư / VNeID.",
                        "No population data or VNeID verification used."))
    elif item_id == "payment.dossiers_paid_online":
        if f.paid_at_desk:
            reasons.append(("paid_at_desk", "Nộp phí tại quầy (không trực tuyến).",
                            "Paid at the desk (not online)."))
        else:
            reasons.append(("not_paid_online", "Chưa thanh toán trực tuyến.", "Not paid online."))
    return {
        "dossier_code": f.dossier_code, "agency_code": f.agency_code,
        "procedure_code": f.procedure_code, "channel": f.channel,
        "received_day": f.received_day.isoformat() if f.received_day else None,
        "due_day": f.due_day.isoformat() if f.due_day else None,
        "finish_day": f.finish_day.isoformat() if f.finish_day else None,
        "supplement_count": f.supplement_count,
        "reason_code": ",".join(r[0] for r in reasons) or "other",
        "reason": {"vi": " ".join(r[1] for r in reasons), "en": " ".join(r[2] for r in reasons)},
    }
