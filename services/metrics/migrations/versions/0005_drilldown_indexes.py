"""Drill-down from the index aggregates: fact indexes in dossier-code order per day, and
three more aggregate counts (the drill-down's totals).

* ``dossier_fact``: the (agency, received day) and (province, received day) indexes gain
  ``dossier_code`` (the first code of a day, then codes in order); the finish-day index
  becomes (finish day, agency or province, dossier code, received day), two of them
  (they serve finish-day ranges as the single-column one did); small partial indexes
  of the facts finished before they were received or never received, and of those not
  synced.
* ``index_count`` and ``index_pending``: ``online_synced``, ``late_disliked`` and
  ``open_overdue_disliked``. Rows built before have none of them, so the build state is
  removed: the service rebuilds the aggregates from the facts when it starts (until
  then the index is computed from the facts, as after migration 0004).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_NEW_MEASURES = ("online_synced", "late_disliked", "open_overdue_disliked")
_OLD_INDEXES = {
    "ix_dossier_fact_agency_received_day": ["agency_code", "received_day"],
    "ix_dossier_fact_province_received_day": ["province_code", "received_day"],
    "ix_dossier_fact_finish_day": ["finish_day"],
}
_NEW_INDEXES = {
    "ix_dossier_fact_agency_received_code": ["agency_code", "received_day", "dossier_code"],
    "ix_dossier_fact_province_received_code": ["province_code", "received_day",
                                               "dossier_code"],
    "ix_dossier_fact_finish_agency_code": ["finish_day", "agency_code", "dossier_code",
                                           "received_day"],
    "ix_dossier_fact_finish_province_code": ["finish_day", "province_code", "dossier_code",
                                             "received_day"],
}


#: Facts finished before they were received, or with a result but never received.
_SKEWED = "finish_day < received_day OR (received_day IS NULL AND finish_status IN (9, 10))"
_SKEWED_INDEXES = {"ix_dossier_fact_agency_skewed": ["agency_code", "dossier_code"],
                   "ix_dossier_fact_province_skewed": ["province_code", "dossier_code"]}
#: Facts not synced.
_UNSYNCED = "NOT national_synced"
_UNSYNCED_INDEXES = {
    "ix_dossier_fact_agency_unsynced": ["agency_code", "received_day", "dossier_code"],
    "ix_dossier_fact_province_unsynced": ["province_code", "received_day", "dossier_code"]}


def upgrade() -> None:
    for name, columns in _NEW_INDEXES.items():
        op.create_index(name, "dossier_fact", columns)
    for name, columns in _SKEWED_INDEXES.items():
        op.create_index(name, "dossier_fact", columns, postgresql_where=sa.text(_SKEWED),
                        sqlite_where=sa.text(_SKEWED))
    for name, columns in _UNSYNCED_INDEXES.items():
        op.create_index(name, "dossier_fact", columns, postgresql_where=sa.text(_UNSYNCED),
                        sqlite_where=sa.text(_UNSYNCED))
    for name in _OLD_INDEXES:
        op.drop_index(name, "dossier_fact")
    for table in ("index_count", "index_pending"):
        with op.batch_alter_table(table) as batch:
            for name in _NEW_MEASURES:
                batch.add_column(sa.Column(name, sa.Integer, nullable=False,
                                           server_default=sa.text("0")))
    # Built without the new counts: rebuilt from the facts at the next start.
    op.execute("DELETE FROM index_aggregate_state")


def downgrade() -> None:
    op.execute("DELETE FROM index_aggregate_state")
    for table in ("index_pending", "index_count"):
        with op.batch_alter_table(table) as batch:
            for name in reversed(_NEW_MEASURES):
                batch.drop_column(name)
    for name, columns in _OLD_INDEXES.items():
        op.create_index(name, "dossier_fact", columns)
    for name in (*_NEW_INDEXES, *_SKEWED_INDEXES, *_UNSYNCED_INDEXES):
        op.drop_index(name, "dossier_fact")
