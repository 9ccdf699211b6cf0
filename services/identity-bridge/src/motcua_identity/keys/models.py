"""Signing keys of the mesh tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_identity.db import Base

CURRENT, PREVIOUS, RETIRED = "current", "previous", "retired"


class SigningKey(Base):
    """One ES256 key: ``current`` signs, ``previous`` still verifies, ``retired`` neither."""

    __tablename__ = "signing_key"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    public_jwk: Mapped[str] = mapped_column(Text)
    #: The private JWK, as a compact JWE when a key-encryption secret is configured.
    private_jwk: Mapped[str] = mapped_column(Text)
    encrypted: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        # At most one current key, even when two replicas create one at once.
        Index("uq_signing_key_current", "status", unique=True,
              sqlite_where=text("status = 'current'"),
              postgresql_where=text("status = 'current'")),
    )
