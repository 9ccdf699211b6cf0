"""Who may see and act on payments' records (docs/payments.md, "Who may call what").

The routes declare their callers with :func:`motcua.auth.require` (kind, roles in any
agency, service scopes); the checks here then apply the shared rules of
docs/security.md to the record at hand:

- a citizen sees only the records of a dossier they own (its assessment's ``owner_ref``
  is theirs); another dossier answers the same 404 as an unknown one;
- an officer sees only the records of their agencies, and acts with one of the roles
  the route names *in that agency* (403 ``auth.agency_forbidden`` otherwise);
- a service is admitted by scope (already checked by ``require``).

Province-wide views (statement reconciliation, the whole ledger, every gateway
callback) belong to services with ``payments.reconcile`` and to the auditors and agency
admins of the oversight agencies (``MOTCUA_PAYMENTS_OVERSIGHT_AGENCIES``); other auditors
and agency admins see the part that concerns their agencies, where a view can be split.

Access checks read columns, never ORM objects, so a use case that later locks the row
(``SELECT … FOR UPDATE``) reads it fresh rather than from the session's identity map.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.auth import AgencyForbidden, Principal
from motcua.errors import Problem
from motcua_payments.context import PaymentsContext
from motcua_payments.fees.models import Assessment

#: Scope of services that read assessments, payments, receipts and refunds.
READ = "payments.read"
#: Scope of services that reconcile, check the ledger and audit gateway callbacks.
RECONCILE = "payments.reconcile"
#: Officer roles that audit payments (reconciliation, ledger, gateway callbacks).
AUDIT_ROLES = ("auditor", "agency_admin")


@dataclass(frozen=True)
class Dossier:
    """What access control needs to know of a dossier: its agency and its owner."""

    code: str
    agency_code: str
    owner_ref: str | None


async def dossier(session: AsyncSession, dossier_code: str) -> Dossier | None:
    """The dossier as payments knows it (from its assessment), or None if unknown."""
    row = (await session.execute(select(Assessment.agency_code, Assessment.owner_ref).where(
        Assessment.dossier_code == dossier_code))).first()
    return None if row is None else Dossier(dossier_code, row.agency_code, row.owner_ref)


async def dossier_of(session: AsyncSession, model: Any, *where: Any) -> Dossier | None:
    """The dossier of one payment, receipt or refund (``model`` rows matching ``where``),
    with the record's own agency (for a receipt: the issuing agency); None if no row."""
    row = (await session.execute(
        select(model.dossier_code, model.agency_code, Assessment.owner_ref)
        .outerjoin(Assessment, Assessment.dossier_code == model.dossier_code)
        .where(*where))).first()
    return None if row is None else Dossier(row.dossier_code, row.agency_code, row.owner_ref)


def owns(who: Principal, ctx: PaymentsContext, found: Dossier | None) -> bool:
    """Whether ``who`` is the citizen who owns the dossier."""
    return found is not None and who.owns(found.owner_ref, ctx.settings.resolved_owner_ref_key())


def ensure(who: Principal, ctx: PaymentsContext, found: Dossier | None, *,
           hidden: Callable[[], Problem], roles: tuple[str, ...] = ()) -> Dossier:
    """Let ``who`` at a record of the dossier ``found`` (None: unknown), or raise.

    Unknown record, or a citizen who does not own its dossier: ``hidden()`` (the record's
    404, one answer for both). Officer: a member of the record's agency, with one of
    ``roles`` there when given, else 403 ``auth.agency_forbidden``. Service: yes.
    """
    if found is None or (who.kind == "citizen" and not owns(who, ctx, found)):
        raise hidden()
    if who.kind == "officer":
        who.ensure_agency(found.agency_code, *roles)
    return found


def may_list(who: Principal, ctx: PaymentsContext, found: Dossier | None) -> bool:
    """Whether a list of the dossier's records is shown to ``who``.

    False (an empty list, the answer for an unknown dossier) for an unknown dossier or a
    citizen who does not own it; an officer of another agency gets 403.
    """
    if found is None or (who.kind == "citizen" and not owns(who, ctx, found)):
        return False
    if who.kind == "officer":
        who.ensure_agency(found.agency_code)
    return True


def oversees(who: Principal, ctx: PaymentsContext) -> bool:
    """Whether ``who`` may see payments province-wide: a service (admitted by scope) or
    an auditor / agency admin of an oversight agency."""
    return who.kind == "service" or any(
        who.has_role(*AUDIT_ROLES, agency=code) for code in ctx.settings.oversight_agencies)


def ensure_oversees(who: Principal, ctx: PaymentsContext) -> None:
    """403 ``auth.agency_forbidden`` unless ``who`` may see payments province-wide."""
    if not oversees(who, ctx):
        raise AgencyForbidden("province-wide: requires the role auditor or agency_admin in "
                              "an oversight agency")


def audited_agencies(who: Principal, ctx: PaymentsContext,
                     agency_code: str | None = None) -> frozenset[str] | None:
    """The agencies whose records an audit view shows ``who``; None for all of them.

    Province-wide callers see everything (or the one ``agency_code`` asked for); other
    officers see the agencies where they hold an audit role, and asking for an agency
    where they do not answers 403 ``auth.agency_forbidden``.
    """
    if oversees(who, ctx):
        return None if agency_code is None else frozenset({agency_code})
    if agency_code is not None:
        who.ensure_agency(agency_code, *AUDIT_ROLES)
        return frozenset({agency_code})
    return frozenset(code for code, roles in who.memberships.items()
                     if roles & set(AUDIT_ROLES))
