"""Validation of identification numbers (personal ID, legacy ID, tax code)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from motcua import idnumbers
from motcua.auth import PUBLIC

router = APIRouter(prefix="/v1/id-numbers", tags=["id-numbers"])


class IdNumberValidate(BaseModel):
    """A number to validate, with optional facts to check it against."""

    model_config = ConfigDict(extra="forbid")
    number: str = Field(max_length=32)
    birth_date: date | None = None
    gender: Literal["male", "female"] | None = None


@router.post("/validate", operation_id="validateIdNumber", dependencies=[PUBLIC])
async def validate_id_number(body: IdNumberValidate) -> idnumbers.IdValidation:
    """Validate and decode a 12-digit personal ID, a 9-digit legacy ID or a tax code.

    Public (no personal data is stored or logged; the number is not echoed in logs).
    """
    return idnumbers.validate(body.number, birth_date=body.birth_date, gender=body.gender)
