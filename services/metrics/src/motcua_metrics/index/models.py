"""Index aggregates: dossier counts per unit, procedure and day (and month).

Every dossier fact contributes fixed counts to a few rows (:func:`motcua_metrics.index.
aggregates.contributions`); the index of any unit and period sums a few hundred of them
instead of reading the unit's facts. The projection writes the *change* of a fact's
contributions as rows of :class:`IndexPending` in the same transaction as the fact (only
inserts: concurrent consumers never wait on each other's rows), and a background loop
folds them into :class:`IndexCount` (``compact``). A read sums both tables, so it sees
every committed fact, compacted or not.

Rows are identified by ``key`` (a hash of kind, grain, day, day2 and the unit and
procedure codes, NULLs included) because unique constraints on nullable columns do not
match NULLs in either database.

* kind ``t`` (tallies): counts of the day a dossier was received (received family), the
  day it finished (results and finished-in-scope families). Grain ``d`` (day), ``m``
  (month: ``day`` = its first day) and ``y`` (year: 1 January). Grain ``x``: a dossier
  finished (``day``) *before* the day it was received (``day2``), clock skew between
  services: its finished-in-scope counts need both days, so they are kept per pair.
* kind ``o`` (open dossiers): +1 / -1 on the days a dossier enters / leaves the states
  "unfinished", "in process within time" and "overdue"; the number on a judging day is
  the sum of everything up to it. No procedure (``procedure_code`` NULL). Grains ``d``,
  ``m`` and ``y`` (year: ``day`` = 1 January) as for tallies.
* kind ``f`` (facts): one row per unit (grain ``a``, ``day`` = 0001-01-01), the number of
  facts and of those not synced — which units have dossiers, and pipeline figures,
  without counting the facts.

:class:`IndexAggregateState` says for which classification parameters the aggregates
were built (the ``[classification]`` of the index configuration changes what counts as
disliked or overdue); reads fall back to the facts while they do not match.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from motcua.db import UtcDateTime
from motcua_metrics.db import Base

#: Counts of kind ``t`` rows. ``online_synced`` (received online and synced) and
#: ``late_disliked`` (finished late and disliked) give the drill-down its totals for the
#: items whose rows meet one of two conditions.
TALLY = ("received", "online", "synced", "reused", "store", "population", "with_fees",
         "paid_online", "fee_synced", "results", "electronic", "digitised_result",
         "finished", "early", "on_time", "late", "finished_disliked", "finished_rated",
         "online_synced", "late_disliked")
#: Counts (changes, summed up to the judging day) of kind ``o`` rows.
OPEN = ("open", "open_within", "open_overdue", "open_disliked", "open_rated",
        "open_overdue_disliked")
#: Counts of kind ``f`` rows: facts of the unit, whatever their days.
FACTS = ("facts", "not_synced")
MEASURES = TALLY + OPEN + FACTS


class _Row:
    """Columns shared by the compacted counts and the pending changes."""

    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(1))
    grain: Mapped[str] = mapped_column(String(1))
    day: Mapped[date]
    day2: Mapped[date | None]
    province_code: Mapped[str | None] = mapped_column(String(10))
    commune_code: Mapped[str | None] = mapped_column(String(35))
    agency_code: Mapped[str] = mapped_column(String(35))
    procedure_code: Mapped[str | None] = mapped_column(String(40))

    received: Mapped[int] = mapped_column(default=0)
    online: Mapped[int] = mapped_column(default=0)
    synced: Mapped[int] = mapped_column(default=0)
    reused: Mapped[int] = mapped_column(default=0)
    store: Mapped[int] = mapped_column(default=0)
    population: Mapped[int] = mapped_column(default=0)
    with_fees: Mapped[int] = mapped_column(default=0)
    paid_online: Mapped[int] = mapped_column(default=0)
    fee_synced: Mapped[int] = mapped_column(default=0)
    results: Mapped[int] = mapped_column(default=0)
    electronic: Mapped[int] = mapped_column(default=0)
    digitised_result: Mapped[int] = mapped_column(default=0)
    finished: Mapped[int] = mapped_column(default=0)
    early: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)
    late: Mapped[int] = mapped_column(default=0)
    finished_disliked: Mapped[int] = mapped_column(default=0)
    finished_rated: Mapped[int] = mapped_column(default=0)
    online_synced: Mapped[int] = mapped_column(default=0)
    late_disliked: Mapped[int] = mapped_column(default=0)
    open: Mapped[int] = mapped_column(default=0)
    open_within: Mapped[int] = mapped_column(default=0)
    open_overdue: Mapped[int] = mapped_column(default=0)
    open_disliked: Mapped[int] = mapped_column(default=0)
    open_rated: Mapped[int] = mapped_column(default=0)
    open_overdue_disliked: Mapped[int] = mapped_column(default=0)
    facts: Mapped[int] = mapped_column(default=0)
    not_synced: Mapped[int] = mapped_column(default=0)


class IndexCount(_Row, Base):
    """Compacted counts, one row per key."""

    __tablename__ = "index_count"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (
        Index("ix_index_count_province", "province_code", "kind", "grain", "day"),
        Index("ix_index_count_commune", "commune_code", "kind", "grain", "day"),
        Index("ix_index_count_agency", "agency_code", "kind", "grain", "day"),
        Index("ix_index_count_day", "kind", "grain", "day"),
    )


class IndexPending(_Row, Base):
    """Changes written by the projection, not yet folded into :class:`IndexCount`."""

    __tablename__ = "index_pending"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)


class IndexAggregateState(Base):
    """For which classification parameters the aggregates hold (one row, ``id`` 1)."""

    __tablename__ = "index_aggregate_state"
    id: Mapped[int] = mapped_column(primary_key=True)
    max_supplement_requests: Mapped[int]
    dislike_max_score: Mapped[int]
    built_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: Facts the aggregates were built from (0 when built empty before a replay).
    facts: Mapped[int]
