"""National sync records, progress entries and EMC tracking built from facts (domain.md §4).

A record is built from the dossier's fact and its events. It is sent when its content
changed since the last send (a correction is a re-send of the whole record under the
same dossier key, with a higher revision); a state that lacks what the national
contract requires is not sent, and ``national_problem`` says why (it shows in the
sync-rate drill-down).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from motcua.calendar import TIMEZONE
from motcua.contracts.metrics import (
    EmcTrackedV1,
    NationalDocument,
    NationalDossierRecord,
    NationalFee,
    NationalProgressEntry,
    NationalResult,
    NationalSupplement,
)
from motcua_metrics.facts import projection as p

#: Namespace of the stable ids (uuid5) of records, progress entries and EMC events.
NAMESPACE = uuid.UUID("6d6f7463-7561-4d65-9472-6963732d6e61")
CHANNEL_CODE = {"direct": 1, "online": 2, "postal": 3}
STATUS_VI = {
    1: "Mới đăng ký", 2: "Được tiếp nhận", 3: "Không được tiếp nhận", 4: "Đang xử lý",
    5: "Yêu cầu bổ sung giấy tờ", 6: "Yêu cầu thực hiện nghĩa vụ tài chính",
    7: "Công dân yêu cầu rút hồ sơ", 8: "Dừng xử lý", 9: "Đã xử lý xong", 10: "Đã trả kết quả",
}


HANDOVER_VI = {"forward": "Chuyển bước xử lý", "approve": "Phê duyệt", "sign": "Ký duyệt",
               "send_back": "Trả lại bước trước"}


def national_time(instant: datetime | None) -> str | None:
    """``yyyyMMddHHmmss`` in Asia/Ho_Chi_Minh, 24-hour (None stays None)."""
    return instant.astimezone(TIMEZONE).strftime("%Y%m%d%H%M%S") if instant else None


def stable_id(*parts: str) -> str:
    """A uuid5 under the metrics namespace: the same parts always give the same id."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def content_hash(record: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a record (as ``model_dump(mode="json")`` gives it,
    which is also what is stored: dumped once)."""
    raw = json.dumps(record, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def build_record(fact: Any, events: Sequence[p.EventRow],
                 ) -> tuple[NationalDossierRecord | None, str | None]:
    """The dossier's national record, or None and why it cannot be sent yet."""
    if not fact.procedure_code:
        return None, "missing MaTTHC (no intake event with the procedure)"
    if fact.channel not in CHANNEL_CODE:
        return None, "missing KenhThucHien (no submission or reception event)"
    if fact.status is None:
        return None, "missing TrangThaiHoSo"
    if fact.status not in (1, 3) and (fact.received_at is None or fact.due_at is None):
        return None, "missing NgayTiepNhan/NgayHenTra (no reception event)"
    documents: dict[str, NationalDocument] = {}
    for e in events:
        if e.event_type == p.DOCUMENT_REUSED:
            documents[e.data["component_code"]] = NationalDocument(
                MaThanhPhan=e.data["component_code"], DuocSoHoa=1,
                DuocTaiSuDung=1 if e.data.get("reused", True) else 0,
                DuocLayTuKhoDMQG=1 if e.data.get("from_national_store") else 0)
        elif e.event_type == p.DOCUMENT_STORED and e.data.get("source") == "digitised":
            documents.setdefault(e.data["document_type"], NationalDocument(
                MaThanhPhan=e.data["document_type"], DuocSoHoa=1))
    fees = [NationalFee(MaPhiLePhi=x["code"], TenPhiLePhi=x["label_vi"],
                        LoaiPhiLePhi=1 if x["kind"] == "fee" else 2, SoTien=x.get("amount_vnd"))
            for x in p.fee_lines(events)]
    supplements = [NationalSupplement(NgayYeuCauBoSung=national_time(x.start) or "",
                                      NgayBoSung=national_time(x.end))
                   for x in p.pauses(events)]
    results = [NationalResult(MaGiayTo=e.data["document_id"], LoaiGiayTo=e.data["document_type"])
               for e in sorted(events, key=lambda e: e.event_id)
               if e.event_type == p.DOCUMENT_STORED and e.data.get("source") == "result"]
    record = NationalDossierRecord(
        MaHoSo=fact.dossier_code, MaTTHC=fact.procedure_code, MaCoQuan=fact.agency_code,
        KenhThucHien=CHANNEL_CODE[fact.channel],
        LoaiDoiTuong=2 if fact.applicant_kind == "organisation" else 1,
        NgayNopHoSo=national_time(fact.submitted_at or fact.received_at),
        NgayTiepNhan=national_time(fact.received_at), NgayHenTra=national_time(fact.due_at),
        NgayTra=national_time(fact.returned_at),
        NgayKetThucXuLy=national_time(fact.finished_at) if fact.finish_status == 9 else None,
        NgayTuChoi=national_time(fact.refused_at), TrangThaiHoSo=fact.status,
        HoSoCoThanhPhanSoHoa=1 if fact.digitised else 0,
        TaiKhoanDuocXacThucVoiVNeID=1 if fact.vneid_verified else 0,
        DuocThanhToanTrucTuyen=fact.online_payment_code if fact.paid_online else 0,
        TaiLieuNop=[documents[k] for k in sorted(documents)], DanhSachLePhi=fees,
        DanhSachHoSoBoSung=supplements, DanhSachGiayToKetQua=results,
    )
    return record, None


