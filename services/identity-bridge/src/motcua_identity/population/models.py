"""The log of population-database lookups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_identity.db import Base


class PopulationLookup(Base):
    """One lookup: who asked, why, for which dossier, about whom, and what came back."""

    __tablename__ = "population_lookup"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(255))
    actor_kind: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(30))
    dossier_code: Mapped[str | None] = mapped_column(String(60))
    personal_id: Mapped[str] = mapped_column(String(12))
    backend: Mapped[str] = mapped_column(String(10))
    outcome: Mapped[str] = mapped_column(String(20))  # found | not_found | failed

    __table_args__ = (Index("ix_population_lookup_actor_at", "actor", "at"),
                      Index("ix_population_lookup_personal_id", "personal_id"))
