"""HTTP entry points for reconciliation (operators)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter

from motcua.auth import AgencyForbidden, NotAllowed, Principal, require
from motcua.errors import problems
from motcua.service import RuntimeDep, SessionDep
from motcua_payments import access
from motcua_payments.context import ContextDep
from motcua_payments.errors import (
    GATEWAY_PROBLEMS,
    ReconciliationInProgress,
    ReconciliationNotFound,
    gateway_problem,
)
from motcua_payments.gateway.adapter import GatewayError
from motcua_payments.reconciliation import service
from motcua_payments.schemas import (
    EarlyReconciliation,
    ReconciliationItemRead,
    ReconciliationRead,
    StatementReconciliation,
)

router = APIRouter(prefix="/v1/reconciliations", tags=["reconciliation"])

#: Reconciliation is province-wide (one statement per partner code, every agency's
#: payments): services with ``payments.reconcile``, or an auditor / agency admin of an
#: oversight agency (checked in each route with :func:`access.ensure_oversees`).
Reconciler = Annotated[Principal, require(kind=["officer", "service"], roles=access.AUDIT_ROLES,
                                          scopes=[access.RECONCILE])]
_DENIED = (NotAllowed, AgencyForbidden)


@router.post("/early", operation_id="reconcileEarly", responses=problems(*_DENIED))
async def reconcile_early(body: EarlyReconciliation, rt: RuntimeDep, ctx: ContextDep,
                          who: Reconciler) -> dict[str, int]:
    """QUERY pending online payments now (the loop does it every few minutes); counts
    by outcome. ``deferred``: left for a later pass because the gateway's guard refused a
    QUERY (paused or busy; nothing was sent); ``discarded``: payments written but never
    confirmed (payments stopped while their INIT was on its way), removed after
    ``payment_init_grace_s``. Province-wide: services with
    ``payments.reconcile``, oversight auditors and admins."""
    access.ensure_oversees(who, ctx)
    return await service.early_pass(rt.sessions, ctx, older_than_s=body.older_than_s)


@router.post("/statements", operation_id="reconcileStatement",
             responses=problems(ReconciliationInProgress, *GATEWAY_PROBLEMS,
                                *_DENIED))
async def reconcile_statement(body: StatementReconciliation, rt: RuntimeDep, ctx: ContextDep,
                              session: SessionDep, who: Reconciler) -> ReconciliationRead:
    """Reconcile a business day's statement now (``rerun`` redoes a completed day).
    Province-wide: services with ``payments.reconcile``, oversight auditors and admins."""
    access.ensure_oversees(who, ctx)
    try:
        await service.run_statement(rt.sessions, ctx, body.date, rerun=body.rerun)
    except GatewayError as exc:
        raise gateway_problem(exc) from exc
    return await _read(session, ctx, body.date)


@router.get("/statements/{day}", operation_id="getStatementReconciliation",
            responses=problems(ReconciliationNotFound, *_DENIED))
async def get_statement_reconciliation(day: date, session: SessionDep, ctx: ContextDep,
                                       who: Reconciler) -> ReconciliationRead:
    """A day's report: matched, missing on our side, missing on theirs, mismatched.
    Province-wide: services with ``payments.reconcile``, oversight auditors and admins."""
    access.ensure_oversees(who, ctx)
    return await _read(session, ctx, day)


async def _read(session: SessionDep, ctx: ContextDep, day: date) -> ReconciliationRead:
    run, items = await service.get_run(session, ctx, day)
    report = ReconciliationRead.model_validate(run)
    report.items = [ReconciliationItemRead.model_validate(i) for i in items]
    return report
