"""Request and response bodies of the citizen data store."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from motcua.idnumbers import mask
from motcua_identity.documents.models import DocumentReuse, StoredDocument

AGENCY_CODE = r"^[0-9A-Z.]{1,35}$"
PROCEDURE_CODE = r"^\d\.\d{6}(\.[0-9A-Z.]{1,35})?$"
DOSSIER_CODE = r"^[0-9A-Z.]{1,35}-\d{6}-[0-9A-Z]{4,8}$"


class DocumentStore(BaseModel):
    """Store a digitised document or a result for a citizen."""

    model_config = ConfigDict(extra="forbid")
    owner_personal_id: str = Field(min_length=12, max_length=12)
    document_type: str = Field(min_length=1, max_length=60, examples=["giay_khai_sinh"])
    title: str = Field(min_length=1, max_length=255)
    issuing_agency: str = Field(pattern=AGENCY_CODE)
    procedure_code: str | None = Field(None, pattern=PROCEDURE_CODE)
    dossier_code: str | None = Field(None, pattern=DOSSIER_CODE)
    source: Literal["result", "digitised", "national_store"] = "result"
    content_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_uri: str | None = Field(None, max_length=500)
    media_type: str = Field("application/pdf", max_length=100)
    valid_from: date | None = None
    valid_until: date | None = None

    @model_validator(mode="after")
    def _validity(self) -> DocumentStore:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class DocumentRead(BaseModel):
    """A stored document with its provenance (the owner's number is masked).

    A result filed from workflow's event is known only by owner reference:
    ``owner_personal_id_masked`` is then null, except in an answer about a person
    (``/v1/me/documents``, ``?owner_personal_id=``), where it is that person's number.
    """

    id: str
    owner_personal_id_masked: str | None
    document_type: str
    title: str
    issuing_agency: str
    procedure_code: str | None
    dossier_code: str | None
    source: str
    content_sha256: str
    content_uri: str | None
    media_type: str
    valid_from: date | None
    valid_until: date | None
    stored_at: datetime
    reuse_count: int

    @classmethod
    def of(cls, d: StoredDocument, owner_personal_id: str | None = None) -> DocumentRead:
        """From the ORM object (``owner_personal_id``: the owner, known to the caller)."""
        number = d.owner_personal_id or owner_personal_id
        return cls(id=d.id, owner_personal_id_masked=mask(number) if number else None,
                   document_type=d.document_type, title=d.title,
                   issuing_agency=d.issuing_agency, procedure_code=d.procedure_code,
                   dossier_code=d.dossier_code, source=d.source,
                   content_sha256=d.content_sha256, content_uri=d.content_uri,
                   media_type=d.media_type, valid_from=d.valid_from,
                   valid_until=d.valid_until, stored_at=d.stored_at,
                   reuse_count=d.reuse_count)


class ReuseCreate(BaseModel):
    """Attach a stored document to a dossier's component instead of an upload."""

    model_config = ConfigDict(extra="forbid")
    dossier_code: str = Field(pattern=DOSSIER_CODE)
    component_code: str = Field("main", min_length=1, max_length=60,
                                description="The procedure's document component (thành phần)")
    procedure_code: str | None = Field(None, pattern=PROCEDURE_CODE)


class NationalFlags(BaseModel):
    """The dossier component's flags for the national sync record (TaiLieuNop)."""

    DuocSoHoa: int = 1
    DuocTaiSuDung: int = 1
    DuocLayTuKhoDMQG: int = 1


class ReuseRead(BaseModel):
    """A reuse: which document went into which dossier, and the national flags to set."""

    reuse_id: str
    document: DocumentRead
    dossier_code: str
    component_code: str
    procedure_code: str | None
    reused_at: datetime
    flags: NationalFlags

    @classmethod
    def of(cls, r: DocumentReuse, d: StoredDocument,
           owner_personal_id: str | None = None) -> ReuseRead:
        """From the ORM objects (``owner_personal_id`` as in :meth:`DocumentRead.of`)."""
        return cls(reuse_id=r.id, document=DocumentRead.of(d, owner_personal_id),
                   dossier_code=r.dossier_code,
                   component_code=r.component_code, procedure_code=r.procedure_code,
                   reused_at=r.reused_at, flags=NationalFlags())
