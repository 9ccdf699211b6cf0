"""Cursor pagination shared by every service's lists (the convention in docs/intake.md).

A list takes ``limit`` (1–200) and an opaque ``cursor`` and answers
``{"items": [...], "next_cursor": "..." | null}``. The cursor carries the last row's sort
key and its unique tie-breaker, so the next page is a keyset query (``WHERE (key, id) >
(:key, :id)``): stable while rows are inserted, and as fast on page 1,000 as on page 1.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BeforeValidator
from sqlalchemy import ColumnElement, and_, or_

from motcua.errors import FieldError, Unprocessable

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

#: The largest value of an INTEGER column on PostgreSQL (int4; SQLite's are 64-bit): the
#: bound of every integer a client sends that reaches a query (a version, an offset), so
#: a larger one is refused with 422 instead of failing in the driver (500).
DB_INT_MAX = 2_147_483_647

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (1–200)")]
OffsetQuery = Annotated[int, Query(ge=0, le=DB_INT_MAX, description="Rows to skip")]
CursorQuery = Annotated[str | None, Query(max_length=500,
                                          description="`next_cursor` of the previous page")]


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _iso_only(value: Any) -> Any:
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        # Pydantic reads a number as Unix time; the API documents ISO 8601 only.
        raise ValueError("an ISO 8601 date-time is expected, not a number")
    return value


#: Annotates a date-time query parameter: ISO 8601 only (``?since=1e9`` is refused, where
#: pydantic alone would read Unix time).
ISO_8601 = BeforeValidator(_iso_only)


class CursorInvalid(Unprocessable):
    code = "pagination.cursor_invalid"
    title = "The cursor is not one this list issued"


def encode_cursor(*values: Any) -> str:
    """An opaque cursor for the given key values."""
    plain = [v.isoformat() if isinstance(v, date | datetime) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """The key values of a cursor, or CursorInvalid."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError):
        values = None
    if not isinstance(values, list) or len(values) != size:
        raise CursorInvalid(errors=[FieldError(field="query.cursor", code="cursor.invalid",
                                               message="not a cursor of this list")])
    return values


def parse_instant(value: Any) -> datetime | None:
    """A cursor value back to an aware datetime (None stays None)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise CursorInvalid(errors=[FieldError(field="query.cursor", code="cursor.invalid",
                                               message="not a cursor of this list")]) from None
    if parsed.tzinfo is None:
        raise CursorInvalid(errors=[FieldError(field="query.cursor", code="cursor.invalid",
                                               message="not a cursor of this list")])
    return parsed


def after(key: ColumnElement[Any], tie: ColumnElement[Any], key_value: Any, tie_value: Any,
          *, descending: bool = False) -> ColumnElement[bool]:
    """Rows after (key_value, tie_value) in (key, tie) order, both in one direction."""
    if descending:
        return or_(key < key_value, and_(key == key_value, tie < tie_value))
    return or_(key > key_value, and_(key == key_value, tie > tie_value))
