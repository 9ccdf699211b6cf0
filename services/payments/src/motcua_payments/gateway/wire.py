"""The national payment platform's wire format, version 1.0.6 (domain.md §7).

Every message is a flat JSON object with Vietnamese field names and a ``MaXacThuc``
checksum: ``hex(SHA-256("<v1>|<v2>|…|<vn>|<secret>"))`` over a fixed list of fields.
The INIT and QUERY field lists are the ones domain.md gives; the others (responses, IPN,
GET_BILL, STATEMENT) follow the same pattern and are our working contract, since the
official specification is not public (see docs/payments.md).

Free-text values may not contain ``|``: the checksum joins fields with it, so a ``|``
inside a value would let two different messages share one checksum.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

VERSION = "1.0.6"
TIME_FORMAT = "%Y%m%d%H%M%S"
BUSINESS_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

#: MaLoi values.
SUCCESS = "00"
PENDING = "09"
NOT_FOUND = "04"
CANCELLED = "24"
FAILED = "99"
BAD_CHECKSUM = "97"
BAD_REQUEST = "03"

_TIME = r"^\d{14}$"


def format_time(at: datetime) -> str:
    """``yyyyMMddHHmmss`` (24-hour) in business time."""
    return at.astimezone(BUSINESS_TZ).strftime(TIME_FORMAT)


def parse_time(value: str) -> datetime:
    """Parse ``yyyyMMddHHmmss`` as business time (aware)."""
    return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=BUSINESS_TZ)


def checksum(values: Sequence[object], secret: str) -> str:
    """``hex(SHA-256("v1|v2|…|vn|secret"))``."""
    raw = "|".join([*(str(v) for v in values), secret])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class Message(BaseModel):
    """A signed message: ``SIGNED`` names the fields, in order, that the checksum covers."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    SIGNED: ClassVar[tuple[str, ...]]

    PhienBan: Literal["1.0.6"] = VERSION
    MaXacThuc: str = ""

    @field_validator("*", mode="before")
    @classmethod
    def _no_separator(cls, value: Any) -> Any:
        if isinstance(value, str) and "|" in value:
            raise ValueError("'|' is not allowed in a signed message")
        return value

    def signed_values(self) -> list[object]:
        """The values the checksum covers, in order."""
        return [getattr(self, name) for name in self.SIGNED]

    def expected_checksum(self, secret: str) -> str:
        """The checksum this message should carry."""
        return checksum(self.signed_values(), secret)

    def signed(self, secret: str) -> Any:
        """A copy carrying its checksum."""
        return self.model_copy(update={"MaXacThuc": self.expected_checksum(secret)})

    def verifies(self, secret: str) -> bool:
        """Whether ``MaXacThuc`` matches (constant-time comparison)."""
        return hmac.compare_digest(self.MaXacThuc.lower(), self.expected_checksum(secret))

    def wire(self) -> dict[str, Any]:
        """The JSON object sent on the wire."""
        return self.model_dump()


class InitRequest(Message):
    """INIT: create a payment; the platform answers a payment URL."""

    SIGNED = ("MaLenh", "PhienBan", "MaDoiTac", "MaThamChieu", "SoTien", "LoaiHinhThanhToan",
              "MaKenhThanhToan", "MaThietBi", "NgonNgu", "MaTienTe", "MaDichVu",
              "ThongTinGiaoDich", "ThoiGianGD", "Ip")
    MaLenh: Literal["INIT"] = "INIT"
    MaDoiTac: str = Field(min_length=1, max_length=50)
    MaThamChieu: str = Field(min_length=1, max_length=50)
    SoTien: int = Field(gt=0, strict=True)
    LoaiHinhThanhToan: Literal["PAY"] = "PAY"
    MaKenhThanhToan: Literal["1"] = "1"
    MaThietBi: Literal["1"] = "1"
    NgonNgu: Literal["vi-VN"] = "vi-VN"
    MaTienTe: Literal["VND"] = "VND"
    MaDichVu: Literal["PAYMENT"] = "PAYMENT"
    ThongTinGiaoDich: str = Field(min_length=1, max_length=255)
    ThoiGianGD: str = Field(pattern=_TIME)
    Ip: str = Field(min_length=1, max_length=45)
    #: Not signed: where the browser returns and where the IPN goes.
    UrlTraVe: str | None = None
    UrlThongBao: str | None = None


