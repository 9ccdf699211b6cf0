"""HTTP entry point for the ledger integrity check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from motcua.auth import AgencyForbidden, NotAllowed, Principal, require
from motcua.errors import problems
from motcua.service import SessionDep
from motcua_payments import access
from motcua_payments.context import ContextDep
from motcua_payments.ledger import service

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])


@router.get("/check", operation_id="checkLedger",
            responses=problems(NotAllowed, AgencyForbidden))
async def check_ledger(
    session: SessionDep, ctx: ContextDep,
    who: Annotated[Principal, require(kind=["officer", "service"], roles=access.AUDIT_ROLES,
                                      scopes=[access.RECONCILE])],
    dossier_code: Annotated[str | None, Query(min_length=1, max_length=60)] = None,
    agency_code: Annotated[str | None, Query(min_length=1, max_length=35)] = None,
) -> dict[str, Any]:
    """For every dossier (or one, or one agency's): settled = assessed − refunds, one
    receipt per settlement, totals consistent. ``ok`` is false and ``violations`` lists
    the dossiers otherwise.

    Services with ``payments.reconcile`` and the oversight agencies' auditors and agency
    admins check every agency; other auditors and agency admins check their own agencies
    (one dossier or ``agency_code`` of another agency is 403).
    """
    agencies = access.audited_agencies(who, ctx, agency_code)
    if dossier_code is not None and agencies is not None:
        found = await access.dossier(session, dossier_code)
        if found is not None and found.agency_code not in agencies:
            who.ensure_agency(found.agency_code, *access.AUDIT_ROLES)
    return (await service.check(session, dossier_code, agencies=agencies)).as_dict()
