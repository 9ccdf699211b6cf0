"""HTTP entry point for the ledger integrity check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from motcua.service import SessionDep
from motcua_payments.ledger import service

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])


@router.get("/check", operation_id="checkLedger")
async def check_ledger(session: SessionDep, dossier_code: str | None = None) -> dict[str, Any]:
    """For every dossier (or one): settled = assessed − refunds, one receipt per settlement,
    totals consistent. ``ok`` is false and ``violations`` lists the dossiers otherwise."""
    return (await service.check(session, dossier_code)).as_dict()
