"""Process definitions as stored: one row per procedure and version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_workflow.db import Base


class ProcessDefinition(Base):
    """A declarative, versioned process for one procedure (quy trình nội bộ).

    Rows are never updated: a change is a new version, and a case keeps the version it
    started with. ``procedure_code`` ``*`` is the generic fallback.
    """

    __tablename__ = "process_definition"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    procedure_code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(Text)
    #: The definition as validated (``DefinitionSpec``), canonical JSON.
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: SHA-256 of the canonical body: importing the same definition twice adds no version.
    digest: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("procedure_code", "version",
                                       name="uq_process_definition_procedure_version"),)
