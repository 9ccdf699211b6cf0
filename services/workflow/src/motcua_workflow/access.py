"""Who may call workflow's endpoints (docs/security.md; the table is in docs/workflow.md).

Cases: an officer sees a case when one of their agencies is *involved* in it — the
receiving agency, the agency holding it now, or either end of any of its transfer legs —
whatever their role there; a mesh service with ``cases.read`` sees every case. Acting
on a case needs the role its current step demands, in the agency holding it. The owner
citizen may read the deadline of their own case (``owner_ref``); any other citizen is
answered as if the case did not exist.
"""

from __future__ import annotations

from typing import Annotated

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.auth import (
    AgencyForbidden,
    NotAllowed,
    Principal,
    TokenExpired,
    TokenInvalid,
    TokenMissing,
    require,
)
from motcua.errors import Problem
from motcua_workflow.actors import Actor
from motcua_workflow.cases.models import Case, TransferLeg

#: Roles that may change a case or a task (an auditor only reads).
ACTING_ROLES = ("receptionist", "processor", "approver", "agency_admin")
#: Scopes of mesh services.
CASES_READ = "cases.read"
DEFINITIONS_READ = "definitions.read"
DEFINITIONS_WRITE = "definitions.write"

#: What a protected route may answer about its caller (for ``problems(...)``).
DENIED: tuple[type[Problem], ...] = (TokenMissing, TokenInvalid, TokenExpired, NotAllowed,
                                     AgencyForbidden)
#: Officers (their agencies' cases) and services allowed to read every case.
CaseReader = Annotated[Principal, require(kind=["officer", "service"], scopes=[CASES_READ])]
#: The above, and citizens for their own case's deadline.
DeadlineReader = Annotated[Principal, require(scopes=[CASES_READ])]
#: Officers only: the acting person is the token's subject.
Officer = Annotated[Principal, require(kind="officer", roles=ACTING_ROLES)]


async def involved_agencies(session: AsyncSession, case: Case) -> set[str]:
    """The agencies a case involves: receiving, holding, and both ends of every leg."""
    legs = (await session.execute(select(TransferLeg.from_agency_code,
                                         TransferLeg.to_agency_code)
                                  .where(TransferLeg.case_id == case.id))).all()
    agencies = {case.agency_code, *(a for leg in legs for a in leg)}
    if case.current_agency_code:
        agencies.add(case.current_agency_code)
    return agencies


async def ensure_case_visible(session: AsyncSession, who: Principal, case: Case) -> None:
    """403 ``auth.agency_forbidden`` unless the caller may see the case.

    Only for officers and services (a citizen's ownership is checked where citizens are
    admitted, and answered 404).
    """
    if who.kind == "service":
        return
    if who.kind != "officer" or not (await involved_agencies(session, case) & who.agencies):
        raise AgencyForbidden(f"{case.dossier_code} involves none of your agencies")


def involving(agencies: frozenset[str] | set[str]) -> ColumnElement[bool]:
    """SQL: cases involving any of ``agencies`` (same rule as :func:`involved_agencies`)."""
    legs = exists().where(TransferLeg.case_id == Case.id,
                          or_(TransferLeg.from_agency_code.in_(agencies),
                              TransferLeg.to_agency_code.in_(agencies)))
    return or_(Case.agency_code.in_(agencies), Case.current_agency_code.in_(agencies), legs)


def acting(who: Principal, agency_code: str, *roles: str) -> Actor:
    """The officer acting for ``agency_code`` in the first of ``roles`` they hold there.

    Call after :meth:`Principal.ensure_agency` checked they hold one of them.
    """
    held = who.memberships.get(agency_code, frozenset())
    role = next((r for r in roles if r in held), roles[0] if roles else "officer")
    return Actor(id=who.subject, role=role, agency_code=agency_code)
