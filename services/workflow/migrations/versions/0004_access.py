"""Mesh tokens: the case's owner reference, the case list's indexes, and step roles
renamed to the mesh's officer roles on open tasks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: Step role names before mesh tokens → the officer role that now does the step.
_ROLES = {"specialist": "processor", "leader": "approver", "desk_officer": "receptionist"}


def upgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("owner_ref", sa.String(64), nullable=True))
        batch.create_index("ix_case_agency_opened", ["agency_code", "opened_at"])
        batch.create_index("ix_case_opened_at", ["opened_at", "id"])
    # Stored definitions keep their bodies (they are read with the new names); tasks
    # carry the role to claim them with, so theirs are renamed.
    task = sa.table("task", sa.column("role", sa.String))
    for old, new in _ROLES.items():
        op.execute(task.update().where(task.c.role == old).values(role=new))


def downgrade() -> None:
    task = sa.table("task", sa.column("role", sa.String))
    for old, new in _ROLES.items():
        op.execute(task.update().where(task.c.role == new).values(role=old))
    with op.batch_alter_table("case") as batch:
        batch.drop_index("ix_case_opened_at")
        batch.drop_index("ix_case_agency_opened")
        batch.drop_column("owner_ref")
