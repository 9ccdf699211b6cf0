"""Events published by identity-bridge (service token ``identity``).

Subjects ``motcua.<province>.identity.<aggregate>.<event>``; aggregates ``account``,
``document`` and ``population`` (one lookup). Payloads carry ids and facts, never a
personal ID number: a consumer that needs the person asks identity-bridge.

Within version 1 changes are additive only.
"""

from datetime import date, datetime
from typing import Literal

from motcua.events import EventData


class IdentityLinkedV1(EventData):
    """A provider's subject was linked to an account, or its assurance level changed.

    Counts toward "accounts verified with VNeID" (TaiKhoanDuocXacThucVoiVNeID).
    """

    service = "identity"
    aggregate = "account"
    event = "linked"

    account_id: str
    kind: Literal["citizen", "officer"]
    #: The OpenID provider's issuer.
    provider: str
    #: 1 or 2 (VNeID LoA1/LoA2) for citizens; None for staff.
    assurance_level: int | None = None
    previous_assurance_level: int | None = None
    #: True when this subject was newly linked (False: a level change on an existing link).
    new_link: bool = True
    #: Whether the sign-in matched the population database.
    population_verified: bool = False
    linked_at: datetime


class _DocumentEvent(EventData):
    service = "identity"
    aggregate = "document"

    document_id: str
    document_type: str
    issuing_agency: str


class DocumentStoredV1(_DocumentEvent):
    """A document or result was stored in the citizen data store (kho dữ liệu)."""

    event = "stored"
    source: Literal["result", "digitised", "national_store"]
    procedure_code: str | None = None
    dossier_code: str | None = None
    content_sha256: str
    valid_until: date | None = None
    stored_at: datetime


class DocumentReusedV1(_DocumentEvent):
    """A stored document was attached to a dossier instead of an upload.

    ``reused`` and ``from_national_store`` are the dossier component's national flags
    ``DuocTaiSuDung`` and ``DuocLayTuKhoDMQG``.
    """

    event = "reused"
    reuse_id: str
    dossier_code: str
    component_code: str
    procedure_code: str | None = None
    reused: bool = True
    from_national_store: bool = True
    reused_at: datetime


class PopulationLookedUpV1(EventData):
    """The population database was consulted (counts "dossiers using population data")."""

    service = "identity"
    aggregate = "population"
    event = "looked_up"

    lookup_id: str
    purpose: str
    dossier_code: str | None = None
    actor_kind: Literal["citizen", "officer", "service"]
    found: bool
    looked_up_at: datetime