def progress_entry(fact: Any, event: p.EventRow) -> NationalProgressEntry | None:
    """The progress entry a workflow status change, hand-over or transfer reports."""
    when = national_time(event.occurred_at) or ""
    if event.event_type == p.CASE_HANDED_OVER:
        d = event.data
        return NationalProgressEntry(
            MaHoSo=fact.dossier_code, NguoiXuLy=d["actor_id"], ChucDanh=d["actor_role"],
            ThoiDiemXuLy=when, PhongBanXuLy=d["actor_agency_code"],
            NoiDungXuLy=d.get("note") or f"{HANDOVER_VI.get(d['action'], d['action'])}: "
                                         f"{d['to_step']}",
            TrangThai=fact.status or 4, NgayBatDau=when,
            NgayKetThucTheoQuyDinh=national_time(_time(d.get("step_due_at")) or fact.due_at))
    if event.event_type == p.CASE_TRANSFERRED:
        return NationalProgressEntry(
            MaHoSo=fact.dossier_code, ThoiDiemXuLy=when,
            PhongBanXuLy=event.data["to_agency_code"],
            NoiDungXuLy=f"Chuyển hồ sơ từ {event.data['from_agency_code']} đến "
                        f"{event.data['to_agency_code']}", TrangThai=4, NgayBatDau=when,
            NgayKetThucTheoQuyDinh=national_time(_time(event.data.get("leg_due_at"))
                                                 or fact.due_at))
    if event.event_type != p.CASE_STATUS:
        return None
    status = int(event.data["status"])
    return NationalProgressEntry(
        MaHoSo=fact.dossier_code, NguoiXuLy=event.data.get("actor"),
        ChucDanh=event.data.get("actor_title"), ThoiDiemXuLy=when,
        PhongBanXuLy=event.data.get("department") or event.data.get("agency_code"),
        NoiDungXuLy=event.data.get("reason") or STATUS_VI.get(status, str(status)),
        TrangThai=status, NgayBatDau=when, NgayKetThucTheoQuyDinh=national_time(fact.due_at))


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def emc_steps(fact: Any, events: Sequence[p.EventRow]) -> list[EmcTrackedV1]:
    """Every EMC step the dossier's events show (received, processing, returned, assigned).

    Empty until the procedure and the channel are known: a step seen before intake's
    events arrive is sent when they do (same stable ``tracking_id``).
    """
    if not fact.procedure_code or fact.channel is None:
        return []
    payments = 1 if fact.paid_online else 2 if fact.paid_at_desk else 0
    out = []
    for event in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        status: int | None = None
        if event.event_type == p.RECEIVED:
            status = 1
        elif event.event_type == p.CASE_STATUS and int(event.data["status"]) == 4:
            status = 2
        elif event.event_type == p.CASE_STATUS and int(event.data["status"]) == 10:
            status = 3
        elif event.event_type == p.CASE_TRANSFERRED or (
                event.event_type == p.CASE_HANDED_OVER and event.data.get("action") == "forward"):
            status = 4
        if status is not None:
            out.append(EmcTrackedV1(
                tracking_id=stable_id("emc", event.event_id), CodeTTHC=fact.procedure_code,
                MaHoSo=fact.dossier_code, Status=status,
                FormsReception=1 if fact.channel == "online" else 2, FormsPayments=payments,
                Level=None, occurred_at=event.occurred_at))
    return out
