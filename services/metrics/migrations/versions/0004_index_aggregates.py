"""Index aggregates per unit, procedure and day (and month, year), their build state; the
catalog's revision; an index of dossier facts on their finish day.

The tables start empty with no state row: the service builds them from the existing
facts when it starts (``motcua_metrics.index.aggregates.ensure_built``); until then the
index is computed from the facts, as before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import secrets

import sqlalchemy as sa
from alembic import op

from motcua.db import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_MEASURES = ("received", "online", "synced", "reused", "store", "population", "with_fees",
             "paid_online", "fee_synced", "results", "electronic", "digitised_result",
             "finished", "early", "on_time", "late", "finished_disliked", "finished_rated",
             "open", "open_within", "open_overdue", "open_disliked", "open_rated", "facts",
             "not_synced")

_COUNT_INDEXES = {
    "ix_index_count_province": ["province_code", "kind", "grain", "day"],
    "ix_index_count_commune": ["commune_code", "kind", "grain", "day"],
    "ix_index_count_agency": ["agency_code", "kind", "grain", "day"],
    "ix_index_count_day": ["kind", "grain", "day"],
}


def _row_columns() -> list[sa.Column]:
    return [
        sa.Column("kind", sa.String(1), nullable=False),
        sa.Column("grain", sa.String(1), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("day2", sa.Date, nullable=True),
        sa.Column("province_code", sa.String(10), nullable=True),
        sa.Column("commune_code", sa.String(35), nullable=True),
        sa.Column("agency_code", sa.String(35), nullable=False),
        sa.Column("procedure_code", sa.String(40), nullable=True),
        *[sa.Column(name, sa.Integer, nullable=False, server_default=sa.text("0"))
          for name in _MEASURES],
    ]


def upgrade() -> None:
    op.create_index("ix_dossier_fact_finish_day", "dossier_fact", ["finish_day"])
    revision_table = op.create_table(
        "catalog_revision",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_revision"),
    )
    op.bulk_insert(revision_table, [{"id": 1,
                                     "revision": secrets.randbelow(2**52) + 1}])
    op.create_table(
        "index_count",
        sa.Column("key", sa.String(64), nullable=False),
        *_row_columns(),
        sa.PrimaryKeyConstraint("key", name="pk_index_count"),
    )
    for name, columns in _COUNT_INDEXES.items():
        op.create_index(name, "index_count", columns)
    op.create_table(
        "index_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False,
                  autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False),
        *_row_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_index_pending"),
    )
    op.create_table(
        "index_aggregate_state",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("max_supplement_requests", sa.Integer, nullable=False),
        sa.Column("dislike_max_score", sa.Integer, nullable=False),
        sa.Column("built_at", UtcDateTime, nullable=False),
        sa.Column("facts", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_index_aggregate_state"),
    )


def downgrade() -> None:
    op.drop_table("index_aggregate_state")
    op.drop_table("index_pending")
    for name in _COUNT_INDEXES:
        op.drop_index(name, "index_count")
    op.drop_table("index_count")
    op.drop_table("catalog_revision")
    op.drop_index("ix_dossier_fact_finish_day", "dossier_fact")
