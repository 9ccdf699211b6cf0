"""The slips as PDF, with a QR code to public tracking (pure: data in, bytes out).

Text is set in Noto Sans (from the ``pymupdf-fonts`` wheel, SIL OFL), which has the
precomposed Vietnamese letters, so diacritics render on a machine with no system fonts;
text is NFC-normalised first so combining sequences map to those glyphs. Layouts follow
Circular 01/2018/TT-VPCP as kept by Decree 118/2025: Mẫu 01 (giấy tiếp nhận hồ sơ và hẹn
trả kết quả) and the refusal slip (phiếu từ chối tiếp nhận giải quyết hồ sơ).
"""

from __future__ import annotations

import io
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape

import pymupdf_fonts
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from motcua.calendar import TIMEZONE

FONT, FONT_BOLD = "MotcuaNotoSans", "MotcuaNotoSans-Bold"
_lock = threading.Lock()


def _fonts() -> None:
    """Register the fonts once per process."""
    with _lock:
        if FONT in pdfmetrics.getRegisteredFontNames():
            return
        pdfmetrics.registerFont(TTFont(FONT, io.BytesIO(pymupdf_fonts.myfont("notos"))))
        pdfmetrics.registerFont(TTFont(FONT_BOLD, io.BytesIO(pymupdf_fonts.myfont("notosbo"))))
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT,
                                      boldItalic=FONT_BOLD)


@dataclass(frozen=True)
class SlipDocument:
    """One line of the documents received."""

    name_vi: str
    form_vi: str  # Bản chính / Bản sao / Xuất trình / Tệp điện tử / Kho dữ liệu
    copies: int = 1


@dataclass(frozen=True)
class Receipt:
    """What Mẫu 01 prints."""

    code: str
    agency_name: str
    reception_name: str
    applicant_name: str
    applicant_id: str
    applicant_phone: str | None
    procedure_code: str
    procedure_name: str
    statutory_text: str
    received_at: datetime
    due_at: datetime
    delivery_vi: str
    channel_vi: str
    tracking_url: str
    documents: list[SlipDocument] = field(default_factory=list)
    received_by: str | None = None


@dataclass(frozen=True)
class Refusal:
    """What the refusal slip prints."""

    code: str
    agency_name: str
    reception_name: str
    applicant_name: str
    applicant_id: str
    procedure_code: str
    procedure_name: str
    submitted_at: datetime
    refused_at: datetime
    reasons: list[str]
    tracking_url: str
    refused_by: str | None = None


def clock(at: datetime) -> str:
    """``hh giờ mm phút, ngày dd/mm/yyyy`` in Vietnam time."""
    local = at.astimezone(TIMEZONE)
    return f"{local:%H} giờ {local:%M} phút, ngày {local:%d/%m/%Y}"


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=10.5, leading=14)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=9, leading=11),
        "center": ParagraphStyle("center", parent=base, alignment=TA_CENTER),
        "center_bold": ParagraphStyle("center_bold", parent=base, fontName=FONT_BOLD,
                                      alignment=TA_CENTER),
        "title": ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=13,
                                leading=17, alignment=TA_CENTER, spaceBefore=6, spaceAfter=2),
        "cell": ParagraphStyle("cell", parent=base, fontSize=9.5, leading=12),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(unicodedata.normalize("NFC", text)).replace("\n", "<br/>"), style)


def _b(label: str, value: str, style: ParagraphStyle) -> Paragraph:
    """``label`` plain, ``value`` bold."""
    label, value = (escape(unicodedata.normalize("NFC", t)) for t in (label, value))
    return Paragraph(f"{label}<b>{value}</b>", style)


