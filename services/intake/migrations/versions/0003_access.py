"""Who did what under mesh tokens: uploaders, agency parents, organisation representatives;
the announcing decision's date of a publication.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Columns are added (never a table rebuild), so SQLite keeps its foreign keys intact.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attachment", sa.Column("uploaded_by", sa.String(100), nullable=True))
    op.add_column("attachment", sa.Column("uploader_kind", sa.String(10), nullable=True))
    op.add_column("agency", sa.Column("parent_code", sa.String(35), nullable=True))
    op.add_column("dossier", sa.Column("representative_id_number", sa.String(20),
                                       nullable=True))
    op.add_column("procedure", sa.Column("decision_date", sa.Date, nullable=True))
    op.add_column("procedure_revision", sa.Column("decision_date", sa.Date, nullable=True))
    op.create_index("ix_dossier_applicant_id_number", "dossier", ["applicant_id_number"])
    op.create_index("ix_dossier_representative_id_number", "dossier",
                    ["representative_id_number"])


def downgrade() -> None:
    op.drop_index("ix_dossier_representative_id_number", table_name="dossier")
    op.drop_index("ix_dossier_applicant_id_number", table_name="dossier")
    for table, names in (("procedure_revision", ("decision_date",)),
                         ("procedure", ("decision_date",)),
                         ("dossier", ("representative_id_number",)),
                         ("agency", ("parent_code",)),
                         ("attachment", ("uploaded_by", "uploader_kind"))):
        with op.batch_alter_table(table) as batch:
            for name in names:
                batch.drop_column(name)
