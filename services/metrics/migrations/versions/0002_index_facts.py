"""Dossier facts for the Decision 766 index; event log; national sync and EMC tracking.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from motcua.db import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_FALSE = sa.text("false")
_ZERO = sa.text("0")

_COLUMNS = [
    sa.Column("province_code", sa.String(10), nullable=True),
    sa.Column("commune_code", sa.String(35), nullable=True),
    sa.Column("applicant_kind", sa.String(20), nullable=True),
    sa.Column("received_at", UtcDateTime, nullable=True),
    sa.Column("due_at", UtcDateTime, nullable=True),
    sa.Column("statutory_amount", sa.Integer, nullable=True),
    sa.Column("statutory_unit", sa.String(20), nullable=True),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("finish_status", sa.Integer, nullable=True),
    sa.Column("returned_at", UtcDateTime, nullable=True),
    sa.Column("refused_at", UtcDateTime, nullable=True),
    sa.Column("received_day", sa.Date, nullable=True),
    sa.Column("due_day", sa.Date, nullable=True),
    sa.Column("finish_day", sa.Date, nullable=True),
    sa.Column("outcome", sa.String(10), nullable=True),
    sa.Column("supplement_count", sa.Integer, nullable=False, server_default=_ZERO),
    sa.Column("extended", sa.Boolean, nullable=False, server_default=_FALSE),
    sa.Column("paused_minutes", sa.Integer, nullable=False, server_default=_ZERO),
    sa.Column("open_pause_day", sa.Date, nullable=True),
    sa.Column("has_fees", sa.Boolean, nullable=False, server_default=_FALSE),
    sa.Column("payable_vnd", sa.BigInteger, nullable=True),
    sa.Column("paid_online", sa.Boolean, nullable=False, server_default=_FALSE),
    sa.Column("online_payment_code", sa.Integer, nullable=False, server_default=_ZERO),
    sa.Column("paid_at_desk", sa.Boolean, nullable=False, server_default=_FALSE),
    sa.Column("digitised", sa.Boolean, nullable=False, server_default=_FALSE),
    sa.Column("reused", sa.Boolean, nullable=False, server_default=_FALSE),
    sa.Column("from_national_store", sa.Boolean, nullable=False, server_default=_FALSE),
    sa.Column("electronic_result", sa.Boolean, nullable=False, server_default=_FALSE),
    sa.Column("population_verified", sa.Boolean, nullable=False, server_default=_FALSE),
    sa.Column("vneid_verified", sa.Boolean, nullable=False, server_default=_FALSE),
    sa.Column("rating", sa.Integer, nullable=True),
    sa.Column("complaint", sa.Boolean, nullable=False, server_default=_FALSE),
    sa.Column("event_count", sa.Integer, nullable=False, server_default=_ZERO),
    sa.Column("national_synced", sa.Boolean, nullable=False, server_default=_FALSE),
    sa.Column("national_problem", sa.String(200), nullable=True),
    sa.Column("fee_data_synced", sa.Boolean, nullable=False, server_default=_FALSE),
]

_INDEXES = {
    "ix_dossier_fact_agency_received_day": ["agency_code", "received_day"],
    "ix_dossier_fact_province_received_day": ["province_code", "received_day"],
    "ix_dossier_fact_commune_received_day": ["commune_code", "received_day"],
}


def upgrade() -> None:
    with op.batch_alter_table("dossier_fact") as batch:
        for column in _COLUMNS:
            batch.add_column(column)
    for name, columns in _INDEXES.items():
        op.create_index(name, "dossier_fact", columns)
    op.create_table(
        "dossier_event",
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("dossier_code", sa.String(60), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("event_type", sa.String(160), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=True),
        sa.Column("occurred_at", UtcDateTime, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_dossier_event"),
    )
    op.create_index("ix_dossier_event_dossier_code", "dossier_event", ["dossier_code"])
    op.create_table(
        "national_sync",
        sa.Column("dossier_code", sa.String(60), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("sent_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("dossier_code", name="pk_national_sync"),
    )
    op.create_table(
        "emc_sent",
        sa.Column("tracking_id", sa.String(36), nullable=False),
        sa.Column("dossier_code", sa.String(60), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("sent_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("tracking_id", name="pk_emc_sent"),
    )
    op.create_index("ix_emc_sent_dossier_code", "emc_sent", ["dossier_code"])


def downgrade() -> None:
    op.drop_index("ix_emc_sent_dossier_code", "emc_sent")
    op.drop_table("emc_sent")
    op.drop_table("national_sync")
    op.drop_index("ix_dossier_event_dossier_code", "dossier_event")
    op.drop_table("dossier_event")
    for name in _INDEXES:
        op.drop_index(name, "dossier_fact")
    with op.batch_alter_table("dossier_fact") as batch:
        for column in reversed(_COLUMNS):
            batch.drop_column(column.name)
