"""Stored documents and their reuse in dossiers."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_identity.db import Base


class StoredDocument(Base):
    """A digitised document or result kept for a citizen, with its provenance.

    The owner is known by personal ID, by owner reference (``motcua.auth.owner_ref``), or
    both: a result filed from workflow's ``case.completed`` carries only the reference.
    """

    __tablename__ = "stored_document"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_personal_id: Mapped[str | None] = mapped_column(String(12))
    #: Keyed hash of the owner's personal ID; NULL only on rows stored before revision
    #: 0003 until the startup backfill reaches them.
    owner_ref: Mapped[str | None] = mapped_column(String(64))
    document_type: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(255))
    #: Provenance: who issued it, under which procedure, from which dossier.
    issuing_agency: Mapped[str] = mapped_column(String(35))
    procedure_code: Mapped[str | None] = mapped_column(String(40))
    dossier_code: Mapped[str | None] = mapped_column(String(60))
    source: Mapped[str] = mapped_column(String(20))  # result | digitised | national_store
    content_sha256: Mapped[str] = mapped_column(String(64))
    content_uri: Mapped[str | None] = mapped_column(String(500))
    media_type: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[date | None]
    valid_until: Mapped[date | None]
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime)
    stored_by: Mapped[str] = mapped_column(String(255))
    reuse_count: Mapped[int]
    #: ``<dossier code>#<procedure code>`` for a result filed from ``case.completed``
    #: (the dossier's procedure, or a bundle member's): each is filed once.
    result_of: Mapped[str | None] = mapped_column(String(110))

    __table_args__ = (Index("ix_stored_document_owner", "owner_personal_id"),
                      Index("ix_stored_document_owner_ref", "owner_ref"),
                      UniqueConstraint("result_of", name="uq_stored_document_result_of"))


class DocumentReuse(Base):
    """A stored document attached to a dossier instead of an upload."""

    __tablename__ = "document_reuse"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("stored_document.id"))
    dossier_code: Mapped[str] = mapped_column(String(60))
    component_code: Mapped[str] = mapped_column(String(60))
    procedure_code: Mapped[str | None] = mapped_column(String(40))
    reused_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reused_by: Mapped[str] = mapped_column(String(255))

    __table_args__ = (UniqueConstraint("document_id", "dossier_code", "component_code",
                                       name="uq_document_reuse_target"),)
