"""Kit tables and cases.

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
        "case",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("dossier_code", sa.String(60), nullable=False),
        sa.Column("agency_code", sa.String(35), nullable=False),
        sa.Column("procedure_code", sa.String(40), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("opened_at", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case"),
        sa.UniqueConstraint("dossier_code", name="uq_case_dossier_code"),
    )


def downgrade() -> None:
    for table in ("case", "idempotency_key", "inbox", "outbox"):
        op.drop_table(table)
