"""Citizen data store: documents known by owner reference; results filed once per dossier.

``stored_document.owner_ref`` (keyed hash of the personal ID, ``motcua.auth.owner_ref``),
``owner_personal_id`` nullable (a result filed from ``case.completed`` has only the
reference), ``result_of`` unique.

Existing rows are not backfilled here: the reference needs ``owner_ref_key``, a runtime
setting migrations do not see. identity-bridge fills the column at startup
(``documents.service.backfill_owner_refs``); until then those rows are still found by
personal ID.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stored_document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_ref", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("result_of", sa.String(length=110), nullable=True))
        batch_op.alter_column("owner_personal_id", existing_type=sa.String(length=12),
                              nullable=True)
        batch_op.create_index("ix_stored_document_owner_ref", ["owner_ref"], unique=False)
        batch_op.create_unique_constraint("uq_stored_document_result_of", ["result_of"])


def downgrade() -> None:
    # Documents known only by reference cannot go back to a table that needs the number.
    op.execute(sa.text("DELETE FROM document_reuse WHERE document_id IN "
                       "(SELECT id FROM stored_document WHERE owner_personal_id IS NULL)"))
    op.execute(sa.text("DELETE FROM stored_document WHERE owner_personal_id IS NULL"))
    with op.batch_alter_table("stored_document", schema=None) as batch_op:
        batch_op.drop_constraint("uq_stored_document_result_of", type_="unique")
        batch_op.drop_index("ix_stored_document_owner_ref")
        batch_op.alter_column("owner_personal_id", existing_type=sa.String(length=12),
                              nullable=False)
        batch_op.drop_column("result_of")
        batch_op.drop_column("owner_ref")
