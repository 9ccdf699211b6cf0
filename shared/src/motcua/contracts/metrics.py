"""Events published by metrics for the national level (service token ``metrics``).

Subjects ``motcua.<province>.metrics.<aggregate>.<event>``:

* ``national.dossier_synced`` — the national sync record of one dossier (domain.md §4).
  One record per dossier: ``record_id`` is stable (derived from province and dossier
  code) and the envelope ``subject`` is the dossier code. A correction is simply a
  re-send of the whole record under the same key with a higher ``revision`` (the
  envelope ``sequence``); the national side keeps the highest and never rejects it.
* ``national.progress_synced`` — one progress entry (a step of the process control
  slip); ``entry_id`` is stable (derived from the workflow event it reports).
* ``emc.tracked`` — one EMC service-usage tracking event per step; ``tracking_id`` is
  stable (derived from the event it reports).

Field names inside ``record``/``entry``/EMC events follow the national naming, which
is a working contract (the official spec is not public): :data:`NATIONAL_SCHEMA`
versions it. Times there are ``yyyyMMddHHmmss`` in Asia/Ho_Chi_Minh, 24-hour.

Within version 1 changes are additive only.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from motcua.events import EventData

#: Version of the national field naming these records follow (working contract).
NATIONAL_SCHEMA = "vn-dvc-sync/2025.04-working"


class NationalIdentifier(BaseModel):
    """DinhDanhCHS entry: 1 = 12-digit personal ID, 2 = 9-digit legacy ID."""

    LoaiDinhDanh: Literal[1, 2]
    SoDinhDanh: str


class NationalDocument(BaseModel):
    """TaiLieuNop entry: a submitted component and its digitisation/reuse flags."""

    MaThanhPhan: str
    TenTepDinhKem: str | None = None
    DuocSoHoa: Literal[0, 1] = 0
    DuocTaiSuDung: Literal[0, 1] = 0
    DuocLayTuKhoDMQG: Literal[0, 1] = 0


class NationalFee(BaseModel):
    """DanhSachLePhi entry (amounts in whole VND)."""

    MaPhiLePhi: str
    TenPhiLePhi: str
    LoaiPhiLePhi: Literal[1, 2]  # 1 lệ phí (fee), 2 phí (charge)
    SoTien: int | None = None


class NationalSupplement(BaseModel):
    """DanhSachHoSoBoSung entry: one supplement request and when it was answered."""

    NgayYeuCauBoSung: str
    NgayBoSung: str | None = None


class NationalResult(BaseModel):
    """DanhSachGiayToKetQua entry: an electronic result document."""

    MaGiayTo: str
    LoaiGiayTo: str


class NationalDossierRecord(BaseModel):
    """The national sync record of one dossier (hồ sơ đồng bộ), national field names.

    Fields the platform's events do not carry (applicant name and ID, procedure name
    and field) are ``None``/empty: the national side fills them from its own records or
    a later revision adds them.
    """

    MaHoSo: str
    MaTTHC: str
    TenTTHC: str | None = None
    MaLinhVuc: str | None = None
    MaCoQuan: str
    KenhThucHien: Literal[1, 2, 3]
    ChuHoSo: str | None = None
    LoaiDoiTuong: Literal[1, 2]
    DinhDanhCHS: list[NationalIdentifier] = []
    NgayNopHoSo: str | None = None
    NgayTiepNhan: str | None = None
    NgayHenTra: str | None = None
    NgayTra: str | None = None
    NgayKetThucXuLy: str | None = None
    NgayTuChoi: str | None = None
    TrangThaiHoSo: int
    HoSoCoThanhPhanSoHoa: Literal[0, 1] = 0
    TaiKhoanDuocXacThucVoiVNeID: Literal[0, 1] = 0
    DuocThanhToanTrucTuyen: Literal[0, 1, 2] = 0
    TaiLieuNop: list[NationalDocument] = []
    DanhSachLePhi: list[NationalFee] = []
    DanhSachHoSoBoSung: list[NationalSupplement] = []
    DanhSachGiayToKetQua: list[NationalResult] = []


class NationalProgressEntry(BaseModel):
    """A progress entry (tiến độ xử lý) of a dossier, national field names."""

    MaHoSo: str
    NguoiXuLy: str | None = None
    ChucDanh: str | None = None
    ThoiDiemXuLy: str
    PhongBanXuLy: str | None = None
    NoiDungXuLy: str
    TrangThai: int
    NgayBatDau: str
    NgayKetThucTheoQuyDinh: str | None = None


class NationalDossierSyncedV1(EventData):
    """The national sync record of a dossier was (re-)sent; the highest revision wins."""

    service = "metrics"
    aggregate = "national"
    event = "dossier_synced"

    record_id: str
    dossier_code: str
    #: Monotonic per dossier (also the envelope ``sequence``).
    revision: int
    schema_version: str = NATIONAL_SCHEMA
    content_sha256: str
    record: NationalDossierRecord
    occurred_at: datetime


class NationalProgressSyncedV1(EventData):
    """A progress entry of a dossier was sent to the national level."""

    service = "metrics"
    aggregate = "national"
    event = "progress_synced"

    entry_id: str
    dossier_code: str
    schema_version: str = NATIONAL_SCHEMA
    entry: NationalProgressEntry
    occurred_at: datetime


class EmcTrackedV1(EventData):
    """EMC service-usage tracking for one step of a dossier (domain.md §4).

    ``Status``: 1 received, 2 processing, 3 result returned, 4 assigned.
    ``FormsReception``: 1 online, 2 direct (postal counts as direct: not online).
    ``FormsPayments``: 0 none, 1 online, 2 direct. ``Level``: 3 partial online, 4
    full-process online; ``None`` while the procedure's online level is not in any event.
    """

    service = "metrics"
    aggregate = "emc"
    event = "tracked"

    tracking_id: str
    CodeTTHC: str
    MaHoSo: str
    Status: Literal[1, 2, 3, 4]
    FormsReception: Literal[1, 2]
    FormsPayments: Literal[0, 1, 2]
    Level: Literal[3, 4] | None = None
    occurred_at: datetime
