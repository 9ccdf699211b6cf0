"""Vietnamese identification numbers: validate, decode, mask and redact.

A pure library (no I/O, no database). Three kinds of number are understood:

``personal_id_12``
    The personal identification number (số định danh cá nhân), printed on the
    citizen ID card (CCCD / thẻ căn cước): ``PPP G YY RRRRRR``.

    * ``PPP`` is the birth-registration province code from the pre-2025 list of
      63 provinces (Circular 07/2016/TT-BCA). Numbers are issued for life, so the
      2025 merger into 34 provinces renumbered nothing: we never validate against
      the 34-province list.
    * ``G`` is century and gender in one digit: even = male, odd = female,
      0/1 = 1900-1999, 2/3 = 2000-2099, then one pair per later century.
    * ``YY`` is the last two digits of the birth year.
    * ``RRRRRR`` is random. There is **no check digit**, so a well-formed number
      can still be wrong; this module checks structure and consistency only.

``legacy_id_9``
    The old 9-digit identity card (chứng minh nhân dân, CMND). Its first digits
    historically hint at the issuing province, but the mapping was never a clean
    public table, so we check shape only (nine ASCII digits) and decode nothing.

``tax_code``
    The enterprise tax code (mã số thuế), Circular 105/2020/TT-BTC Art. 5:
    ``N1N2 N3..N9 N10`` and, for dependent units (branches), ``-N11N12N13``.

    * ``N1N2`` is the issuing tax region (the tax authority's own catalogue, not
      the ID-card province list), so it is not decoded.
    * ``N3..N9`` is a sequence number from 0000001 to 9999999.
    * ``N10`` is the check digit: with weights (31, 29, 23, 19, 17, 13, 7, 5, 3)
      on N1..N9, ``N10 = 10 - (sum mod 11)``. A remainder of 10 gives 0. A
      remainder of 0 would give 10, which is not a digit: that sequence number is
      skipped and never issued, so such a code is invalid. Source: the structure is
      Art. 5 of Circular 105/2020/TT-BTC; the weights and formula are from its
      Appendix 1 as transcribed by vn-ident (which cites it) and by python-stdnum
      (``vn.mst``), and both reject the zero remainder. Some other public code
      maps it to 0 instead; we reject, as a code that cannot be issued.
    * ``N11N12N13`` is the branch suffix, 001 to 999, written after a hyphen. We
      accept it with or without the hyphen.

    Since 2025 individuals and household businesses use their 12-digit personal
    ID as tax code (Circular 86/2024/TT-BTC); such a number validates here as
    ``personal_id_12``.

Every failure is a :class:`Reason` with a stable ``code`` (for programs) and a
message in Vietnamese and English (for people). Reason codes::

    format.empty            nothing but whitespace
    format.whitespace       spaces inside the number
    format.non_digit        anything other than the ASCII digits 0-9
    format.hyphen           a hyphen anywhere but before a tax code's branch suffix
    format.length           wrong number of digits for the kind (or no kind fits)
    province.unknown        PPP is not one of the 63 pre-2025 province codes
    century.future          G puts the birth year in a century that has not begun
    birth_year.future       G and YY give a birth year after today
    birth_date.mismatch     YY/G disagree with the given birth date
    gender.mismatch         G disagrees with the given gender
    tax_code.serial         N3..N9 is 0000000
    tax_code.no_check_digit the first nine digits leave remainder 0: never issued
    tax_code.check_digit    N10 is not the computed check digit
    tax_code.branch         the branch suffix is 000

:func:`mask` and :func:`redact` serve log redaction: they keep the last four
digits of a number and replace the others with ``*``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CENTURY_GENDER",
    "PROVINCES",
    "REDACT_PATTERN",
    "TAX_CODE_WEIGHTS",
    "Gender",
    "IdKind",
    "IdValidation",
    "Reason",
    "is_personal_id",
    "mask",
    "redact",
    "tax_code_check_digit",
    "validate",
]

Gender = Literal["male", "female"]


class IdKind(StrEnum):
    """Which kind of identification number a string is read as."""

    PERSONAL_ID_12 = "personal_id_12"
    LEGACY_ID_9 = "legacy_id_9"
    TAX_CODE = "tax_code"


# Birth-registration province codes, Circular 07/2016/TT-BCA (the 63 provinces before
# the 2025 merger). Codes already issued stay valid for life.
PROVINCES: Mapping[str, str] = MappingProxyType(
    {
        "001": "Hà Nội",
        "002": "Hà Giang",
        "004": "Cao Bằng",
        "006": "Bắc Kạn",
        "008": "Tuyên Quang",
        "010": "Lào Cai",
        "011": "Điện Biên",
        "012": "Lai Châu",
        "014": "Sơn La",
        "015": "Yên Bái",
        "017": "Hòa Bình",
        "019": "Thái Nguyên",
        "020": "Lạng Sơn",
        "022": "Quảng Ninh",
        "024": "Bắc Giang",
        "025": "Phú Thọ",
        "026": "Vĩnh Phúc",
        "027": "Bắc Ninh",
        "030": "Hải Dương",
        "031": "Hải Phòng",
        "033": "Hưng Yên",
        "034": "Thái Bình",
        "035": "Hà Nam",
        "036": "Nam Định",
        "037": "Ninh Bình",
        "038": "Thanh Hóa",
        "040": "Nghệ An",
        "042": "Hà Tĩnh",
        "044": "Quảng Bình",
        "045": "Quảng Trị",
        "046": "Thừa Thiên Huế",
        "048": "Đà Nẵng",
        "049": "Quảng Nam",
        "051": "Quảng Ngãi",
        "052": "Bình Định",
        "054": "Phú Yên",
        "056": "Khánh Hòa",
        "058": "Ninh Thuận",
        "060": "Bình Thuận",
        "062": "Kon Tum",
        "064": "Gia Lai",
        "066": "Đắk Lắk",
        "067": "Đắk Nông",
        "068": "Lâm Đồng",
        "070": "Bình Phước",
        "072": "Tây Ninh",
        "074": "Bình Dương",
        "075": "Đồng Nai",
        "077": "Bà Rịa - Vũng Tàu",
        "079": "TP. Hồ Chí Minh",
        "080": "Long An",
        "082": "Tiền Giang",
        "083": "Bến Tre",
        "084": "Trà Vinh",
        "086": "Vĩnh Long",
        "087": "Đồng Tháp",
        "089": "An Giang",
        "091": "Kiên Giang",
        "092": "Cần Thơ",
        "093": "Hậu Giang",
        "094": "Sóc Trăng",
        "095": "Bạc Liêu",
        "096": "Cà Mau",
    }
)
if len(PROVINCES) != 63:  # a transcription slip must fail at import, not in production
    raise RuntimeError(f"expected 63 province codes, found {len(PROVINCES)}")

# G digit -> (century as an ordinal, gender). Century 20 means the 20th century,
# birth years 1900-1999. Digits 0-3 are confirmed by Circular 07/2016/TT-BCA; digits
# 4-9 (22nd-24th centuries) are believed to continue the same pattern and are kept
# here, in one table, so they can be changed if a later rule says otherwise.
CENTURY_GENDER: Mapping[str, tuple[int, Gender]] = MappingProxyType(
    {
        "0": (20, "male"),
        "1": (20, "female"),
        "2": (21, "male"),
        "3": (21, "female"),
        "4": (22, "male"),
        "5": (22, "female"),
        "6": (23, "male"),
        "7": (23, "female"),
        "8": (24, "male"),
        "9": (24, "female"),
    }
)

# Tax code check-digit weights for N1..N9 (Circular 105/2020/TT-BTC, Appendix 1).
TAX_CODE_WEIGHTS: tuple[int, ...] = (31, 29, 23, 19, 17, 13, 7, 5, 3)

# Vietnam has had no daylight saving since 1975, so a fixed offset is exact and needs
# no tz database.
_VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")

_ASCII_DIGITS = re.compile(r"[0-9]+")
_GENDER_VI = {"male": "nam", "female": "nữ"}
_GENDER_EN = {"male": "male", "female": "female"}


class Reason(BaseModel):
    """One failed check: a stable code and a message in Vietnamese and English."""

    model_config = ConfigDict(frozen=True)

    code: str
    message_vi: str
    message_en: str


class IdValidation(BaseModel):
    """The answer for one number: verdict, reasons and what the number says.

    ``normalized`` is the canonical spelling (surrounding whitespace removed; a tax
    branch code as ``NNNNNNNNNN-NNN``) once the format is sound, else ``None``.
    Decoded fields are filled whenever the format is sound, even if a later check
    fails, so a caller can show what the number claims; always look at ``valid``.
    ``century`` is an ordinal: 20 is the 20th century, birth years 1900-1999.
    ``branch`` is a tax code's branch suffix (``"001"``), if any.
    """

    model_config = ConfigDict(frozen=True)

    valid: bool
    kind: IdKind | None
    normalized: str | None = None
    reasons: list[Reason] = []
    province_code: str | None = None
    province_name: str | None = None
    century: int | None = None
    gender: Gender | None = None
    birth_year: int | None = None
    branch: str | None = None

    @property
    def reason_codes(self) -> list[str]:
        """The codes of the failed checks, in the order they were found."""
        return [reason.code for reason in self.reasons]


def validate(
    number: str,
    *,
    birth_date: date | None = None,
    gender: Gender | None = None,
    kind: IdKind | str | None = None,
    today: date | None = None,
) -> IdValidation:
    """Validate an identification number and decode what it carries.

    ``kind`` is inferred from the digit count when omitted (12 personal ID, 9 legacy
    card, 10 or 13 or a hyphen tax code). ``birth_date`` and ``gender`` are checked
    against a personal ID and ignored for the other kinds, which carry neither.
    ``today`` (default: the current date in Vietnam) bounds plausible birth years.
    """
    if gender is not None and gender not in _GENDER_EN:
        raise ValueError(f"gender must be 'male' or 'female', not {gender!r}")
    wanted = IdKind(kind) if kind is not None else None
    if today is None:
        today = datetime.now(_VIETNAM_TZ).date()

    text = number.strip()
    if not text:
        return IdValidation(valid=False, kind=wanted, reasons=[_reason("format.empty")])

    wanted = wanted or _infer_kind(text)
    if wanted is None:
        reasons = _character_reasons(text, hyphen_allowed=True)
        reasons.append(_length_reason(text, "9, 10, 12, 13"))
        return IdValidation(valid=False, kind=None, reasons=reasons)

    if wanted is IdKind.PERSONAL_ID_12:
        return _validate_personal_id(text, birth_date=birth_date, gender=gender, today=today)
    if wanted is IdKind.LEGACY_ID_9:
        return _validate_legacy_id(text)
    return _validate_tax_code(text)


def is_personal_id(number: str) -> bool:
    """True when ``number`` is a valid 12-digit personal ID number (as of today)."""
    return validate(number, kind=IdKind.PERSONAL_ID_12).valid


def tax_code_check_digit(first_nine: str) -> int | None:
    """The tax-code check digit N10 for N1..N9, or None if no digit exists (remainder 0)."""
    if len(first_nine) != 9 or not first_nine.isascii() or not first_nine.isdigit():
        raise ValueError(f"expected nine ASCII digits, got {first_nine!r}")
    remainder = sum(int(d) * w for d, w in zip(first_nine, TAX_CODE_WEIGHTS, strict=True)) % 11
    return None if remainder == 0 else 10 - remainder


def mask(number: str) -> str:
    """Replace every digit but the last four with ``*``; other characters stay."""
    remaining = sum(ch in "0123456789" for ch in number)
    out = []
    for ch in number:
        if ch in "0123456789":
            out.append("*" if remaining > 4 else ch)
            remaining -= 1
        else:
            out.append(ch)
    return "".join(out)


# Whole digit runs only (never part of a longer run): a hyphenated tax branch code,
# then runs of 9, 10, 12 or 13 digits, then any run of 14 or more, since that may be
# an ID glued to other digits and a log line is the wrong place to guess.
REDACT_PATTERN = re.compile(r"(?<![0-9])(?:[0-9]{10}-[0-9]{3}|[0-9]{9,10}|[0-9]{12,})(?![0-9])")


def redact(text: str) -> str:
    """Mask every identification-number-like digit run in free text (for log processors)."""
    return REDACT_PATTERN.sub(lambda match: mask(match.group()), text)


# --- the checks -----------------------------------------------------------------------


_KIND_BY_LENGTH = {
    12: IdKind.PERSONAL_ID_12,
    9: IdKind.LEGACY_ID_9,
    10: IdKind.TAX_CODE,
    13: IdKind.TAX_CODE,
}


def _infer_kind(text: str) -> IdKind | None:
    if "-" in text:
        return IdKind.TAX_CODE  # only a tax code is written with a separator
    # Count everything but whitespace and judge the characters later, so "001 099 12345A"
    # reads as a personal ID with a stray space and a letter, a more useful answer than
    # "unknown kind".
    return _KIND_BY_LENGTH.get(len(re.sub(r"\s", "", text)))


def _length_reason(text: str, expected: str) -> Reason:
    return _reason(
        "format.length", count=len("".join(_ASCII_DIGITS.findall(text))), expected=expected
    )


def _character_reasons(text: str, *, hyphen_allowed: bool) -> list[Reason]:
    reasons = []
    if any(ch.isspace() for ch in text):
        reasons.append(_reason("format.whitespace"))
    stray = sorted({ch for ch in text if not ch.isspace() and ch not in "0123456789-"})
    if stray:
        shown = " ".join(repr(ch) for ch in stray[:5]) + (" …" if len(stray) > 5 else "")
        reasons.append(_reason("format.non_digit", chars=shown))
    if "-" in text and not hyphen_allowed:
        reasons.append(_reason("format.hyphen"))
    return reasons


def _validate_personal_id(
    text: str, *, birth_date: date | None, gender: Gender | None, today: date
) -> IdValidation:
    kind = IdKind.PERSONAL_ID_12
    reasons = _character_reasons(text, hyphen_allowed=False)
    if len(re.sub(r"[\s-]", "", text)) != 12:
        reasons.append(_length_reason(text, "12"))
    if reasons:
        return IdValidation(valid=False, kind=kind, reasons=reasons)

    province_code, g, yy = text[:3], text[3], text[4:6]
    century, id_gender = CENTURY_GENDER[g]
    birth_year = (century - 1) * 100 + int(yy)

    province_name = PROVINCES.get(province_code)
    if province_name is None:
        reasons.append(_reason("province.unknown", code=province_code))
    century_start = (century - 1) * 100
    if century_start > today.year:
        reasons.append(_reason("century.future", digit=g, start=century_start, year=birth_year))
    elif birth_year > today.year:
        reasons.append(_reason("birth_year.future", year=birth_year, today=today.isoformat()))
    if birth_date is not None and birth_date.year != birth_year:
        reasons.append(
            _reason("birth_date.mismatch", year=birth_year, given=birth_date.isoformat())
        )
    if gender is not None and gender != id_gender:
        reasons.append(
            _reason(
                "gender.mismatch",
                digit=g,
                id_vi=_GENDER_VI[id_gender],
                id_en=_GENDER_EN[id_gender],
                given_vi=_GENDER_VI[gender],
                given_en=_GENDER_EN[gender],
            )
        )
    return IdValidation(
        valid=not reasons,
        kind=kind,
        normalized=text,
        reasons=reasons,
        province_code=province_code,
        province_name=province_name,
        century=century,
        gender=id_gender,
        birth_year=birth_year,
    )


def _validate_legacy_id(text: str) -> IdValidation:
    kind = IdKind.LEGACY_ID_9
    reasons = _character_reasons(text, hyphen_allowed=False)
    if len(re.sub(r"[\s-]", "", text)) != 9:
        reasons.append(_length_reason(text, "9"))
    if reasons:
        return IdValidation(valid=False, kind=kind, reasons=reasons)
    return IdValidation(valid=True, kind=kind, normalized=text)


def _validate_tax_code(text: str) -> IdValidation:
    kind = IdKind.TAX_CODE
    reasons = _character_reasons(text, hyphen_allowed=True)
    squeezed = re.sub(r"\s", "", text)
    # The only hyphen the circular writes is the one between N10 and the branch suffix.
    if "-" in squeezed and not re.fullmatch(r"[^-]{10}-[^-]*", squeezed):
        reasons.append(_reason("format.hyphen"))
    compact = squeezed.replace("-", "")
    if len(compact) not in (10, 13):
        reasons.append(_length_reason(text, "10, 13"))
    if reasons:
        return IdValidation(valid=False, kind=kind, reasons=reasons)

    base, branch = compact[:10], compact[10:] or None
    if base[2:9] == "0000000":
        reasons.append(_reason("tax_code.serial"))
    expected = tax_code_check_digit(base[:9])
    if expected is None:
        reasons.append(_reason("tax_code.no_check_digit"))
    elif int(base[9]) != expected:
        reasons.append(_reason("tax_code.check_digit", found=base[9], expected=expected))
    if branch == "000":
        reasons.append(_reason("tax_code.branch"))
    return IdValidation(
        valid=not reasons,
        kind=kind,
        normalized=f"{base}-{branch}" if branch else base,
        reasons=reasons,
        branch=branch,
    )


# --- messages -------------------------------------------------------------------------

_MESSAGES: dict[str, tuple[str, str]] = {
    "format.empty": (
        "Chưa nhập số.",
        "No number was given.",
    ),
    "format.whitespace": (
        "Số không được chứa khoảng trắng ở giữa.",
        "The number must not contain spaces inside it.",
    ),
    "format.non_digit": (
        "Số chỉ được gồm các chữ số 0-9; có ký tự không hợp lệ: {chars}.",
        "The number may contain only the digits 0-9; found {chars}.",
    ),
    "format.hyphen": (
        "Dấu gạch ngang chỉ được dùng giữa 10 số đầu và 3 số đơn vị phụ thuộc của mã số thuế.",
        "A hyphen is allowed only between a tax code's first 10 digits and its 3-digit "
        "branch suffix.",
    ),
    "format.length": (
        "Số có {count} chữ số; độ dài hợp lệ: {expected}.",
        "The number has {count} digits; expected {expected}.",
    ),
    "province.unknown": (
        "Mã tỉnh nơi đăng ký khai sinh {code} không thuộc danh sách 63 tỉnh, thành phố.",
        "Province code {code} is not one of the 63 birth-registration province codes.",
    ),
    "century.future": (
        "Chữ số thế kỷ/giới tính {digit} cho năm sinh {year}, thuộc thế kỷ bắt đầu từ năm "
        "{start} chưa đến.",
        "Century/gender digit {digit} gives birth year {year}, in a century starting in "
        "{start} that has not begun.",
    ),
    "birth_year.future": (
        "Năm sinh {year} theo số định danh là sau ngày hiện tại ({today}).",
        "The birth year {year} encoded in the number is after today ({today}).",
    ),
    "birth_date.mismatch": (
        "Năm sinh theo số định danh là {year}, không khớp với ngày sinh đã khai {given}.",
        "The number encodes birth year {year}, which does not match the birth date {given}.",
    ),
    "gender.mismatch": (
        "Chữ số giới tính {digit} cho biết giới tính {id_vi}, không khớp với giới tính đã "
        "khai ({given_vi}).",
        "Gender digit {digit} says {id_en}, which does not match the given gender ({given_en}).",
    ),
    "tax_code.serial": (
        "Số thứ tự (chữ số thứ 3 đến 9) của mã số thuế không được là 0000000.",
        "The tax code's sequence number (digits 3 to 9) cannot be 0000000.",
    ),
    "tax_code.no_check_digit": (
        "Mã số thuế không hợp lệ: 9 chữ số đầu không có chữ số kiểm tra (số thứ tự này "
        "không được cấp).",
        "Invalid tax code: its first 9 digits have no check digit (this sequence number "
        "is never issued).",
    ),
    "tax_code.check_digit": (
        "Chữ số kiểm tra của mã số thuế là {found}, đúng ra phải là {expected}.",
        "The tax code's check digit is {found}; it should be {expected}.",
    ),
    "tax_code.branch": (
        "Mã đơn vị phụ thuộc phải từ 001 đến 999, không được là 000.",
        "The branch suffix must be 001 to 999, not 000.",
    ),
}


def _reason(code: str, /, **params: object) -> Reason:
    vi, en = _MESSAGES[code]
    return Reason(code=code, message_vi=vi.format(**params), message_en=en.format(**params))
