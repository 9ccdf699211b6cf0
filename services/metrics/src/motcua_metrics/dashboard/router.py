"""The dashboard at ``/dashboard``: server-rendered HTML with inline SVG charts.

Nothing is fetched by the browser (no script, no CDN): the page works on a desk
machine without internet. Vietnamese by default, English with ``lang=en``.

The page is public. Its drill-down lists dossiers and procedures only for a reader's
token (:mod:`motcua_metrics.access`, narrowed as the drill-down endpoint is); anonymous
viewers see how many rows cost each item points, not the rows.
"""

from __future__ import annotations

from html import escape
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from motcua.auth import PUBLIC, OptionalPrincipal
from motcua.service import SessionDep
from motcua_metrics import access
from motcua_metrics.dashboard import charts
from motcua_metrics.index import drilldown, service
from motcua_metrics.index.periods import months_back
from motcua_metrics.index.router import PeriodQuery, UnitQuery, resolve
from motcua_metrics.operations.service import operations
from motcua_metrics.state import StateDep

router = APIRouter(tags=["dashboard"])

T = {
    "title": ("Chỉ số phục vụ người dân, doanh nghiệp (QĐ 766)",
              "Service index for citizens and businesses (Decision 766)"),
    "unit": ("Đơn vị", "Unit"), "period": ("Kỳ", "Period"), "show": ("Xem", "Show"),
    "total": ("Tổng điểm", "Total"), "of_available": ("trên điểm có dữ liệu", "of available"),
    "scaled": ("quy về thang 100", "on a 100 scale"),
    "groups": ("Các nhóm chỉ số", "Groups"), "trend": ("Xu hướng 12 tháng (thang 100)",
                                                       "12-month trend (100 scale)"),
    "ranking": ("Xếp hạng cơ quan", "Agency ranking"), "items": ("Tiêu chí", "Items"),
    "rank": ("Hạng", "Rank"), "points": ("Điểm", "Points"), "value": ("Giá trị", "Value"),
    "ratio": ("Tỷ lệ", "Ratio"), "threshold": ("Ngưỡng", "Threshold"),
    "na": ("Chưa có dữ liệu", "Not available"), "drill": ("Hồ sơ làm mất điểm",
                                                          "Dossiers that cost points"),
    "more": ("Tải đầy đủ", "Download all"), "ops": ("Số liệu vận hành", "Operational figures"),
    "on_time": ("Tỷ lệ đúng hạn", "On-time rate"),
    "proc_time": ("Thời gian xử lý trung bình theo TTHC", "Average processing time by procedure"),
    "productivity": ("Năng suất / cán bộ / năm", "Productivity per official per year"),
    "export": ("Xuất dữ liệu", "Export"), "config": ("Cấu hình", "Configuration"),
    "judged": ("đánh giá đến ngày", "judged on"), "nodata": ("Chưa có dữ liệu trong kỳ.",
                                                           "No data in the period."),
    "legend": ("Đậm: điểm đạt; nhạt: điểm tối đa có dữ liệu; xám: điểm tối đa.",
               "Dark: points; light: maximum with data; grey: full maximum."),
    "dossiers": ("hồ sơ", "dossiers"), "agency": ("Cơ quan", "Agency"),
    "procedure": ("TTHC", "Procedure"), "reason": ("Lý do", "Reason"),
    "signin": ("Danh sách hồ sơ, TTHC cụ thể chỉ hiển thị cho cán bộ được phân quyền "
               "(kiểm tra, quản trị, lãnh đạo phê duyệt) của cơ quan.",
               "The dossiers and procedures themselves are shown only to the agency's "
               "authorised officers (auditor, agency admin, approver)."),
}
UNIT_NAMES = {"working_days": ("ngày làm việc", "working days"),
              "working_hours": ("giờ làm việc", "working hours"),
              "calendar_days": ("ngày", "calendar days")}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;
