"""Catalog revisions and agency roles, dossier lifecycle, documents, timeline, attachments.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Columns are added (never a table rebuild), so SQLite keeps its foreign keys intact and
existing rows get the defaults.
"""

import sqlalchemy as sa
from alembic import op

from motcua.db import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for column in (
        sa.Column("name_en", sa.String(255), nullable=True),
        sa.Column("valid_from", sa.Date, nullable=True),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.Column("replaced_by", sa.String(35), nullable=True),
    ):
        op.add_column("agency", column)

    if bind.dialect.name == "postgresql":  # SQLite does not enforce VARCHAR lengths
        op.alter_column("procedure", "name_vi", type_=sa.String(1000))
    for column in (
        sa.Column("local_code", sa.String(60), nullable=True),
        sa.Column("name_en", sa.String(1000), nullable=True),
        sa.Column("field_vi", sa.String(255), nullable=True),
        sa.Column("status", sa.String(12), nullable=False, server_default="published"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("is_bundle", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("valid_from", sa.Date, nullable=True),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.Column("published_at", UtcDateTime, nullable=True),
        sa.Column("definition", sa.JSON, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=True),
    ):
        op.add_column("procedure", column)
    op.create_index("uq_procedure_local_code", "procedure", ["local_code"], unique=True)
    op.create_table(
        "procedure_revision",
        sa.Column("national_code", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=True),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.Column("published_at", UtcDateTime, nullable=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("national_code", "version", name="pk_procedure_revision"),
        sa.ForeignKeyConstraint(["national_code"], ["procedure.national_code"],
                                name="fk_procedure_revision_national_code_procedure"),
    )
    op.create_table(
        "procedure_agency",
        sa.Column("national_code", sa.String(40), nullable=False),
        sa.Column("agency_code", sa.String(35), nullable=False),
        sa.Column("role", sa.String(12), nullable=False),
        sa.PrimaryKeyConstraint("national_code", "agency_code", "role",
                                name="pk_procedure_agency"),
        sa.ForeignKeyConstraint(["national_code"], ["procedure.national_code"],
                                name="fk_procedure_agency_national_code_procedure"),
        sa.ForeignKeyConstraint(["agency_code"], ["agency.code"],
                                name="fk_procedure_agency_agency_code_agency"),
    )
    op.create_index("ix_procedure_agency_agency", "procedure_agency", ["agency_code", "role"])

    for column in (
        sa.Column("procedure_version", sa.Integer, nullable=True),
        sa.Column("applicant_phone", sa.String(20), nullable=True),
        sa.Column("result_delivery", sa.String(10), nullable=False, server_default="desk"),
        sa.Column("exemptions_claimed", sa.JSON, nullable=True),
        sa.Column("submitted_by", sa.String(100), nullable=True),
        sa.Column("received_at", UtcDateTime, nullable=True),
        sa.Column("received_by", sa.String(100), nullable=True),
        sa.Column("statutory_time", sa.JSON, nullable=True),
        sa.Column("due_at", UtcDateTime, nullable=True),
        sa.Column("due_explanation", sa.JSON, nullable=True),
        sa.Column("refused_at", UtcDateTime, nullable=True),
        sa.Column("refused_by", sa.String(100), nullable=True),
        sa.Column("refusal_reasons", sa.JSON, nullable=True),
        sa.Column("withdrawn_at", UtcDateTime, nullable=True),
        sa.Column("withdrawal_reason", sa.Text, nullable=True),
        sa.Column("rating_score", sa.Integer, nullable=True),
        sa.Column("rating_complaint", sa.Boolean, nullable=True),
        sa.Column("rating_comment", sa.Text, nullable=True),
        sa.Column("rated_at", UtcDateTime, nullable=True),
        sa.Column("awaited", sa.JSON, nullable=True),
        sa.Column("supplement_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("case_sequence", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", UtcDateTime, nullable=True),
    ):
        op.add_column("dossier", column)
    op.create_index("ix_dossier_status_submitted", "dossier", ["status", "submitted_at"])
    op.create_index("ix_dossier_due_at", "dossier", ["due_at"])
    op.create_index("ix_dossier_procedure_code", "dossier", ["procedure_code"])

    op.create_table(
        "attachment",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("storage_key", sa.String(100), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_at", UtcDateTime, nullable=False),
        sa.Column("dossier_code", sa.String(60), nullable=True),
        sa.Column("attached_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_attachment"),
    )
    op.create_index("ix_attachment_dossier_code", "attachment", ["dossier_code"])
    op.create_index("ix_attachment_uploaded_at", "attachment", ["uploaded_at"])
    op.create_table(
        "dossier_document",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("dossier_code", sa.String(60), nullable=False),
        sa.Column("component_code", sa.String(100), nullable=False),
        sa.Column("source", sa.String(12), nullable=False),
        sa.Column("attachment_id", sa.String(36), nullable=True),
        sa.Column("data_store_ref", sa.String(200), nullable=True),
        sa.Column("copies", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(12), nullable=False),
        sa.Column("supplement_request_id", sa.String(64), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dossier_document"),
        sa.ForeignKeyConstraint(["dossier_code"], ["dossier.code"],
                                name="fk_dossier_document_dossier_code_dossier"),
        sa.ForeignKeyConstraint(["attachment_id"], ["attachment.id"],
                                name="fk_dossier_document_attachment_id_attachment"),
    )
    op.create_index("ix_dossier_document_dossier_code", "dossier_document", ["dossier_code"])
    op.create_table(
        "dossier_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("dossier_code", sa.String(60), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("source", sa.String(12), nullable=False),
        sa.Column("note_vi", sa.Text, nullable=True),
        sa.Column("note_en", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dossier_history"),
        sa.ForeignKeyConstraint(["dossier_code"], ["dossier.code"],
                                name="fk_dossier_history_dossier_code_dossier"),
    )
    op.create_index("ix_dossier_history_dossier_code", "dossier_history",
                    ["dossier_code", "id"])


def downgrade() -> None:
    for table in ("dossier_history", "dossier_document", "attachment", "procedure_agency",
                  "procedure_revision"):
        op.drop_table(table)
    for index, table in (("ix_dossier_procedure_code", "dossier"),
                         ("ix_dossier_due_at", "dossier"),
                         ("ix_dossier_status_submitted", "dossier"),
                         ("uq_procedure_local_code", "procedure")):
        op.drop_index(index, table_name=table)
    with op.batch_alter_table("dossier") as batch:
        for name in ("procedure_version", "applicant_phone", "result_delivery",
                     "exemptions_claimed", "submitted_by", "received_at", "received_by",
                     "statutory_time", "due_at", "due_explanation", "refused_at",
                     "refused_by", "refusal_reasons", "withdrawn_at", "withdrawal_reason",
                     "rating_score", "rating_complaint", "rating_comment", "rated_at",
                     "awaited", "supplement_count", "case_sequence", "updated_at"):
            batch.drop_column(name)
    with op.batch_alter_table("procedure") as batch:
        for name in ("local_code", "name_en", "field_vi", "status", "version", "is_bundle",
                     "valid_from", "valid_to", "published_at", "definition", "updated_at"):
            batch.drop_column(name)
    with op.batch_alter_table("agency") as batch:
        for name in ("name_en", "valid_from", "valid_to", "replaced_by"):
            batch.drop_column(name)
