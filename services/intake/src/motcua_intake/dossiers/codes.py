"""Dossier codes (mã hồ sơ), pure functions.

* Local format, Circular 01/2018 Art. 19 (kept by later rules):
  ``<agency code>-YYMMDD-XXXX``, the agency code in QCVN 102 order (right to left, e.g.
  ``000.00.17.H56``), YYMMDD the business day in Asia/Ho_Chi_Minh, XXXX the agency's
  sequence that day, at least four digits.
* Centralised format, Circular 04/2025 (national centralised systems):
  ``MX1X2.Y1Y2Y3.Z1Z2-YYMMDD-AAXXXX``: the agency code written left to right, AA the
  two digits of the system owner, XXXX at least four digits.

The agency that numbers a dossier is its reception point (the desk that received it)
or, for online dossiers, the competent agency.
"""

from __future__ import annotations

import re
from datetime import datetime

from motcua.calendar import TIMEZONE

_LEVEL_ONE = re.compile(r"^[A-Z][0-9A-Z]{1,9}$")  # H56, G01 (test provinces run longer)


def business_day(at: datetime) -> str:
    """YYMMDD of the business day (Asia/Ho_Chi_Minh) of an aware instant."""
    return f"{at.astimezone(TIMEZONE):%y%m%d}"


def left_to_right(agency_code: str) -> str:
    """The agency code with its level-1 group first (``000.00.17.H56`` → ``H56.17.00.000``).

    A code already written left to right (level-1 group first) is returned as is.
    """
    groups = agency_code.split(".")
    if len(groups) > 1 and _LEVEL_ONE.match(groups[-1]) and not _LEVEL_ONE.match(groups[0]):
        return ".".join(reversed(groups))
    return agency_code


def local_code(agency_code: str, at: datetime, sequence: int) -> str:
    """``<agency code>-YYMMDD-XXXX``."""
    return f"{agency_code}-{business_day(at)}-{sequence:04d}"


def centralised_code(agency_code: str, at: datetime, sequence: int, owner: str) -> str:
    """``<agency left to right>-YYMMDD-AAXXXX``."""
    if not re.fullmatch(r"\d{2}", owner):
        raise ValueError(f"the system owner code is two digits, not {owner!r}")
    return f"{left_to_right(agency_code)}-{business_day(at)}-{owner}{sequence:04d}"


def dossier_code(agency_code: str, at: datetime, sequence: int, *, fmt: str = "local",
                 owner: str = "01") -> str:
    """A dossier code in the configured format."""
    if sequence < 1:
        raise ValueError("sequences start at 1")
    if fmt == "centralised":
        return centralised_code(agency_code, at, sequence, owner)
    return local_code(agency_code, at, sequence)
