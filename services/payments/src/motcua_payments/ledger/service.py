"""Ledger integrity: what each dossier paid, recomputed from the rows, against what it owes.

For every dossier, with ``due = assessed − released`` (a withdrawn or refused dossier
owes nothing) and ``net = settled payments − completed refunds``:

- ``net − pending refunds == due`` once the assessment is settled or released,
  ``net ≤ due`` while it is still due (the difference is outstanding, not an error);
- refunds never exceed payments;
- every settled payment and every completed refund has exactly one issued receipt;
- the running totals kept on the assessment equal the sums of the rows.

Put the brief's way: settled = assessed − refunds, per dossier.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua_payments.fees.models import DUE, Assessment
from motcua_payments.payments.models import SETTLED, Payment
from motcua_payments.receipts.models import ISSUED, Receipt
from motcua_payments.refunds.models import COMPLETED, PENDING, Refund


@dataclass
class DossierLedger:
    """One dossier's figures and what is wrong with them."""

    dossier_code: str
    status: str
    assessed_vnd: int
    released_vnd: int
    settled_vnd: int
    refunded_vnd: int
    pending_refunds_vnd: int
    outstanding_vnd: int
    violations: list[str] = field(default_factory=list)


@dataclass
class LedgerReport:
    """The check over many dossiers."""

    checked: int
    ok: bool
    violations: list[DossierLedger]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"checked": self.checked, "ok": self.ok,
                "violations": [asdict(v) for v in self.violations]}


async def _sums(session: AsyncSession, column: Any, key: Any, *where: Any) -> dict[str, int]:
    rows = await session.execute(select(key, func.sum(column)).where(*where).group_by(key))
    return {k: int(v or 0) for k, v in rows.all()}


async def check(session: AsyncSession, dossier_code: str | None = None, *,
                agencies: Collection[str] | None = None) -> LedgerReport:
    """Check every dossier (or one; or those of ``agencies``)."""
    stmt = select(Assessment).order_by(Assessment.dossier_code)
    if dossier_code:
        stmt = stmt.where(Assessment.dossier_code == dossier_code)
    if agencies is not None:
        stmt = stmt.where(Assessment.agency_code.in_(sorted(agencies)))
    assessments = (await session.scalars(stmt)).all()
    settled = await _sums(session, Payment.amount_vnd, Payment.assessment_id,
                          Payment.status == SETTLED)
    refunded = await _sums(session, Refund.amount_vnd, Refund.assessment_id,
                           Refund.status == COMPLETED)
    pending = await _sums(session, Refund.amount_vnd, Refund.assessment_id,
                          Refund.status == PENDING)
    receipts_per_payment = dict((await session.execute(
        select(Receipt.payment_id, func.count()).where(
            Receipt.status == ISSUED, Receipt.payment_id.is_not(None))
        .group_by(Receipt.payment_id))).all())
    receipts_per_refund = dict((await session.execute(
        select(Receipt.refund_id, func.count()).where(
            Receipt.status == ISSUED, Receipt.refund_id.is_not(None))
        .group_by(Receipt.refund_id))).all())
    settled_payments: dict[str, list[str]] = {}
    for assessment_id, payment_id in (await session.execute(select(
            Payment.assessment_id, Payment.id).where(Payment.status == SETTLED))).all():
        settled_payments.setdefault(assessment_id, []).append(payment_id)
    completed_refunds: dict[str, list[str]] = {}
    for assessment_id, refund_id in (await session.execute(select(
            Refund.assessment_id, Refund.id).where(Refund.status == COMPLETED))).all():
        completed_refunds.setdefault(assessment_id, []).append(refund_id)

    bad: list[DossierLedger] = []
    for a in assessments:
        paid, back, owed = settled.get(a.id, 0), refunded.get(a.id, 0), pending.get(a.id, 0)
        due = a.payable_vnd - a.released_vnd
        net = paid - back
        entry = DossierLedger(a.dossier_code, a.status, a.payable_vnd, a.released_vnd, paid,
                              back, owed, max(0, due - net) if a.status == DUE else 0)
        if a.status == DUE:
            if net - owed > due:
                entry.violations.append("ledger.overcollected")
        elif net - owed != due:
            entry.violations.append("ledger.overcollected" if net - owed > due
                                    else "ledger.undercollected")
        if back > paid:
            entry.violations.append("ledger.refunds_exceed_payments")
        if any(receipts_per_payment.get(p, 0) != 1 for p in settled_payments.get(a.id, [])):
            entry.violations.append("ledger.payment_receipt_count")
        if any(receipts_per_refund.get(r, 0) != 1 for r in completed_refunds.get(a.id, [])):
            entry.violations.append("ledger.refund_receipt_count")
        if a.settled_vnd != paid or a.refunded_vnd != back:
            entry.violations.append("ledger.totals_drift")
        if entry.violations:
            bad.append(entry)
    return LedgerReport(checked=len(assessments), ok=not bad, violations=bad)
