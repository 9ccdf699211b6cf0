"""Accounts and links, staff memberships, signing keys, logins, population lookups,
citizen data store.

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
    op.create_table('account',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('full_name', sa.String(length=255), nullable=False),
    sa.Column('personal_id', sa.String(length=12), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('assurance_level', sa.Integer(), nullable=True),
    sa.Column('population_verified', sa.Boolean(), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('username', sa.String(length=100), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', UtcDateTime, nullable=False),
    sa.Column('updated_at', UtcDateTime, nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account')),
    sa.UniqueConstraint('username', name=op.f('uq_account_username'))
    )
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.create_index('ix_account_email', ['email'], unique=False)
        batch_op.create_index('ix_account_personal_id', ['personal_id'], unique=False)

    op.create_table('login_attempt',
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('audience', sa.String(length=10), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('code_verifier', sa.String(length=128), nullable=False),
    sa.Column('min_assurance', sa.Integer(), nullable=True),
    sa.Column('created_at', UtcDateTime, nullable=False),
    sa.Column('expires_at', UtcDateTime, nullable=False),
    sa.Column('completed_at', UtcDateTime, nullable=True),
    sa.PrimaryKeyConstraint('state', name=op.f('pk_login_attempt'))
    )
    op.create_table('population_lookup',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('at', UtcDateTime, nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('actor_kind', sa.String(length=10), nullable=False),
    sa.Column('purpose', sa.String(length=30), nullable=False),
    sa.Column('dossier_code', sa.String(length=60), nullable=True),
    sa.Column('personal_id', sa.String(length=12), nullable=False),
    sa.Column('backend', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_population_lookup'))
    )
    with op.batch_alter_table('population_lookup', schema=None) as batch_op:
        batch_op.create_index('ix_population_lookup_actor_at', ['actor', 'at'], unique=False)
        batch_op.create_index('ix_population_lookup_personal_id', ['personal_id'],
                              unique=False)

    op.create_table('signing_key',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('alg', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('public_jwk', sa.Text(), nullable=False),
    sa.Column('private_jwk', sa.Text(), nullable=False),
    sa.Column('encrypted', sa.Boolean(), nullable=False),
    sa.Column('created_at', UtcDateTime, nullable=False),
    sa.Column('retired_at', UtcDateTime, nullable=True),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_signing_key'))
    )
    with op.batch_alter_table('signing_key', schema=None) as batch_op:
        batch_op.create_index('uq_signing_key_current', ['status'], unique=True,
                              sqlite_where=sa.text("status = 'current'"),
                              postgresql_where=sa.text("status = 'current'"))

    op.create_table('stored_document',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('owner_personal_id', sa.String(length=12), nullable=False),
    sa.Column('document_type', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('issuing_agency', sa.String(length=35), nullable=False),
    sa.Column('procedure_code', sa.String(length=40), nullable=True),
    sa.Column('dossier_code', sa.String(length=60), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('content_uri', sa.String(length=500), nullable=True),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('stored_at', UtcDateTime, nullable=False),
    sa.Column('stored_by', sa.String(length=255), nullable=False),
    sa.Column('reuse_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stored_document'))
    )
    with op.batch_alter_table('stored_document', schema=None) as batch_op:
        batch_op.create_index('ix_stored_document_owner', ['owner_personal_id'], unique=False)

    op.create_table('document_reuse',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('document_id', sa.String(length=36), nullable=False),
    sa.Column('dossier_code', sa.String(length=60), nullable=False),
    sa.Column('component_code', sa.String(length=60), nullable=False),
    sa.Column('procedure_code', sa.String(length=40), nullable=True),
    sa.Column('reused_at', UtcDateTime, nullable=False),
    sa.Column('reused_by', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['stored_document.id'],
                            name=op.f('fk_document_reuse_document_id_stored_document')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_reuse')),
    sa.UniqueConstraint('document_id', 'dossier_code', 'component_code',
                        name='uq_document_reuse_target')
    )
    op.create_table('identity_link',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('assurance_level', sa.Integer(), nullable=True),
    sa.Column('linked_at', UtcDateTime, nullable=False),
    sa.Column('last_login_at', UtcDateTime, nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'],
                            name=op.f('fk_identity_link_account_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_link')),
    sa.UniqueConstraint('issuer', 'subject', name='uq_identity_link_subject')
    )
    with op.batch_alter_table('identity_link', schema=None) as batch_op:
        batch_op.create_index('ix_identity_link_account', ['account_id'], unique=False)

    op.create_table('staff_membership',
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('agency_code', sa.String(length=35), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('granted_at', UtcDateTime, nullable=False),
    sa.Column('granted_by', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'],
                            name=op.f('fk_staff_membership_account_id_account')),
    sa.PrimaryKeyConstraint('account_id', 'agency_code', 'role', name=op.f('pk_staff_membership'))
    )


def downgrade() -> None:
    for table in ("staff_membership", "identity_link", "document_reuse", "stored_document",
                  "signing_key", "population_lookup", "login_attempt", "account"):
        op.drop_table(table)
