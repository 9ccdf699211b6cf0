"""Compact facts per dossier, projected from every service's events.

:class:`DossierEvent` keeps the facts of every event about a dossier (its payload, the
producer's ``sequence`` and time). :class:`DossierFact` is recomputed from all of them
each time one arrives (``facts.projection.fold``), so the fact is a function of the
*set* of events: the order and number of deliveries cannot change it, and a rebuild
from the streams arrives at the same rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_metrics.db import Base


class DossierEvent(Base):
    """One event about a dossier, as much of it as the projection needs."""

    __tablename__ = "dossier_event"
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dossier_code: Mapped[str] = mapped_column(String(60), index=True)
    source: Mapped[str] = mapped_column(String(20))
    event_type: Mapped[str] = mapped_column(String(160))
    sequence: Mapped[int | None]
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


#: Facts of the drill-down's partial indexes (``index.drilldown``).
SKEWED = "finish_day < received_day OR (received_day IS NULL AND finish_status IN (9, 10))"
UNSYNCED = "NOT national_synced"


class DossierFact(Base):
    """What metrics knows of one dossier; rows may be created by whichever event comes first.

    ``*_day`` columns are business dates (Asia/Ho_Chi_Minh) so the index compares days
    the way the national rule does ("on the due date"). ``due_day`` is the appointment
    after the citizen's supplement time is added back (the clock was paused).
    """

    __tablename__ = "dossier_fact"
    dossier_code: Mapped[str] = mapped_column(String(60), primary_key=True)
    agency_code: Mapped[str] = mapped_column(String(35))
    procedure_code: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[int | None]
    #: Highest workflow case version applied to ``status`` (stale events are skipped).
    status_sequence: Mapped[int]
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    case_opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    province_code: Mapped[str | None] = mapped_column(String(10))
    commune_code: Mapped[str | None] = mapped_column(String(35))
    applicant_kind: Mapped[str | None] = mapped_column(String(20))
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    statutory_amount: Mapped[int | None]
    statutory_unit: Mapped[str | None] = mapped_column(String(20))
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finish_status: Mapped[int | None]
    returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    refused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_day: Mapped[date | None]
    due_day: Mapped[date | None]
    finish_day: Mapped[date | None]
    #: early / on_time / late for a finished, received dossier (period-independent).
    outcome: Mapped[str | None] = mapped_column(String(10))
    supplement_count: Mapped[int] = mapped_column(default=0)
    #: The appointment was extended once with an apology (it still counts as the due date).
    extended: Mapped[bool] = mapped_column(default=False)
    #: Citizen's supplement time (closed pauses), in working minutes.
    paused_minutes: Mapped[int] = mapped_column(default=0)
    #: Business date a still-open pause began (the clock is stopped).
    open_pause_day: Mapped[date | None]
    has_fees: Mapped[bool] = mapped_column(default=False)
    payable_vnd: Mapped[int | None] = mapped_column(BigInteger)
    paid_online: Mapped[bool] = mapped_column(default=False)
    online_payment_code: Mapped[int] = mapped_column(default=0)
    paid_at_desk: Mapped[bool] = mapped_column(default=False)
    digitised: Mapped[bool] = mapped_column(default=False)
    reused: Mapped[bool] = mapped_column(default=False)
    from_national_store: Mapped[bool] = mapped_column(default=False)
    electronic_result: Mapped[bool] = mapped_column(default=False)
    population_verified: Mapped[bool] = mapped_column(default=False)
    vneid_verified: Mapped[bool] = mapped_column(default=False)
    rating: Mapped[int | None]
    complaint: Mapped[bool] = mapped_column(default=False)
    event_count: Mapped[int] = mapped_column(default=0)
    #: The current national record was sent (recorded in the outbox).
    national_synced: Mapped[bool] = mapped_column(default=False)
    #: Why the current state cannot be synced (missing facts), if it cannot.
    national_problem: Mapped[str | None] = mapped_column(String(200))
    #: The synced record carried fee data (DanhSachLePhi).
    fee_data_synced: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        Index("ix_dossier_fact_agency_submitted", "agency_code", "submitted_at"),
        Index("ix_dossier_fact_commune_received_day", "commune_code", "received_day"),
        #: The drill-down (``index.drilldown``) reads a unit's facts received on one day,
        #: or finished on one day, in dossier-code order (the received day last: facts
        #: received in or out of the period are told apart in the index). The finish-day
        #: ones also serve finish-day ranges (periods that start after their judging
        #: day, results scopes).
        Index("ix_dossier_fact_agency_received_code", "agency_code", "received_day",
              "dossier_code"),
        Index("ix_dossier_fact_province_received_code", "province_code", "received_day",
              "dossier_code"),
        Index("ix_dossier_fact_finish_agency_code", "finish_day", "agency_code",
              "dossier_code", "received_day"),
        Index("ix_dossier_fact_finish_province_code", "finish_day", "province_code",
              "dossier_code", "received_day"),
        #: Facts finished before they were received (clock skew), or finished with a
        #: result but never received: the few the two above cannot single out.
        Index("ix_dossier_fact_agency_skewed", "agency_code", "dossier_code",
              postgresql_where=text(SKEWED), sqlite_where=text(SKEWED)),
        Index("ix_dossier_fact_province_skewed", "province_code", "dossier_code",
              postgresql_where=text(SKEWED), sqlite_where=text(SKEWED)),
        #: Facts not synced (few): the rows of the sync-rate drill-down.
        Index("ix_dossier_fact_agency_unsynced", "agency_code", "received_day",
              "dossier_code", postgresql_where=text(UNSYNCED), sqlite_where=text(UNSYNCED)),
        Index("ix_dossier_fact_province_unsynced", "province_code", "received_day",
              "dossier_code", postgresql_where=text(UNSYNCED), sqlite_where=text(UNSYNCED)),
    )


class NationalSync(Base):
    """What was last sent to the national level for a dossier (feeds the sync rate)."""

    __tablename__ = "national_sync"
    dossier_code: Mapped[str] = mapped_column(String(60), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(36))
    revision: Mapped[int]
    content_sha256: Mapped[str] = mapped_column(String(64))
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EmcSent(Base):
    """EMC tracking events already sent (a step is sent once, when its facts are known)."""

    __tablename__ = "emc_sent"
    tracking_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dossier_code: Mapped[str] = mapped_column(String(60), index=True)
    status: Mapped[int]
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
