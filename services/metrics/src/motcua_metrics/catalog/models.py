"""The procedure catalog as intake published it: every version, per competent agency.

:class:`CatalogVersion` keeps one row per procedure version (``ProcedurePublishedV1``;
``procedure_version`` orders them), :class:`CatalogAgency` one row per version and
competent agency, with the agency's province and commune for the index's units. Nothing
is overwritten by an older version: the catalog *as of a day* is, per procedure, the
highest version that existed by then (:mod:`motcua_metrics.catalog.service`), so
delivery order, redeliveries and a replay give the same answer, and the index of a past
period does not change when the catalog changes later.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_metrics.db import Base


class CatalogVersion(Base):
    """One published (or withdrawn) version of a procedure."""

    __tablename__ = "catalog_version"
    procedure_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    #: The event this row came from (a same-version re-send with other content keeps the
    #: later one: ``occurred_at``, then ``event_id``).
    event_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(10))
    name_vi: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(40))
    agencies: Mapped[list[str]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: Business dates (Asia/Ho_Chi_Minh) of ``published_at`` and ``occurred_at``.
    published_day: Mapped[date]
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    occurred_day: Mapped[date]
    decision_date: Mapped[date | None]
    valid_from: Mapped[date | None]
    online: Mapped[bool]
    has_fees: Mapped[bool]
    missing_content: Mapped[list[Any]] = mapped_column(JSON)
    #: ``len(missing_content)``, for SQL.
    missing_count: Mapped[int]

    __table_args__ = (
        Index("ix_catalog_version_occurred_day", "occurred_day"),
        Index("ix_catalog_version_published_day", "published_day"),
    )


class CatalogAgency(Base):
    """A competent agency of one procedure version (the units it counts for)."""

    __tablename__ = "catalog_agency"
    procedure_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    agency_code: Mapped[str] = mapped_column(String(35), primary_key=True)
    province_code: Mapped[str | None] = mapped_column(String(10))
    commune_code: Mapped[str | None] = mapped_column(String(35))

    __table_args__ = (
        Index("ix_catalog_agency_agency_code", "agency_code"),
        Index("ix_catalog_agency_province_code", "province_code"),
        Index("ix_catalog_agency_commune_code", "commune_code"),
    )


class CatalogRevision(Base):
    """Changes whenever the catalog does (one row, ``id`` 1), so figures computed from the
    catalog can be cached: it starts at a random number (a new database never repeats an
    old one's revisions) and grows by one with every catalog event applied."""

    __tablename__ = "catalog_revision"
    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
