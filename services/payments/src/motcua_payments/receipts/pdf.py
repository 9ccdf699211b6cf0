"""The receipt as a PDF (A5), with a QR code to verify it.

Vietnamese needs a font with its diacritics, and a fresh machine has no system fonts, so
the Noto Sans faces come from the ``pymupdf-fonts`` wheel (OFL), the same package intake
uses for its slips.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

BUSINESS_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_METHODS = {"gateway": "Trực tuyến (Nền tảng thanh toán quốc gia)",
            "cash": "Tiền mặt", "transfer": "Chuyển khoản"}


@cache
def _fonts() -> tuple[str, str]:
    from pymupdf_fonts import NotoSans_Bold, NotoSans_Regular

    pdfmetrics.registerFont(TTFont("MotcuaNotoSans", io.BytesIO(NotoSans_Regular.fontbuffer)))
    pdfmetrics.registerFont(TTFont("MotcuaNotoSansBold", io.BytesIO(NotoSans_Bold.fontbuffer)))
    return "MotcuaNotoSans", "MotcuaNotoSansBold"


def vnd(amount: int) -> str:
    """``50.000 đồng`` (dot as the thousands separator, as written in Vietnam)."""
    return f"{amount:,}".replace(",", ".") + " đồng"


def render(receipt: Any, *, verify_url: str, agency_name: str | None = None) -> bytes:
    """The receipt document; deterministic for a given receipt row."""
    regular, bold = _fonts()
    buffer = io.BytesIO()
    width, height = A5
    pdf = canvas.Canvas(buffer, pagesize=A5, invariant=True)
    refund = receipt.kind == "refund"
    pdf.setTitle(f"{receipt.symbol} {receipt.number_text}")
    x, y = 12 * mm, height - 16 * mm
    pdf.setFont(bold, 9)
    pdf.drawString(x, y, agency_name or f"Cơ quan thu: {receipt.agency_code}")
    pdf.setFont(regular, 8)
    pdf.drawRightString(width - x, y, f"Mẫu số: {receipt.template}")
    pdf.drawRightString(width - x, y - 11, f"Ký hiệu: {receipt.symbol}")
    pdf.drawRightString(width - x, y - 22, f"Số: {receipt.number_text}")
    y -= 42
    pdf.setFont(bold, 13)
    title = "BIÊN LAI HOÀN TRẢ PHÍ, LỆ PHÍ" if refund else "BIÊN LAI THU PHÍ, LỆ PHÍ"
    pdf.drawCentredString(width / 2, y, title)
    pdf.setFont(regular, 8)
    pdf.drawCentredString(width / 2, y - 12, "(Biên lai điện tử)")
    issued: datetime = receipt.issued_at.astimezone(BUSINESS_TZ)
    pdf.drawCentredString(width / 2, y - 23,
                          f"Ngày {issued:%d} tháng {issued:%m} năm {issued:%Y}, lúc {issued:%H:%M}")
    y -= 46
    pdf.setFont(regular, 9)
    rows = [
        ("Người nộp" if not refund else "Người nhận hoàn trả", receipt.payer_name or "—"),
        ("Mã hồ sơ", receipt.dossier_code),
        ("Thủ tục", receipt.procedure_code),
        ("Hình thức", _METHODS.get(receipt.method, receipt.method)),
    ]
    if receipt.reference:
        rows.append(("Mã tham chiếu", receipt.reference))
    if receipt.gateway_transaction_id:
        rows.append(("Mã giao dịch", receipt.gateway_transaction_id))
    for label, value in rows:
        pdf.drawString(x, y, f"{label}:")
        pdf.drawString(x + 34 * mm, y, str(value))
        y -= 13
    y -= 6
    pdf.setFont(bold, 9)
    pdf.drawString(x, y, "Nội dung")
    pdf.drawRightString(width - x, y, "Số tiền")
    pdf.line(x, y - 3, width - x, y - 3)
    y -= 15
    pdf.setFont(regular, 9)
    for line in receipt.lines:
        pdf.drawString(x, y, str(line.get("label_vi", line.get("code", "")))[:70])
        pdf.drawRightString(width - x, y, vnd(int(line.get("payable_vnd", 0))))
        y -= 13
    pdf.line(x, y + 8, width - x, y + 8)
    pdf.setFont(bold, 10)
    pdf.drawString(x, y - 4, "Tổng cộng")
    pdf.drawRightString(width - x, y - 4, vnd(receipt.amount_vnd))
    if receipt.status == "cancelled":
        pdf.setFont(bold, 12)
        pdf.setFillColorRGB(0.8, 0, 0)
        pdf.drawCentredString(width / 2, y - 26, f"ĐÃ HỦY: {receipt.cancel_reason or ''}"[:60])
        pdf.setFillColorRGB(0, 0, 0)
    size = 28 * mm
    widget = QrCodeWidget(verify_url)
    bounds = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (bounds[2] - bounds[0]), 0, 0,
                                             size / (bounds[3] - bounds[1]), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, pdf, x - 2 * mm, 12 * mm)
    pdf.setFont(regular, 7)
    pdf.drawString(x + size, 24 * mm, "Quét mã QR để tra cứu biên lai")
    pdf.drawString(x + size, 20 * mm, f"Mã tra cứu: {receipt.verification_code}")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
