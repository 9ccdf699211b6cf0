"""Compose the slips of a dossier from the database."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from motcua_intake.catalog.repository import CatalogRepository
from motcua_intake.catalog.schemas import ProcedureDefinition
from motcua_intake.dossiers import service as dossiers
from motcua_intake.dossiers.documents import components_of
from motcua_intake.dossiers.errors import DossierNotPrintable
from motcua_intake.dossiers.models import REFUSED, Dossier
from motcua_intake.dossiers.repository import DossierRepository
from motcua_intake.printing.slips import Receipt, Refusal, SlipDocument, receipt_pdf, refusal_pdf

CHANNEL_VI = {"direct": "Trực tiếp tại Bộ phận Một cửa", "online": "Trực tuyến",
              "postal": "Qua dịch vụ bưu chính công ích"}
DELIVERY_VI = {"desk": "Bộ phận Một cửa", "postal": "Qua dịch vụ bưu chính công ích",
               "online": "Trực tuyến (bản điện tử)"}
UNIT_VI = {"working_days": "ngày làm việc", "working_hours": "giờ làm việc",
           "calendar_days": "ngày"}
FORM_VI = {"original": "Bản chính", "copy": "Bản sao", "shown_only": "Xuất trình"}
SOURCE_VI = {"upload": "Tệp điện tử", "data_store": "Kho dữ liệu điện tử",
             "shown": "Xuất trình"}


def tracking_url(base: str, code: str) -> str:
    """The public tracking page of a dossier (printed as a QR code)."""
    return f"{base.rstrip('/')}/tracking?code={quote(code)}"


async def _names(session: AsyncSession, dossier: Dossier) -> tuple[str, str]:
    repo = CatalogRepository(session)
    agency = await repo.agency(dossier.agency_code)
    point = await repo.agency(dossier.reception_point) if dossier.reception_point else None
    agency_name = agency.name_vi if agency else dossier.agency_code
    return agency_name, f"Bộ phận Một cửa {(point or agency).name_vi if (point or agency) else ''}"


async def _documents(session: AsyncSession, dossier: Dossier,
                     definition: ProcedureDefinition) -> list[SlipDocument]:
    members = {}
    if definition.bundle:
        found = await CatalogRepository(session).procedures(definition.bundle.member_codes())
        members = {c: ProcedureDefinition.model_validate(p.definition)
                   for c, p in found.items() if p.definition}
    components = {c.code: c for c in components_of(definition, members)}
    lines: dict[str, SlipDocument] = {}
    for doc in await DossierRepository(session).documents(dossier.code):
        if doc.stage != "submission" or doc.component_code in lines:
            continue
        component = components.get(doc.component_code)
        form = SOURCE_VI.get(doc.source) or FORM_VI.get(component.form if component else "",
                                                        "Bản giấy")
        lines[doc.component_code] = SlipDocument(
            name_vi=component.name_vi if component else doc.component_code, form_vi=form,
            copies=doc.copies)
    return list(lines.values())


async def receipt(session: AsyncSession, code: str, base_url: str) -> bytes:
    """Mẫu 01 of a received dossier."""
    dossier = await dossiers.get(session, code)
    if dossier.received_at is None or dossier.due_at is None:
        raise DossierNotPrintable("the dossier has not been received", status=dossier.status)
    definition = await dossiers.definition_for(session, dossier)
    agency_name, reception_name = await _names(session, dossier)
    time = dossier.statutory_time or {}
    statutory = f"{time.get('amount', 0):02d} {UNIT_VI.get(time.get('unit', ''), '')}"
    if time.get("cutoff"):
        statutory += f" (tiếp nhận sau {time['cutoff']} tính từ ngày làm việc tiếp theo)"
    return receipt_pdf(Receipt(
        code=dossier.code, agency_name=agency_name, reception_name=reception_name,
        applicant_name=dossier.applicant_name, applicant_id=dossier.applicant_id_number,
        applicant_phone=dossier.applicant_phone, procedure_code=dossier.procedure_code,
        procedure_name=definition.name_vi, statutory_text=statutory,
        received_at=dossier.received_at, due_at=dossier.due_at,
        delivery_vi=DELIVERY_VI.get(dossier.result_delivery, dossier.result_delivery),
        channel_vi=CHANNEL_VI[dossier.channel], tracking_url=tracking_url(base_url, code),
        documents=await _documents(session, dossier, definition),
        received_by=dossier.received_by))


async def refusal(session: AsyncSession, code: str, base_url: str) -> bytes:
    """The refusal slip of a refused dossier."""
    dossier = await dossiers.get(session, code)
    if dossier.status != REFUSED or dossier.refused_at is None:
        raise DossierNotPrintable("the dossier was not refused", status=dossier.status)
    definition = await dossiers.definition_for(session, dossier)
    agency_name, reception_name = await _names(session, dossier)
    return refusal_pdf(Refusal(
        code=dossier.code, agency_name=agency_name, reception_name=reception_name,
        applicant_name=dossier.applicant_name, applicant_id=dossier.applicant_id_number,
        procedure_code=dossier.procedure_code, procedure_name=definition.name_vi,
        submitted_at=dossier.submitted_at, refused_at=dossier.refused_at,
        reasons=dossier.refusal_reasons or [], tracking_url=tracking_url(base_url, code),
        refused_by=dossier.refused_by))
