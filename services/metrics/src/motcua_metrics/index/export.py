"""CSV and XLSX exports of the index and its drill-down (Vietnamese or English headers)."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

INDEX_HEADERS = {
    "vi": ["Nhóm", "Mã tiêu chí", "Tiêu chí", "Điểm tối đa", "Ngưỡng", "Tử số", "Mẫu số",
           "Tỷ lệ", "Điểm", "Có dữ liệu", "Lý do / ghi chú"],
    "en": ["Group", "Item id", "Item", "Max", "Threshold", "Numerator", "Denominator",
           "Ratio", "Points", "Available", "Reason / note"],
}
DRILL_HEADERS = {
    "vi": ["Mã tiêu chí", "Mã hồ sơ / TTHC", "Cơ quan", "TTHC", "Kênh", "Ngày tiếp nhận",
           "Ngày hẹn trả", "Ngày kết thúc", "Số lần bổ sung", "Mã lý do", "Lý do"],
    "en": ["Item id", "Dossier / procedure", "Agency", "Procedure", "Channel", "Received",
           "Due", "Finished", "Supplement requests", "Reason code", "Reason"],
}


def index_rows(doc: dict[str, Any], lang: str) -> list[list[Any]]:
    """One row per item, then the group totals and the index total."""
    rows: list[list[Any]] = []
    for g in doc["groups"]:
        for i in g["items"]:
            text = i["reason"] or i["note"]
            rows.append([g["name"][lang], i["id"], i["name"][lang], i["max"], i["threshold"],
                         i["numerator"], i["denominator"], i["ratio"], i["points"],
                         1 if i["available"] else 0, text[lang] if text else ""])
        rows.append([g["name"][lang], g["id"], "Σ", g["max"], None, None, None, None,
                     g["points"], None, ""])
    total = "Tổng điểm" if lang == "vi" else "Total"
    rows.append([total, "total", "Σ", doc["max"], None, None, None, None, doc["points"], None,
                 f"max_available={doc['max_available']} scaled_100={doc['scaled_100']}"])
    return rows


def drill_rows(drill: dict[str, Any], lang: str) -> list[list[Any]]:
    """One row per dossier or procedure that cost the item points."""
    out = []
    for r in drill["rows"]:
        out.append([drill["item"]["id"], r.get("dossier_code") or r.get("procedure_code"),
                    r.get("agency_code"), r.get("procedure_code"), r.get("channel"),
                    r.get("received_day"), r.get("due_day"), r.get("finish_day"),
                    r.get("supplement_count"), r["reason_code"], r["reason"][lang]])
    return out


def _title(doc: dict[str, Any]) -> list[str]:
    return [f"{doc['unit']['kind']}:{doc['unit']['code']}", doc["period"]["label"],
            f"config {doc['config_version']}", f"judged on {doc['period']['judged_on']}"]


def to_csv(header: list[str], rows: list[list[Any]], title: list[str]) -> bytes:
    """UTF-8 CSV with a BOM (so spreadsheet programs read Vietnamese correctly)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["#", *title])
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode()


def index_csv(doc: dict[str, Any], lang: str) -> bytes:
    """The index as CSV."""
    return to_csv(INDEX_HEADERS[lang], index_rows(doc, lang), _title(doc))


def drill_csv(drill: dict[str, Any], lang: str) -> bytes:
    """One item's drill-down as CSV."""
    return to_csv(DRILL_HEADERS[lang], drill_rows(drill, lang),
                  [*_title(drill), drill["item"]["id"]])


def to_xlsx(doc: dict[str, Any], drills: list[dict[str, Any]], lang: str) -> bytes:
    """A workbook: the index sheet, then one drill-down sheet with every item's rows."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Chỉ số" if lang == "vi" else "Index"
    ws.append(_title(doc))
    ws.append(INDEX_HEADERS[lang])
    for row in index_rows(doc, lang):
        ws.append(row)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    ws.column_dimensions["C"].width = 60
    ws.column_dimensions["K"].width = 80
    if drills:
        dd = wb.create_sheet("Chi tiết" if lang == "vi" else "Drill-down")
        dd.append(DRILL_HEADERS[lang])
        for cell in dd[1]:
            cell.font = Font(bold=True)
        for drill in drills:
            for row in drill_rows(drill, lang):
                dd.append(row)
        dd.column_dimensions["B"].width = 30
        dd.column_dimensions["K"].width = 80
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
