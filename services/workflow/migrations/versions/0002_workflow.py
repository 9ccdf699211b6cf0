"""Process definitions, deadline ledger, tasks, transfers, supplements, apologies, process log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from motcua.db import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "process_definition",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("procedure_code", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_process_definition"),
        sa.UniqueConstraint("procedure_code", "version",
                            name="uq_process_definition_procedure_version"),
    )
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("definition_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("definition_version", sa.Integer, nullable=True))
        batch.add_column(sa.Column("channel", sa.String(10), nullable=True))
        batch.add_column(sa.Column("parent_case_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("bundle_code", sa.String(40), nullable=True))
        batch.add_column(sa.Column("member_procedures", sa.JSON, nullable=True))
        batch.add_column(sa.Column("current_agency_code", sa.String(35), nullable=True))
        batch.add_column(sa.Column("current_step", sa.String(60), nullable=True))
        batch.add_column(sa.Column("step_entered_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("received_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("statutory_amount", sa.Integer, nullable=True))
        batch.add_column(sa.Column("statutory_unit", sa.String(20), nullable=True))
        batch.add_column(sa.Column("statutory_cutoff", sa.String(5), nullable=True))
        batch.add_column(sa.Column("intake_due_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("due_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("statutory_due_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("paused_since", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("supplement_requests", sa.Integer, nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("extended", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("finished_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("returned_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("closed_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("classification", sa.String(10), nullable=True))
        batch.add_column(sa.Column("result", sa.JSON, nullable=True))
        batch.add_column(sa.Column("due_soon_sent_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("overdue_sent_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("next_check_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("log_length", sa.Integer, nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("log_head", sa.String(64), nullable=True))
        batch.create_foreign_key("fk_case_definition_id_process_definition",
                                 "process_definition", ["definition_id"], ["id"])
        batch.create_foreign_key("fk_case_parent_case_id_case", "case",
                                 ["parent_case_id"], ["id"])
        batch.create_index("ix_case_next_check_at", ["next_check_at"])
        batch.create_index("ix_case_parent_case_id", ["parent_case_id"])
        batch.create_index("ix_case_current_agency_status", ["current_agency_code", "status"])
    op.execute('UPDATE "case" SET current_agency_code = agency_code')

    op.create_table(
        "deadline_entry",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id",
                  name="fk_deadline_entry_case_id_case"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("amount", sa.Integer, nullable=True),
        sa.Column("unit", sa.String(20), nullable=True),
        sa.Column("cutoff", sa.String(5), nullable=True),
        sa.Column("new_due_at", UtcDateTime, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("actor_id", sa.String(100), nullable=True),
        sa.Column("ref", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deadline_entry"),
        sa.UniqueConstraint("case_id", "seq", name="uq_deadline_entry_case_seq"),
    )
    op.create_table(
        "transfer_leg",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id",
                  name="fk_transfer_leg_case_id_case"), nullable=False),
        sa.Column("leg", sa.Integer, nullable=False),
        sa.Column("from_agency_code", sa.String(35), nullable=False),
        sa.Column("to_agency_code", sa.String(35), nullable=False),
        sa.Column("to_level", sa.String(20), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("sent_at", UtcDateTime, nullable=False),
        sa.Column("sent_by", sa.String(100), nullable=False),
        sa.Column("acknowledge_by", UtcDateTime, nullable=False),
        sa.Column("acknowledged_at", UtcDateTime, nullable=True),
        sa.Column("acknowledged_by", sa.String(100), nullable=True),
        sa.Column("ack_alerted_at", UtcDateTime, nullable=True),
        sa.Column("budget_minutes", sa.Integer, nullable=True),
        sa.Column("leg_due_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_transfer_leg"),
        sa.UniqueConstraint("case_id", "leg", name="uq_transfer_leg_case_leg"),
    )
    op.create_table(
        "supplement_request",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id",
                  name="fk_supplement_request_case_id_case"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("requested_at", UtcDateTime, nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("supplemented_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_supplement_request"),
    )
    op.create_index("ix_supplement_request_case", "supplement_request", ["case_id"])
    op.create_table(
        "apology",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id",
                  name="fk_apology_case_id_case"), nullable=False),
        sa.Column("dossier_code", sa.String(60), nullable=False),
        sa.Column("drafted_at", UtcDateTime, nullable=False),
        sa.Column("drafted_by", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("original_due_at", UtcDateTime, nullable=False),
        sa.Column("proposed_due_at", UtcDateTime, nullable=False),
        sa.Column("notice_deadline", UtcDateTime, nullable=False),
        sa.Column("issued_at", UtcDateTime, nullable=True),
        sa.Column("issued_by", sa.String(100), nullable=True),
        sa.Column("new_due_at", UtcDateTime, nullable=True),
        sa.Column("notice_in_time", sa.Boolean, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_apology"),
        sa.UniqueConstraint("case_id", name="uq_apology_case_id"),
    )
    op.create_table(
        "task",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id",
                  name="fk_task_case_id_case"), nullable=False),
        sa.Column("dossier_code", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("step_key", sa.String(60), nullable=True),
        sa.Column("agency_code", sa.String(35), nullable=False),
        sa.Column("role", sa.String(60), nullable=True),
        sa.Column("assignee_id", sa.String(100), nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("claimed_at", UtcDateTime, nullable=True),
        sa.Column("due_at", UtcDateTime, nullable=True),
        sa.Column("due_soon_at", UtcDateTime, nullable=True),
        sa.Column("done_at", UtcDateTime, nullable=True),
        sa.Column("done_by", sa.String(100), nullable=True),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_task"),
    )
    op.create_index("ix_task_agency_state", "task", ["agency_code", "state", "due_at"])
    op.create_index("ix_task_assignee_state", "task", ["assignee_id", "state"])
    op.create_index("ix_task_case", "task", ["case_id"])
    op.create_table(
        "process_log_entry",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id",
                  name="fk_process_log_entry_case_id_case"), nullable=False),
        sa.Column("dossier_code", sa.String(80), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor_id", sa.String(100), nullable=False),
        sa.Column("actor_role", sa.String(60), nullable=True),
        sa.Column("agency_code", sa.String(35), nullable=True),
        sa.Column("status_before", sa.Integer, nullable=True),
        sa.Column("status_after", sa.Integer, nullable=True),
        sa.Column("step_key", sa.String(60), nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_process_log_entry"),
        sa.UniqueConstraint("case_id", "seq", name="uq_process_log_entry_case_seq"),
    )


def downgrade() -> None:
    for table in ("process_log_entry", "task", "apology", "supplement_request",
                  "transfer_leg", "deadline_entry"):
        op.drop_table(table)
    with op.batch_alter_table("case") as batch:
        batch.drop_index("ix_case_current_agency_status")
        batch.drop_index("ix_case_parent_case_id")
        batch.drop_index("ix_case_next_check_at")
        batch.drop_constraint("fk_case_parent_case_id_case", type_="foreignkey")
        batch.drop_constraint("fk_case_definition_id_process_definition", type_="foreignkey")
        for column in ("log_head", "log_length", "next_check_at", "overdue_sent_at",
                       "due_soon_sent_at", "result", "classification", "closed_at",
                       "returned_at", "finished_at", "extended", "supplement_requests",
                       "paused_since", "statutory_due_at", "due_at", "intake_due_at",
                       "statutory_cutoff", "statutory_unit", "statutory_amount",
                       "received_at", "step_entered_at", "current_step",
                       "current_agency_code", "member_procedures", "bundle_code",
                       "parent_case_id", "channel",
                       "definition_version", "definition_id"):
            batch.drop_column(column)
    op.drop_table("process_definition")
