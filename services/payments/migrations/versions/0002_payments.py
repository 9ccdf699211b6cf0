"""Fee assessments, payments, gateway callbacks, receipts, refunds, reconciliation.

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
        "assessment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dossier_code", sa.String(length=60), nullable=False),
        sa.Column("agency_code", sa.String(length=35), nullable=False),
        sa.Column("procedure_code", sa.String(length=40), nullable=False),
        sa.Column("applicant_kind", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("exemptions_claimed", sa.JSON(), nullable=False),
        sa.Column("exemptions_applied", sa.JSON(), nullable=False),
        sa.Column("total_vnd", sa.BigInteger(), nullable=False),
        sa.Column("exempted_vnd", sa.BigInteger(), nullable=False),
        sa.Column("payable_vnd", sa.BigInteger(), nullable=False),
        sa.Column("unpriced_lines", sa.Integer(), nullable=False),
        sa.Column("collect", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("settled_vnd", sa.BigInteger(), nullable=False),
        sa.Column("refunded_vnd", sa.BigInteger(), nullable=False),
        sa.Column("released_vnd", sa.BigInteger(), nullable=False),
        sa.Column("released_reason", sa.String(length=20), nullable=True),
        sa.Column("paid_online", sa.Boolean(), nullable=False),
        sa.Column("assessed_at", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment")),
        sa.UniqueConstraint("dossier_code", name=op.f("uq_assessment_dossier_code")),
    )
    op.create_table(
        "gateway_callback",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("reference", sa.String(length=50), nullable=True),
        sa.Column("transaction_id", sa.String(length=100), nullable=True),
        sa.Column("amount_vnd", sa.BigInteger(), nullable=True),
        sa.Column("result_code", sa.String(length=10), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("payment_id", sa.String(length=36), nullable=True),
        sa.Column("client_ip", sa.String(length=45), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_callback")),
    )
    with op.batch_alter_table("gateway_callback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gateway_callback_outcome"), ["outcome"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_gateway_callback_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_gateway_callback_reference"), ["reference"], unique=False
        )

    op.create_table(
        "receipt",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("agency_code", sa.String(length=35), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(length=20), nullable=False),
        sa.Column("symbol", sa.String(length=20), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.String(length=36), nullable=True),
        sa.Column("refund_id", sa.String(length=36), nullable=True),
        sa.Column("dossier_code", sa.String(length=60), nullable=False),
        sa.Column("procedure_code", sa.String(length=40), nullable=False),
        sa.Column("amount_vnd", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("payer_name", sa.String(length=255), nullable=True),
        sa.Column("reference", sa.String(length=50), nullable=True),
        sa.Column("gateway_transaction_id", sa.String(length=100), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("issued_at", UtcDateTime, nullable=False),
        sa.Column("verification_code", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("cancelled_by", sa.String(length=100), nullable=True),
        sa.Column("cancelled_at", UtcDateTime, nullable=True),
        sa.Column("replaces_id", sa.String(length=36), nullable=True),
        sa.Column("replaced_by_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt")),
        sa.UniqueConstraint(
            "agency_code", "kind", "year", "number", name="uq_receipt_series_number"
        ),
    )
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_receipt_dossier_code"), ["dossier_code"], unique=False)
        batch_op.create_index(
            "uq_receipt_issued_payment",
            ["payment_id"],
            unique=True,
            sqlite_where=sa.text("status = 'issued' AND payment_id IS NOT NULL"),
            postgresql_where=sa.text("status = 'issued' AND payment_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_receipt_issued_refund",
            ["refund_id"],
            unique=True,
            sqlite_where=sa.text("status = 'issued' AND refund_id IS NOT NULL"),
            postgresql_where=sa.text("status = 'issued' AND refund_id IS NOT NULL"),
        )

    op.create_table(
        "receipt_counter",
        sa.Column("agency_code", sa.String(length=35), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agency_code", "kind", "year", name=op.f("pk_receipt_counter")),
    )
    op.create_table(
        "reconciliation_run",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_code", sa.String(length=50), nullable=False),
        sa.Column("statement_date", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("lease_until", UtcDateTime, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime, nullable=True),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("missing_ours", sa.Integer(), nullable=False),
        sa.Column("missing_theirs", sa.Integer(), nullable=False),
        sa.Column("mismatched", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_run")),
        sa.UniqueConstraint("partner_code", "statement_date", name="uq_reconciliation_run_day"),
    )
    op.create_table(
        "assessment_line",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("assessment_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("label_vi", sa.String(length=255), nullable=False),
        sa.Column("amount_vnd", sa.BigInteger(), nullable=True),
        sa.Column("collect", sa.String(length=10), nullable=False),
        sa.Column("exemption", sa.String(length=60), nullable=True),
        sa.Column("payable_vnd", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessment.id"],
            name=op.f("fk_assessment_line_assessment_id_assessment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_line")),
    )
    with op.batch_alter_table("assessment_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assessment_line_assessment_id"), ["assessment_id"], unique=False
        )

    op.create_table(
        "payment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=50), nullable=False),
        sa.Column("assessment_id", sa.String(length=36), nullable=False),
        sa.Column("dossier_code", sa.String(length=60), nullable=False),
        sa.Column("agency_code", sa.String(length=35), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("amount_vnd", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("payer_name", sa.String(length=255), nullable=True),
        sa.Column("payment_url", sa.Text(), nullable=True),
        sa.Column("gateway_transaction_id", sa.String(length=100), nullable=True),
        sa.Column("paid_at", UtcDateTime, nullable=True),
        sa.Column("settled_at", UtcDateTime, nullable=True),
        sa.Column("settled_via", sa.String(length=20), nullable=True),
        sa.Column("result_code", sa.String(length=10), nullable=True),
        sa.Column("anomaly", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("transfer_reference", sa.String(length=100), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("requested_at", UtcDateTime, nullable=False),
        sa.Column("last_checked_at", UtcDateTime, nullable=True),
        sa.Column("check_lease_until", UtcDateTime, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["assessment.id"], name=op.f("fk_payment_assessment_id_assessment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint("reference", name=op.f("uq_payment_reference")),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_assessment_id"), ["assessment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_payment_dossier_code"), ["dossier_code"], unique=False)
        batch_op.create_index(
            "ix_payment_status_requested", ["status", "requested_at"], unique=False
        )
        batch_op.create_index(
            "uq_payment_one_pending",
            ["assessment_id"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "reconciliation_item",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=50), nullable=False),
        sa.Column("payment_id", sa.String(length=36), nullable=True),
        sa.Column("our_transaction_id", sa.String(length=100), nullable=True),
        sa.Column("their_transaction_id", sa.String(length=100), nullable=True),
        sa.Column("our_amount_vnd", sa.BigInteger(), nullable=True),
        sa.Column("their_amount_vnd", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_run.id"],
            name=op.f("fk_reconciliation_item_run_id_reconciliation_run"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_item")),
    )
    with op.batch_alter_table("reconciliation_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reconciliation_item_run_id"), ["run_id"], unique=False)

    op.create_table(
        "refund",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("assessment_id", sa.String(length=36), nullable=False),
        sa.Column("payment_id", sa.String(length=36), nullable=False),
        sa.Column("dossier_code", sa.String(length=60), nullable=False),
        sa.Column("agency_code", sa.String(length=35), nullable=False),
        sa.Column("amount_vnd", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=True),
        sa.Column("requested_at", UtcDateTime, nullable=False),
        sa.Column("completed_at", UtcDateTime, nullable=True),
        sa.Column("completed_by", sa.String(length=100), nullable=True),
        sa.Column("transfer_reference", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["assessment.id"], name=op.f("fk_refund_assessment_id_assessment")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_refund_payment_id_payment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund")),
    )
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_refund_assessment_id"), ["assessment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_refund_dossier_code"), ["dossier_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_refund_payment_id"), ["payment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refund_payment_id"))
        batch_op.drop_index(batch_op.f("ix_refund_dossier_code"))
        batch_op.drop_index(batch_op.f("ix_refund_assessment_id"))

    op.drop_table("refund")
    with op.batch_alter_table("reconciliation_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_item_run_id"))

    op.drop_table("reconciliation_item")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_payment_one_pending",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index("ix_payment_status_requested")
        batch_op.drop_index(batch_op.f("ix_payment_dossier_code"))
        batch_op.drop_index(batch_op.f("ix_payment_assessment_id"))

    op.drop_table("payment")
    with op.batch_alter_table("assessment_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessment_line_assessment_id"))

    op.drop_table("assessment_line")
    op.drop_table("reconciliation_run")
    op.drop_table("receipt_counter")
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_receipt_issued_refund",
            sqlite_where=sa.text("status = 'issued' AND refund_id IS NOT NULL"),
            postgresql_where=sa.text("status = 'issued' AND refund_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "uq_receipt_issued_payment",
            sqlite_where=sa.text("status = 'issued' AND payment_id IS NOT NULL"),
            postgresql_where=sa.text("status = 'issued' AND payment_id IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_receipt_dossier_code"))

    op.drop_table("receipt")
    with op.batch_alter_table("gateway_callback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_callback_reference"))
        batch_op.drop_index(batch_op.f("ix_gateway_callback_received_at"))
        batch_op.drop_index(batch_op.f("ix_gateway_callback_outcome"))

    op.drop_table("gateway_callback")
    op.drop_table("assessment")
