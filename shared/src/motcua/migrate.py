"""Alembic helpers: each service's ``migrations/env.py`` calls :func:`run_env`.

Migrations are the only source of schema. The kit's tables are created by
:func:`create_kit_tables` from each service's first revision; a later change to a kit
table ships as a kit function called from a new revision in every service.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from motcua.db import UtcDateTime, create_engine, kit_metadata


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    """An Alembic configuration for one service's migrations and database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(migrations_dir: Path, database_url: str, revision: str = "head") -> None:
    """Apply migrations (synchronous; call from a thread when an event loop is running)."""
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(migrations_dir, database_url), revision)


async def upgrade_async(migrations_dir: Path, database_url: str) -> None:
    """Apply migrations from async code."""
    await asyncio.to_thread(upgrade, migrations_dir, database_url)


def run_env(target_metadata: MetaData) -> None:
    """Body of a service's ``env.py``: run migrations online on the async engine."""
    url = context.config.attributes.get("database_url")
    if not url:
        raise RuntimeError("database_url missing: run migrations through `motcua migrate`")
    metadata = [target_metadata, kit_metadata]

    def _run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def _main() -> None:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                await conn.run_sync(_run)
                await conn.commit()
        finally:
            await engine.dispose()

    asyncio.run(_main())


def create_kit_tables() -> None:
    """Create outbox, inbox and idempotency_key (kit schema version 1)."""
    from alembic import op

    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(255), nullable=False),
        sa.Column("aggregate_key", sa.String(100), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("published_at", UtcDateTime, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["seq"],
                    postgresql_where=sa.text("published_at IS NULL"),
                    sqlite_where=sa.text("published_at IS NULL"))
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(255), nullable=False),
        sa.Column("processed_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
    )
    op.create_table(
        "idempotency_key",
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response_body", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_key"),
    )