def _qr(url: str, size: float = 30 * mm) -> Drawing:
    widget = QrCodeWidget(url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


def _header(agency: str, reception: str, s: dict[str, ParagraphStyle]) -> Table:
    left = [_p(agency.upper(), s["center"]), _p(reception.upper(), s["center_bold"])]
    right = [_p("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", s["center_bold"]),
             _p("Độc lập - Tự do - Hạnh phúc", s["center_bold"])]
    table = Table([[left, right]], colWidths=[80 * mm, 95 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _footer(url: str, left: str, right: str, right_name: str | None,
            s: dict[str, ParagraphStyle]) -> Table:
    qr_cell = [_qr(url), _p("Tra cứu tình trạng hồ sơ:", s["small"]), _p(url, s["small"])]
    signer = [_p(left, s["center_bold"]), _p("(Ký và ghi rõ họ tên)", s["center"])]
    officer = [_p(right, s["center_bold"]), _p("(Ký và ghi rõ họ tên)", s["center"]),
               Spacer(1, 14 * mm), _p(right_name or "", s["center"])]
    table = Table([[qr_cell, signer, officer]], colWidths=[55 * mm, 60 * mm, 60 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _build(flow: list, title: str) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=15 * mm, bottomMargin=15 * mm, title=title,
                            author="Motcua", subject=title)
    doc.build(flow)
    return buf.getvalue()


def receipt_pdf(r: Receipt) -> bytes:
    """Mẫu 01: receipt and appointment slip."""
    _fonts()
    s = _styles()
    rows = [[_p("STT", s["center_bold"]), _p("Tên giấy tờ", s["center_bold"]),
             _p("Hình thức", s["center_bold"]), _p("Số lượng", s["center_bold"])]]
    for i, d in enumerate(r.documents, start=1):
        rows.append([_p(str(i), s["cell"]), _p(d.name_vi, s["cell"]), _p(d.form_vi, s["cell"]),
                     _p(f"{d.copies:02d}", s["cell"])])
    docs = Table(rows, colWidths=[12 * mm, 105 * mm, 35 * mm, 20 * mm], repeatRows=1)
    docs.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                              ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    flow = [
        _header(r.agency_name, r.reception_name, s),
        Spacer(1, 4 * mm),
        _p("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", s["title"]),
        _b("Mã hồ sơ: ", r.code, s["center"]),
        Spacer(1, 4 * mm),
        _p(f"{r.reception_name} đã tiếp nhận hồ sơ của:", s["base"]),
        _b("Ông/Bà: ", r.applicant_name, s["base"]),
        _b("Số định danh cá nhân/Mã số thuế: ", r.applicant_id, s["base"]),
        _p(f"Số điện thoại: {r.applicant_phone or '………………'}", s["base"]),
        _b("Nội dung yêu cầu giải quyết: ", f"{r.procedure_name} (mã {r.procedure_code})",
           s["base"]),
        _p(f"Hình thức nộp hồ sơ: {r.channel_vi}", s["base"]),
        Spacer(1, 2 * mm),
        _p("1. Thành phần hồ sơ nộp gồm:", s["base"]),
        docs,
        Spacer(1, 2 * mm),
        _p("2. Số lượng hồ sơ: 01 (bộ)", s["base"]),
        _b("3. Thời gian giải quyết hồ sơ theo quy định là: ", r.statutory_text, s["base"]),
        _b("4. Thời gian nhận hồ sơ: ", clock(r.received_at), s["base"]),
        _b("5. Thời gian trả kết quả giải quyết hồ sơ: ", clock(r.due_at), s["base"]),
        _p(f"6. Đăng ký nhận kết quả tại: {r.delivery_vi}", s["base"]),
        _p("Vào sổ theo dõi hồ sơ, Quyển số: …… Số thứ tự: ……", s["base"]),
        Spacer(1, 6 * mm),
        _footer(r.tracking_url, "NGƯỜI NỘP HỒ SƠ", "NGƯỜI TIẾP NHẬN HỒ SƠ", r.received_by, s),
    ]
    return _build(flow, f"Giấy tiếp nhận hồ sơ và hẹn trả kết quả {r.code}")


def refusal_pdf(r: Refusal) -> bytes:
    """The refusal slip (phiếu từ chối tiếp nhận giải quyết hồ sơ), with reasons."""
    _fonts()
    s = _styles()
    flow = [
        _header(r.agency_name, r.reception_name, s),
        Spacer(1, 4 * mm),
        _p("PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ", s["title"]),
        _b("Mã hồ sơ: ", r.code, s["center"]),
        Spacer(1, 4 * mm),
        _p(f"{r.reception_name} đã tiếp nhận hồ sơ của:", s["base"]),
        _b("Ông/Bà: ", r.applicant_name, s["base"]),
        _b("Số định danh cá nhân/Mã số thuế: ", r.applicant_id, s["base"]),
        _b("Nội dung yêu cầu giải quyết: ", f"{r.procedure_name} (mã {r.procedure_code})",
           s["base"]),
        _p(f"Thời gian nộp hồ sơ: {clock(r.submitted_at)}", s["base"]),
        Spacer(1, 2 * mm),
        _p("Qua xem xét, cơ quan, đơn vị thông báo không tiếp nhận, giải quyết hồ sơ này "
           "với lý do cụ thể như sau:", s["base"]),
        *(_p(f"{i}. {reason}", s["base"]) for i, reason in enumerate(r.reasons, start=1)),
        Spacer(1, 2 * mm),
        _p("Xin thông báo để Ông/Bà được biết và thực hiện./.", s["base"]),
        _p(f"Thời gian từ chối: {clock(r.refused_at)}", s["base"]),
        Spacer(1, 6 * mm),
        _footer(r.tracking_url, "NGƯỜI NỘP HỒ SƠ", "NGƯỜI TIẾP NHẬN HỒ SƠ", r.refused_by, s),
    ]
    return _build(flow, f"Phiếu từ chối tiếp nhận giải quyết hồ sơ {r.code}")
