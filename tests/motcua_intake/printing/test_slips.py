"""The slips as PDF: they parse, carry the Vietnamese text and the tracking QR target."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pypdf

from motcua.testing import Mesh
from motcua_intake.printing.slips import Receipt, Refusal, SlipDocument, receipt_pdf, refusal_pdf
from tests.e2e.helpers import dossier_body
from tests.motcua_intake.helpers import act, citizen, desk, problem, submit, ward

AT = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)  # 15:05 in Vietnam


def _text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


class TestSlips:
    def test_receipt_carries_what_form_01_requires(self) -> None:
        pdf = receipt_pdf(Receipt(
            code="000.01.17.H56-261123-0001", agency_name="UBND phường Hạc Thành",
            reception_name="Bộ phận Một cửa", applicant_name="Nguyễn Thị Ánh Tuyết",
            applicant_id="038195001234", applicant_phone=None, procedure_code="1.001193",
            procedure_name="Thủ tục đăng ký khai sinh", statutory_text="01 ngày làm việc",
            received_at=AT, due_at=AT, delivery_vi="Bộ phận Một cửa", channel_vi="Trực tiếp",
            tracking_url="https://dvc.example/tracking?code=x",
            documents=[SlipDocument("Tờ khai đăng ký khai sinh", "Bản chính")]))
        text = _text(pdf)
        for expected in ("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", "Nguyễn Thị Ánh Tuyết",
                         "038195001234", "Thủ tục đăng ký khai sinh", "01 ngày làm việc",
                         "15 giờ 05 phút, ngày 23/11/2026", "Tờ khai đăng ký khai sinh",
                         "Trực tiếp"):
            assert expected in text, expected
        assert "https://dvc.example/tracking?code=x" in text.replace("\n", "")

    def test_refusal_lists_reasons(self) -> None:
        pdf = refusal_pdf(Refusal(
            code="C-1", agency_name="UBND xã Quảng Phú", reception_name="Bộ phận Một cửa",
            applicant_name="Trần Văn Đức", applicant_id="038095001235",
            procedure_code="1.000894", procedure_name="Thủ tục đăng ký kết hôn",
            submitted_at=AT, refused_at=AT, reasons=["Thiếu giấy xác nhận tình trạng hôn nhân"],
            tracking_url="https://dvc.example/t"))
        text = _text(pdf)
        assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text
        assert "1. Thiếu giấy xác nhận tình trạng hôn nhân" in text


class TestSlipEndpoints:
    async def test_receipt_and_refusal_slips(self, mesh: Mesh, intake) -> None:
        clerk = desk(mesh)
        body = dossier_body(ward(mesh), receive_now=True)
        received = (await submit(intake, body, clerk))["code"]
        # the applicant prints their own receipt
        r = await intake.client.get(f"/v1/dossiers/{received}/receipt.pdf",
                                    headers=citizen(mesh, body))
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        text = _text(r.content)
        assert received in text and "Giấy chứng sinh" in text and "Xuất trình" in text
        assert f"/tracking?code={received}" in text.replace("\n", "")
        problem(await intake.client.get(f"/v1/dossiers/{received}/refusal.pdf",
                                        headers=clerk), 409, "dossier.not_printable")

        refused = (await submit(intake, dossier_body(ward(mesh)), clerk))["code"]
        problem(await intake.client.get(f"/v1/dossiers/{refused}/receipt.pdf", headers=clerk),
                409, "dossier.not_printable")
        await act(intake, refused, "refusal", {"reasons": ["Không đúng thẩm quyền"]},
                  who=clerk)
        text = _text((await intake.client.get(f"/v1/dossiers/{refused}/refusal.pdf",
                                              headers=clerk)).content)
        assert "Không đúng thẩm quyền" in text
