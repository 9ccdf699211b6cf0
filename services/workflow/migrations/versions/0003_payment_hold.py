"""Payment holds: status 6 while a pay-before-processing assessment is unsettled.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from motcua.db import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_hold",
        sa.Column("dossier_code", sa.String(60), nullable=False),
        sa.Column("assessment_id", sa.String(36), nullable=True),
        sa.Column("assessed_seq", sa.Integer, nullable=True),
        sa.Column("pay_before", sa.Boolean, nullable=True),
        sa.Column("settled_at", UtcDateTime, nullable=True),
        sa.Column("paused_at", UtcDateTime, nullable=True),
        sa.Column("resumed_at", UtcDateTime, nullable=True),
        sa.Column("status_before", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("dossier_code", name="pk_payment_hold"),
    )


def downgrade() -> None:
    op.drop_table("payment_hold")
