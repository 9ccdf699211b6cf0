"""Who may call what (docs/intake.md, "Who may call what"; docs/security.md for the rules
every service shares).

The route annotations below admit the kinds of caller an endpoint serves (with their role
or scope); the ``ensure_*`` functions then check the record itself: the agency an officer
acts in, the citizen who owns a dossier. A citizen asking for a dossier that is not
theirs gets the same 404 as for a code that does not exist; an officer of another
agency gets 403 ``auth.agency_forbidden``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from motcua import idnumbers
from motcua.auth import AgencyForbidden, NotAllowed, Principal, owner_ref, require
from motcua_intake.dossiers.errors import (
    ApplicantNotCaller,
    ChannelNotAllowed,
    DossierNotFound,
)

#: Catalog writes: an agency_admin (checked in the procedure's agencies) or a service.
CatalogAdmin = Annotated[Principal, require(kind=["officer", "service"], roles=["agency_admin"],
                                            scopes=["catalog.write"])]
#: Submission: a citizen (online), a receptionist (desk, post) or a service.
Submitter = Annotated[Principal, require(roles=["receptionist"], scopes=["dossiers.submit"])]
#: Dossier reads: the owner citizen, officers of the dossier's agency, services.
DossierReader = Annotated[Principal, require(scopes=["dossiers.read"])]
#: Desk decisions (reception, refusal).
Receptionist = Annotated[Principal, require(kind="officer", roles=["receptionist"])]
#: Supplements and withdrawal: the owner citizen or a receptionist of the agency.
ApplicantOrReceptionist = Annotated[Principal, require(kind=["citizen", "officer"],
                                                       roles=["receptionist"])]
#: Rating: the owner citizen.
Applicant = Annotated[Principal, require(kind="citizen")]
#: Attachments: citizens and officers upload and read files.
FileUser = Annotated[Principal, require(kind=["citizen", "officer"])]


# Catalog


def ensure_catalog_admin(who: Principal, agencies: Iterable[str | None]) -> None:
    """Officers must be agency_admin in every one of ``agencies`` (services pass).

    A catalog entry that names no agency belongs to nobody an officer speaks for, so
    only a service (scope ``catalog.write``) writes it.
    """
    if who.kind != "officer":
        return
    codes = sorted({a for a in agencies if a})
    if not codes:
        raise AgencyForbidden("an entry that names no competent agency is written by a "
                              "service with scope catalog.write")
    for code in codes:
        who.ensure_agency(code, "agency_admin")


def ensure_agency_registrar(who: Principal, parent_code: str | None,
                            replaced: Iterable[Any]) -> None:
    """Registering an agency: agency_admin of its parent (services pass).

    A top-level agency (no parent) is registered by a service only. Each agency it
    replaces must be one the officer administers, itself or through its parent.
    """
    if who.kind != "officer":
        return
    if parent_code is None:
        raise NotAllowed("a top-level agency is registered by a service with scope "
                         "catalog.write; name its parent_code")
    who.ensure_agency(parent_code, "agency_admin")
    for old in replaced:
        if not (who.has_role("agency_admin", agency=old.code)
                or (old.parent_code and who.has_role("agency_admin", agency=old.parent_code))):
            raise AgencyForbidden(f"requires the role agency_admin for {old.code} or its "
                                  "parent to replace it")


# Dossiers


def dossier_agencies(dossier: Any) -> list[str]:
    """The agencies a dossier belongs to: the competent one and the desk that received it."""
    return [a for a in (dossier.agency_code, dossier.reception_point) if a]


def is_owner(who: Principal, dossier: Any) -> bool:
    """Whether ``who`` is the citizen the dossier belongs to (applicant or representative)."""
    return who.is_person(dossier.applicant_id_number) or \
        who.is_person(dossier.representative_id_number)


def _in_agency(who: Principal, dossier: Any, *roles: str) -> bool:
    agencies = dossier_agencies(dossier)
    if roles:
        return any(who.has_role(*roles, agency=a) for a in agencies)
    return any(who.can_see_agency(a) for a in agencies)


def _not_found(dossier: Any) -> DossierNotFound:
    # Word for word what an unknown code answers, so codes cannot be probed.
    return DossierNotFound(f"no dossier {dossier.code}")


def ensure_can_read(who: Principal, dossier: Any) -> None:
    """The owner citizen, officers of the dossier's agencies (any role), services."""
    if who.kind == "service":
        return
    if who.kind == "citizen":
        if not is_owner(who, dossier):
            raise _not_found(dossier)
        return
    if not _in_agency(who, dossier):
        raise AgencyForbidden("not a member of this dossier's agency")


def ensure_receptionist(who: Principal, dossier: Any) -> None:
    """A receptionist of the dossier's competent agency or of the desk that received it."""
    if not _in_agency(who, dossier, "receptionist"):
        if _in_agency(who, dossier):
            raise AgencyForbidden("requires the role receptionist in this dossier's agency")
        raise AgencyForbidden("not a member of this dossier's agency")


def ensure_owner_or_receptionist(who: Principal, dossier: Any) -> None:
    """The owner citizen, or a receptionist of the dossier's agency."""
    if who.kind == "citizen":
        ensure_owner(who, dossier)
    else:
        ensure_receptionist(who, dossier)


def ensure_owner(who: Principal, dossier: Any) -> None:
    """The owner citizen (anyone else: the unknown-code 404)."""
    if not is_owner(who, dossier):
        raise _not_found(dossier)


def ensure_may_submit(who: Principal, body: Any) -> None:
    """Who may submit what, before the submission is validated.

    Citizens submit online, for themselves or for an organisation they represent;
    receptionists submit what their desk received (direct, postal); services anything
    but a reception in the same step, which is a receptionist's act.
    """
    if who.kind == "citizen":
        if body.channel != "online":
            raise ChannelNotAllowed("a citizen submits on the online channel",
                                    channel=body.channel, allowed=["online"])
        if body.applicant.kind == "individual":
            normalized = idnumbers.validate(body.applicant.id_number).normalized
            # An invalid number is left to the validation that follows (422).
            if normalized is not None and normalized != who.personal_id:
                raise ApplicantNotCaller("an individual applicant must be the signed-in "
                                         "citizen; submit for someone else at a desk")
    elif who.kind == "officer":
        if body.channel == "online":
            raise ChannelNotAllowed("officers submit what a desk received (direct or "
                                    "postal); online dossiers come from citizens",
                                    channel=body.channel, allowed=["direct", "postal"])
        if body.reception_point is not None:
            who.ensure_agency(body.reception_point, "receptionist")
    elif body.receive_now:
        raise NotAllowed("receiving a dossier is a receptionist's act")


def owner_ref_of(id_number: str | None, key: str) -> str | None:
    """The owner reference of an applicant's 12-digit personal ID (None otherwise)."""
    if id_number is None or len(id_number) != 12 or not id_number.isdigit():
        return None
    return owner_ref(id_number, key)


# Attachments


def uploader_ref(who: Principal, key: str) -> str:
    """Who an upload belongs to: a citizen by their owner reference (the person, whatever
    session or account they sign in with; never the number itself), anyone else by the
    token's subject."""
    if who.kind == "citizen" and who.personal_id is not None:
        return owner_ref(who.personal_id, key)
    return who.subject


def is_uploader(who: Principal, attachment: Any, key: str) -> bool:
    """Whether ``who`` uploaded the attachment."""
    return attachment.uploader_kind == who.kind and \
        attachment.uploaded_by == uploader_ref(who, key)
