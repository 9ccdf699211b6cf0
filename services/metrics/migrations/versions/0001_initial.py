"""Kit tables and dossier facts.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from motcua.db import UtcDateTime
from motcua.migrate import create_kit_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables()
    op.create_table(
        "dossier_fact",
        sa.Column("dossier_code", sa.String(60), nullable=False),
        sa.Column("agency_code", sa.String(35), nullable=False),
        sa.Column("procedure_code", sa.String(40), nullable=True),
        sa.Column("channel", sa.String(10), nullable=True),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("status_sequence", sa.Integer, nullable=False),
        sa.Column("submitted_at", UtcDateTime, nullable=True),
        sa.Column("case_opened_at", UtcDateTime, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("dossier_code", name="pk_dossier_fact"),
    )
    op.create_index("ix_dossier_fact_agency_submitted", "dossier_fact",
                    ["agency_code", "submitted_at"])


def downgrade() -> None:
    for table in ("dossier_fact", "idempotency_key", "inbox", "outbox"):
        op.drop_table(table)
