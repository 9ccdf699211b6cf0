"""Accounts, their links to provider subjects, and staff memberships."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_identity.db import Base


class Account(Base):
    """A citizen (keyed by personal ID) or an officer (staff)."""

    __tablename__ = "account"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # citizen | officer
    full_name: Mapped[str] = mapped_column(String(255))
    #: Citizen's 12-digit personal ID (số định danh cá nhân).
    personal_id: Mapped[str | None] = mapped_column(String(12))
    birth_date: Mapped[date | None]
    #: Highest assurance level proven at the last sign-in (1 or 2).
    assurance_level: Mapped[int | None]
    #: Whether the last sign-in matched the population database.
    population_verified: Mapped[bool]
    email: Mapped[str | None] = mapped_column(String(255))
    #: Staff username for the development-only sign-in.
    username: Mapped[str | None] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int]

    __table_args__ = (
        Index("ix_account_personal_id", "personal_id"),
        Index("ix_account_email", "email"),
    )


class IdentityLink(Base):
    """A provider's subject linked to an account (one account may have several)."""

    __tablename__ = "identity_link"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"))
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    assurance_level: Mapped[int | None]
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_identity_link_subject"),
                      Index("ix_identity_link_account", "account_id"))


class StaffMembership(Base):
    """An officer's role in an agency (by agency code)."""

    __tablename__ = "staff_membership"
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"), primary_key=True)
    agency_code: Mapped[str] = mapped_column(String(35), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    granted_by: Mapped[str] = mapped_column(String(255))
