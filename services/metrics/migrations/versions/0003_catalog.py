"""The procedure catalog as intake publishes it (every version, per competent agency).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from motcua.db import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_AGENCY_INDEXES = {
    "ix_catalog_agency_agency_code": ["agency_code"],
    "ix_catalog_agency_province_code": ["province_code"],
    "ix_catalog_agency_commune_code": ["commune_code"],
}


def upgrade() -> None:
    op.create_table(
        "catalog_version",
        sa.Column("procedure_code", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("name_vi", sa.Text, nullable=False),
        sa.Column("level", sa.String(40), nullable=False),
        sa.Column("agencies", sa.JSON, nullable=False),
        sa.Column("published_at", UtcDateTime, nullable=False),
        sa.Column("published_day", sa.Date, nullable=False),
        sa.Column("occurred_at", UtcDateTime, nullable=False),
        sa.Column("occurred_day", sa.Date, nullable=False),
        sa.Column("decision_date", sa.Date, nullable=True),
        sa.Column("valid_from", sa.Date, nullable=True),
        sa.Column("online", sa.Boolean, nullable=False),
        sa.Column("has_fees", sa.Boolean, nullable=False),
        sa.Column("missing_content", sa.JSON, nullable=False),
        sa.Column("missing_count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("procedure_code", "version", name="pk_catalog_version"),
    )
    op.create_index("ix_catalog_version_occurred_day", "catalog_version", ["occurred_day"])
    op.create_index("ix_catalog_version_published_day", "catalog_version", ["published_day"])
    op.create_table(
        "catalog_agency",
        sa.Column("procedure_code", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("agency_code", sa.String(35), nullable=False),
        sa.Column("province_code", sa.String(10), nullable=True),
        sa.Column("commune_code", sa.String(35), nullable=True),
        sa.PrimaryKeyConstraint("procedure_code", "version", "agency_code",
                                name="pk_catalog_agency"),
    )
    for name, columns in _AGENCY_INDEXES.items():
        op.create_index(name, "catalog_agency", columns)


def downgrade() -> None:
    for name in _AGENCY_INDEXES:
        op.drop_index(name, "catalog_agency")
    op.drop_table("catalog_agency")
    op.drop_index("ix_catalog_version_published_day", "catalog_version")
    op.drop_index("ix_catalog_version_occurred_day", "catalog_version")
    op.drop_table("catalog_version")
