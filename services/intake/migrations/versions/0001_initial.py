"""Kit tables, agencies, procedures, dossiers and their code sequences.

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
        "agency",
        sa.Column("code", sa.String(35), nullable=False),
        sa.Column("name_vi", sa.String(255), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_agency"),
    )
    op.create_table(
        "procedure",
        sa.Column("national_code", sa.String(40), nullable=False),
        sa.Column("name_vi", sa.String(500), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("statutory_amount", sa.Integer, nullable=True),
        sa.Column("statutory_unit", sa.String(20), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("national_code", name="pk_procedure"),
    )
    op.create_table(
        "dossier",
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("agency_code", sa.String(35), nullable=False),
        sa.Column("procedure_code", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("reception_point", sa.String(35), nullable=True),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("applicant_kind", sa.String(20), nullable=False),
        sa.Column("applicant_id_number", sa.String(20), nullable=False),
        sa.Column("applicant_name", sa.String(255), nullable=False),
        sa.Column("submitted_at", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_dossier"),
        sa.ForeignKeyConstraint(["agency_code"], ["agency.code"],
                                name="fk_dossier_agency_code_agency"),
        sa.ForeignKeyConstraint(["procedure_code"], ["procedure.national_code"],
                                name="fk_dossier_procedure_code_procedure"),
    )
    op.create_index("ix_dossier_agency_submitted", "dossier", ["agency_code", "submitted_at"])
    op.create_table(
        "dossier_sequence",
        sa.Column("agency_code", sa.String(35), nullable=False),
        sa.Column("day", sa.String(6), nullable=False),
        sa.Column("last_value", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("agency_code", "day", name="pk_dossier_sequence"),
    )


def downgrade() -> None:
    for table in ("dossier_sequence", "dossier", "procedure", "agency",
                  "idempotency_key", "inbox", "outbox"):
        op.drop_table(table)
