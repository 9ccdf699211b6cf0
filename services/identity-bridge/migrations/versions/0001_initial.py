"""Kit tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from alembic import op

from motcua.migrate import create_kit_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables()


def downgrade() -> None:
    for table in ("idempotency_key", "inbox", "outbox"):
        op.drop_table(table)
