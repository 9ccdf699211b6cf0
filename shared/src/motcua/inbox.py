"""Idempotent consumers: the event id is recorded in the same transaction as the effect.

A redelivered event finds its id already claimed and changes nothing; if the effect's
transaction rolls back, so does the claim, and the redelivery applies it.
"""

import functools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from motcua.db import dialect_insert, inbox_table, utcnow


async def claim(session: AsyncSession, *, consumer: str, event_id: str, event_type: str) -> bool:
    """Record that ``consumer`` handles ``event_id``; False if it already did."""
    insert = dialect_insert(session)
    result = await session.execute(
        insert(inbox_table)
        .values(consumer=consumer, event_id=event_id, event_type=event_type,
                processed_at=utcnow())
        .on_conflict_do_nothing(index_elements=["consumer", "event_id"]))
    return result.rowcount == 1


async def claim_many(session: AsyncSession, *, consumer: str,
                     events: list[tuple[str, str]]) -> set[str]:
    """Record that ``consumer`` handles each ``(event_id, event_type)`` in one statement;
    the ids it had not handled before."""
    now = utcnow()
    rows = [{"consumer": consumer, "event_id": event_id, "event_type": event_type,
             "processed_at": now} for event_id, event_type in events]
    # A list of parameters: SQLAlchemy's "insertmanyvalues" writes them as multi-row
    # INSERTs from one cached compiled statement (a statement built with .values(rows)
    # is compiled afresh every time: about as costly as the round trip under load).
    result = await session.execute(_claim_many(session.bind.dialect.name), rows)
    return set(result.scalars())


@functools.cache
def _claim_many(dialect: str) -> Any:
    return (dialect_insert(dialect)(inbox_table)
            .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
            .returning(inbox_table.c.event_id))