class InitResponse(Message):
    """INIT's answer: ``MaLoi`` "00" and the payment URL."""

    SIGNED = ("MaLenh", "PhienBan", "MaDoiTac", "MaThamChieu", "MaLoi", "UrlThanhToan",
              "ThoiGianGD")
    MaLenh: Literal["INIT"] = "INIT"
    MaDoiTac: str
    MaThamChieu: str
    MaLoi: str
    MoTaLoi: str = ""
    UrlThanhToan: str = ""
    ThoiGianGD: str = Field(pattern=_TIME)


class Notification(Message):
    """IPN (server-to-server) or RETURN (browser redirect) after the citizen paid or not."""

    SIGNED = ("MaLenh", "PhienBan", "MaDoiTac", "MaThamChieu", "MaGiaoDich", "SoTien",
              "MaLoi", "ThoiGianGD")
    MaLenh: Literal["IPN", "RETURN"] = "IPN"
    MaDoiTac: str = Field(min_length=1, max_length=50)
    MaThamChieu: str = Field(min_length=1, max_length=50)
    MaGiaoDich: str = Field("", max_length=100)
    SoTien: int = Field(ge=0, strict=True)
    MaLoi: str = Field(min_length=2, max_length=4)
    MoTaLoi: str = ""
    ThoiGianGD: str = Field(pattern=_TIME)


class QueryRequest(Message):
    """QUERY: the status of one payment, asked server-to-server."""

    SIGNED = ("MaLenh", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD")
    MaLenh: Literal["QUERY"] = "QUERY"
    MaDoiTac: str
    MaThamChieu: str
    ThoiGianGD: str = Field(pattern=_TIME)


class QueryResponse(Message):
    """QUERY's answer: ``MaLoi`` is the transaction's state ("00" paid, "09" pending …)."""

    SIGNED = ("MaLenh", "PhienBan", "MaDoiTac", "MaThamChieu", "MaGiaoDich", "SoTien",
              "MaLoi", "ThoiGianGD")
    MaLenh: Literal["QUERY"] = "QUERY"
    MaDoiTac: str
    MaThamChieu: str
    MaGiaoDich: str = ""
    SoTien: int = 0
    MaLoi: str
    MoTaLoi: str = ""
    ThoiGianGD: str = Field(pattern=_TIME)


class GetBillRequest(Message):
    """GET_BILL: the platform's receipt (PDF) of a paid transaction."""

    SIGNED = ("MaLenh", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD")
    MaLenh: Literal["GET_BILL"] = "GET_BILL"
    MaDoiTac: str
    MaThamChieu: str
    ThoiGianGD: str = Field(pattern=_TIME)


class GetBillResponse(Message):
    """GET_BILL's answer: the PDF, base64 in ``DuLieu``, its SHA-256 in ``MaBamDuLieu``."""

    SIGNED = ("MaLenh", "PhienBan", "MaDoiTac", "MaThamChieu", "MaLoi", "MaBamDuLieu",
              "ThoiGianGD")
    MaLenh: Literal["GET_BILL"] = "GET_BILL"
    MaDoiTac: str
    MaThamChieu: str
    MaLoi: str
    DuLieu: str = ""
    MaBamDuLieu: str = ""
    ThoiGianGD: str = Field(pattern=_TIME)


class StatementRequest(Message):
    """STATEMENT: the daily (T+1) list of successful transactions of one business day."""

    SIGNED = ("MaLenh", "PhienBan", "MaDoiTac", "NgayDoiSoat", "ThoiGianGD")
    MaLenh: Literal["STATEMENT"] = "STATEMENT"
    MaDoiTac: str
    NgayDoiSoat: str = Field(pattern=r"^\d{8}$")
    ThoiGianGD: str = Field(pattern=_TIME)


class StatementLine(BaseModel):
    """One successful transaction in a statement."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    MaThamChieu: str
    MaGiaoDich: str
    SoTien: int
    ThoiGianGD: str


class StatementResponse(Message):
    """The statement; the checksum covers the day, the line count and the total."""

    SIGNED = ("MaLenh", "PhienBan", "MaDoiTac", "NgayDoiSoat", "MaLoi", "SoGiaoDich",
              "TongTien")
    MaLenh: Literal["STATEMENT"] = "STATEMENT"
    MaDoiTac: str
    NgayDoiSoat: str
    MaLoi: str
    SoGiaoDich: int = 0
    TongTien: int = 0
    DanhSachGiaoDich: list[StatementLine] = []


def parse(kind: type[Message], payload: Mapping[str, Any]) -> Any:
    """Validate a received message (raises pydantic's ValidationError)."""
    return kind.model_validate(dict(payload))
