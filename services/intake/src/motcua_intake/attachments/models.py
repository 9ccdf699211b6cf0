"""Uploaded files (tệp đính kèm), stored under generated names."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_intake.db import Base


class Attachment(Base):
    """A file as stored: never under the client's filename, which is kept for display only.

    ``dossier_code`` is set when a dossier or supplement references it; an attachment
    still unattached after ``attachment_orphan_hours`` is swept with its file.
    """

    __tablename__ = "attachment"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    dossier_code: Mapped[str | None] = mapped_column(String(60))
    attached_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: Who uploaded it and their kind: a citizen's owner reference, an officer's subject.
    uploaded_by: Mapped[str | None] = mapped_column(String(100))
    uploader_kind: Mapped[str | None] = mapped_column(String(10))

    __table_args__ = (
        Index("ix_attachment_dossier_code", "dossier_code"),
        Index("ix_attachment_uploaded_at", "uploaded_at"),
    )
