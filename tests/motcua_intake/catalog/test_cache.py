"""The submission path's catalog cache: a procedure's definition is parsed once per cached
copy, and a change another replica made is seen once the copy is reloaded."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from motcua.db import create_engine, session_factory
from motcua.testing import RunningService
from motcua_intake.catalog import cache
from motcua_intake.catalog.cache import CachedCatalog
from motcua_intake.catalog.models import Procedure

BIRTH = "1.001193"


async def test_parsed_once_per_copy_and_again_after_another_replicas_change(
        intake: RunningService, monkeypatch: pytest.MonkeyPatch) -> None:
    async with intake.runtime.sessions() as session:
        catalog = CachedCatalog(session)
        procedure = await catalog.procedure(BIRTH)
        assert procedure is not None
        first = catalog.definition(procedure)
        assert catalog.definition(procedure) is first  # not parsed again
        again = await catalog.procedure(BIRTH)  # within the TTL: the same copy
        assert again is procedure and catalog.definition(again) is first
    amount = first.statutory_time.amount
    assert amount is not None

    # Another replica (its own engine: this process's cache is not told) changes the
    # statutory time in the database.
    changed: dict[str, Any] = first.model_dump(mode="json")
    changed["statutory_time"]["amount"] = amount + 4
    other = create_engine(intake.runtime.settings.resolved_database_url())
    try:
        async with session_factory(other)() as session, session.begin():
            await session.execute(update(Procedure).where(Procedure.national_code == BIRTH)
                                  .values(definition=changed))
    finally:
        await other.dispose()

    monkeypatch.setattr(cache, "TTL_S", 0.0)  # the entry has expired: reload it
    async with intake.runtime.sessions() as session:
        catalog = CachedCatalog(session)
        reloaded = await catalog.procedure(BIRTH)
        assert reloaded is not None and reloaded is not procedure
        assert catalog.definition(reloaded).statutory_time.amount == amount + 4