color:#111827;background:#f9fafb}
header{background:#1e3a8a;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}header small{opacity:.85}
main{padding:16px 24px;display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));
gap:16px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:14px 16px}
section.wide{grid-column:1/-1}
h2{font-size:15px;margin:0 0 10px}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{border-bottom:1px solid #f3f4f6;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f9fafb}
.num{text-align:right;font-variant-numeric:tabular-nums}
.na{color:#9ca3af}.big{font-size:34px;font-weight:700;color:#1d4ed8}
form{display:flex;gap:8px;align-items:center;margin-top:8px}
input{padding:3px 6px}a{color:#1d4ed8}.muted{color:#6b7280;font-size:12px}
"""


def _t(key: str, lang: str) -> str:
    vi, en = T[key]
    return escape(vi if lang == "vi" else en)


def _n2(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


@router.get("/dashboard", response_class=HTMLResponse, operation_id="dashboard",
            include_in_schema=True, dependencies=[PUBLIC])
async def dashboard(session: SessionDep, state: StateDep, who: OptionalPrincipal,
                    unit: str | None = UnitQuery, period: str | None = PeriodQuery,
                    lang: Literal["vi", "en"] = "vi") -> HTMLResponse:
    """The index dashboard: groups, trend, ranking, items, drill-down, operations. Public;
    drill-down rows only for a reader's token."""
    u, p = resolve(state, unit, period)
    today = state.today()
    cal = state.calendar
    doc = await service.index_document(session, state.config, cal, u, p, today)
    province = u.code if u.kind == "province" else state.settings.province
    ranking = await service.ranking(session, state.config, cal, "agency", p, today,
                                    within=resolve(state, f"province:{province}", p.label)[0])
    trend = []
    for month in months_back(p.end, 12):
        if month.start > today:
            trend.append((month.label[2:], None))
            continue
        m = await service.index_document(session, state.config, cal, u, month, today)
        trend.append((month.label[2:], m["scaled_100"] if m["counts"]["received"]
                      or m["counts"]["settlement_scope"] else None))
    show, agencies = access.optional_rows_scope(who, u)
    drills = []
    for g in doc["groups"]:
        for i in g["items"]:
            if i["available"] and i["lost"]:
                # Anyone else sees how many rows cost the points: the total only.
                drills.append(await drilldown.drilldown(
                    session, state.config, cal, u, p, today, i["id"], limit=5 if show else 0,
                    agencies=agencies, doc=doc))
    ops = await operations(session, state.config, cal, state.units, u, p, today)
    html = _page(doc, ranking, trend, drills, ops, lang, str(u), p.label, rows_shown=show)
    return HTMLResponse(html)


def _page(doc: dict[str, Any], ranking: dict[str, Any], trend: list[tuple[str, float | None]],
          drills: list[dict[str, Any]], ops: dict[str, Any], lang: str, unit: str,
          period: str, *, rows_shown: bool) -> str:
    q = {"unit": unit, "period": period}
    other = "en" if lang == "vi" else "vi"
    scaled = doc["scaled_100"]
    head = (
        f'<header><h1>{_t("title", lang)}</h1><small>{escape(unit)} · {escape(period)} · '
        f'{_t("judged", lang)} {escape(doc["period"]["judged_on"])} · {_t("config", lang)} '
        f'{escape(doc["config_version"])} · <a style="color:#fff" '
        f'href="?{escape(urlencode(q | {"lang": other}))}">{other.upper()}</a></small>'
        f'<form method="get"><label>{_t("unit", lang)} <input name="unit" '
        f'value="{escape(unit)}" size="28"></label><label>{_t("period", lang)} <input '
        f'name="period" value="{escape(period)}" size="22"></label><input type="hidden" '
        f'name="lang" value="{lang}"><button>{_t("show", lang)}</button></form></header>')
    total = (
        f'<section><h2>{_t("total", lang)}</h2><div class="big">{doc["points"]:.2f}'
        f'<span class="muted"> / {doc["max_available"]:g} {_t("of_available", lang)} '
        f'(100)</span></div><div>{_n2(scaled)} '
        f'{_t("scaled", lang)}</div>'
        f'{charts.gauge(doc["points"], doc["max_available"], doc["max"], "total")}'
        f'<p class="muted">{_t("legend", lang)}</p>'
        f'<p>{_t("export", lang)}: '
        f'<a href="/v1/index/export?{escape(urlencode(q | {"format": "xlsx", "lang": lang}))}">'
        f'XLSX</a> · <a href="/v1/index/export?'
        f'{escape(urlencode(q | {"format": "csv", "lang": lang}))}">CSV</a> · '
        f'<a href="/v1/index?{escape(urlencode(q))}">JSON</a></p></section>')
    groups = (f'<section><h2>{_t("groups", lang)}</h2>'
              f'{charts.group_bars(doc["groups"], lang)}</section>')
    trend_html = (f'<section><h2>{_t("trend", lang)}</h2>'
                  f'{charts.trend(trend, "trend")}</section>')
    rank_rows = "".join(
        f'<tr><td class="num">{r["rank"]}</td><td>{escape(r["unit"]["code"])}</td>'
        f'<td class="num">{r["points"]:.2f}</td><td class="num">'
        f'{_n2(r["scaled_100"])}</td>'
        f'<td>{charts.bar(r["scaled_100"])}</td></tr>' for r in ranking["units"])
    rank = (f'<section><h2>{_t("ranking", lang)}</h2><table><tr><th>{_t("rank", lang)}</th>'
            f'<th>{_t("agency", lang)}</th><th>{_t("points", lang)}</th><th>/100</th><th></th>'
            f'</tr>{rank_rows or _empty(lang, 5)}</table></section>')
    items = []
    for g in doc["groups"]:
        items.append(f'<tr><th colspan="6">{escape(g["name"][lang])} — {g["points"]:.2f} / '
                     f'{g["max"]:g}</th></tr>')
        for i in g["items"]:
            if i["available"]:
                value = f'{i["numerator"]:g} / {i["denominator"]}'
                note = escape(i["note"][lang]) if i["note"] else ""
                items.append(
                    f'<tr><td>{escape(i["name"][lang])}<div class="muted">{note}</div></td>'
                    f'<td class="num">{value}</td><td class="num">{_pct(i["ratio"])}</td>'
                    f'<td class="num">{_pct(i["threshold"])}</td><td class="num">'
                    f'{i["points"]:.2f} / {i["max"]:g}</td>'
                    f'<td>{charts.bar(i["points"], i["max"], 90)}</td></tr>')
            else:
                items.append(
                    f'<tr class="na"><td>{escape(i["name"][lang])}</td><td colspan="3">'
                    f'{escape(i["reason"][lang])}</td><td class="num">— / '
                    f'{i["max"]:g}</td><td></td></tr>')
    items_html = (f'<section class="wide"><h2>{_t("items", lang)}</h2><table><tr><th></th>'
                  f'<th>{_t("value", lang)}</th><th>{_t("ratio", lang)}</th>'
                  f'<th>{_t("threshold", lang)}</th><th>{_t("points", lang)}</th><th></th></tr>'
                  f'{"".join(items)}</table></section>')
    drill_parts = []
    for d in drills:
        rows = "".join(
            f'<tr><td>{escape(r.get("dossier_code") or r.get("procedure_code") or "")}</td>'
            f'<td>{escape(r["reason"][lang])}</td></tr>' for r in d["rows"])
        link = "/v1/index/items/" + d["item"]["id"] + "/dossiers?" + urlencode(
            q | {"format": "xlsx", "lang": lang, "limit": 10000})
        more = f' · <a href="{escape(link)}">{_t("more", lang)}</a>' if rows_shown else ""
        drill_parts.append(
            f'<tr><th colspan="2">{escape(d["item"]["name"][lang])} (−{d["item"]["lost"]:.2f};'
            f' {d["total"]}){more}</th></tr>{rows}')
    notice = "" if rows_shown else f'<p class="muted">{_t("signin", lang)}</p>'
    drill = (f'<section class="wide"><h2>{_t("drill", lang)}</h2>{notice}<table>'
             f'{"".join(drill_parts) or _empty(lang, 2)}</table></section>')
    return ("<!doctype html><html lang=\"" + lang + "\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>"
            f"{_t('title', lang)}</title><style>{CSS}</style></head><body>{head}<main>"
            f"{total}{groups}{trend_html}{rank}{items_html}{drill}{_ops(ops, lang)}"
            "</main></body></html>")


def _empty(lang: str, cols: int) -> str:
    return f'<tr><td colspan="{cols}" class="na">{_t("nodata", lang)}</td></tr>'


def _ops(ops: dict[str, Any], lang: str) -> str:
    ot = ops["on_time"]
    procs = "".join(
        f'<tr><td>{escape(x["procedure_code"])}</td><td class="num">{x["dossiers"]}</td>'
        f'<td class="num">{x["average"]:g} {escape(UNIT_NAMES[x["unit"]][lang == "en"])}</td>'
        f'<td class="num">{x["statutory"] if x["statutory"] is not None else "—"}</td></tr>'
        for x in ops["processing_time"])
    prod = "".join(
        f'<tr><td>{escape(a["agency_code"])}</td><td class="num">{a["finished"]}</td>'
        f'<td class="num">{a["officials"] or "—"}</td><td class="num">'
        f'{a["per_official_per_year"] if a["per_official_per_year"] is not None else "—"}</td>'
        f'<td class="num">{a["target_per_year"] or "—"}</td></tr>'
        for a in ops["productivity"]["agencies"])
    return (
        f'<section class="wide"><h2>{_t("ops", lang)}</h2>'
        f'<p>{_t("on_time", lang)}: <b>{_pct(ot["rate"])}</b> ({ot["early"]} + {ot["on_time"]}'
        f' / {ot["finished"]} {_t("dossiers", lang)})</p>'
        f'<h2>{_t("proc_time", lang)}</h2><table><tr><th>{_t("procedure", lang)}</th>'
        f'<th>{_t("dossiers", lang)}</th><th>Ø</th><th>≤</th></tr>'
        f'{procs or _empty(lang, 4)}</table>'
        f'<h2>{_t("productivity", lang)}</h2><table><tr><th>{_t("agency", lang)}</th>'
        f'<th>{_t("dossiers", lang)}</th><th>#</th><th>/yr</th><th>target</th></tr>'
        f'{prod or _empty(lang, 5)}</table></section>')
