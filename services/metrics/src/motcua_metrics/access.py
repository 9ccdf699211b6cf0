"""Who may read dossier-level data in metrics (docs/metrics.md, "Access").

Published figures (the index, ranking, configuration, statistics, the dashboard page)
are public: they carry aggregates only. Dossier-level data — the drill-down rows, the
drill-down sheet of the XLSX export and the national sync records — is read by:

* **officers** holding ``auditor``, ``agency_admin`` or ``approver`` in an agency, for
  that agency's dossiers and catalog entries only (a province or commune is narrowed to
  those agencies; another agency answers 403 ``auth.agency_forbidden``);
* **services** granted ``metrics.read``.
"""

from __future__ import annotations

from typing import Annotated

from motcua.auth import AgencyForbidden, NotAllowed, Principal, TokenMissing, require
from motcua_metrics.index.periods import Unit

#: Officer roles that may see dossier-level figures of their agencies.
READER_ROLES = ("auditor", "agency_admin", "approver")
#: Scope a mesh service needs for dossier-level figures.
READ_SCOPE = "metrics.read"
#: Problems a protected read may answer (for OpenAPI).
AUTH_PROBLEMS = (TokenMissing, NotAllowed, AgencyForbidden)

Reader = Annotated[Principal, require(kind=("officer", "service"), roles=READER_ROLES,
                                      scopes=[READ_SCOPE])]


def is_reader(who: Principal | None) -> bool:
    """Whether ``who`` may read dossier-level figures of at least some agency."""
    if who is None:
        return False
    if who.kind == "service":
        return who.has_scopes(READ_SCOPE)
    return who.has_role(*READER_ROLES)


def reader_agencies(who: Principal) -> frozenset[str] | None:
    """Agencies whose dossiers ``who`` may read (None: every agency, for a service)."""
    if who.kind == "service":
        return None
    return frozenset(code for code, roles in who.memberships.items()
                     if roles & set(READER_ROLES))


def rows_scope(who: Principal, unit: Unit) -> frozenset[str] | None:
    """The agencies a reader's rows of ``unit`` are narrowed to (None: not narrowed).

    An agency unit must be one of the reader's agencies (AgencyForbidden otherwise); a
    province or commune is narrowed to the reader's agencies.
    """
    agencies = reader_agencies(who)
    if agencies is None:
        return None
    if unit.kind == "agency":
        who.ensure_agency(unit.code, *READER_ROLES)
        return None
    return agencies


def optional_rows_scope(who: Principal | None,
                        unit: Unit) -> tuple[bool, frozenset[str] | None]:
    """For public pages: (may show rows, narrowed to) — never raises."""
    if not is_reader(who):
        return False, None
    assert who is not None
    try:
        return True, rows_scope(who, unit)
    except AgencyForbidden:
        return False, None


def ensure_dossier(who: Principal, agency_code: str) -> None:
    """403 ``auth.agency_forbidden`` unless ``who`` may read that agency's dossiers."""
    who.ensure_agency(agency_code, *READER_ROLES)
