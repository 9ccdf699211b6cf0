"""Workflow's case events as intake mirrors them for tracking (the wire format of each)."""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import nats
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.consumer import causation
from motcua.contracts.workflow import (
    CaseExtendedV1,
    CaseStatusChangedV1,
    CaseSupplementRequestedV1,
)
from motcua.db import utcnow
from motcua.events import Envelope, EventData
from motcua.testing import Mesh, RunningService, wait_for
from tests.e2e.helpers import dossier_body
from tests.motcua_intake.helpers import desk, submit, ward


class TestExtension:
    async def test_new_appointment_and_reason_reach_tracking(self, mesh: Mesh,
                                                             intake) -> None:
        body = dossier_body(ward(mesh), receive_now=True)
        dossier = await submit(intake, body, desk(mesh))
        new_due = utcnow() + timedelta(days=10)
        data = CaseExtendedV1(case_id="c1", dossier_code=dossier["code"],
                              agency_code=ward(mesh), occurred_at=utcnow(), apology_id="a1",
                              original_due_at=utcnow(), new_due_at=new_due,
                              reason="Cần xác minh thêm", notice_in_time=True)
        envelope = Envelope.wrap(data, province=mesh.province, key=dossier["code"], sequence=4)
        nc = await nats.connect(mesh.nats_url)
        try:
            await nc.jetstream().publish(data.subject(mesh.province), envelope.to_bytes())
        finally:
            await nc.close()
        factor = body["applicant"]["id_number"][-4:]

        async def moved():  # type: ignore[no-untyped-def]
            view = (await intake.client.get(f"/v1/tracking/{dossier['code']}",
                                            params={"factor": factor})).json()
            due = datetime.fromisoformat(view["due_at"])
            return view if due != datetime.fromisoformat(dossier["due_at"]) else None

        view = await wait_for(moved, what="new appointment")
        assert datetime.fromisoformat(view["due_at"]) == new_due
        assert "Cần xác minh thêm" in view["timeline"][-1]["note_vi"]


def test_intake_is_delivered_only_the_case_events_it_mirrors() -> None:
    """Its durable's filter names exactly the workflow events it has handlers for."""
    from motcua.contracts import workflow as wf
    from motcua.events import EventData
    from motcua.streams import CONSUMERS
    from motcua_intake.consumers import handlers

    spec = next(c for c in CONSUMERS if c.durable == "intake-workflow")
    mirrored = set(handlers()["intake-workflow"])
    contracts = [c for c in vars(wf).values() if isinstance(c, type)
                 and issubclass(c, EventData) and c.__module__ == wf.__name__
                 and "event" in vars(c)]
    assert len(contracts) > len(mirrored) == 3
    for contract in contracts:
        delivered = spec.receives(contract.subject("H56"), "H56")
        assert delivered == (contract.event_type() in mirrored), contract


class TestBatches:
    """A batch of case events through the batch handler (one locked read of the
    dossiers, one flush) leaves what the per-event handlers leave in the same order."""

    async def test_a_batch_leaves_what_one_event_at_a_time_leaves(
            self, mesh: Mesh, intake: RunningService) -> None:
        from motcua_intake.consumers import batch_handlers, handlers
        from motcua_intake.dossiers.models import Dossier, DossierHistory

        rnd = random.Random(7)
        codes = []
        for n in range(12):
            body = dossier_body(ward(mesh), receive_now=n % 4 != 0)  # some stay at 1
            codes.append((await submit(intake, body, desk(mesh)))["code"])
        codes.append(f"{ward(mesh)}-260101-9999")  # no such dossier
        start = utcnow()
        items: list[tuple[Envelope, EventData]] = []
        for i in range(60):
            code = rnd.choice(codes)
            common: dict[str, Any] = {"case_id": "c", "dossier_code": code,
                                      "agency_code": ward(mesh),
                                      "occurred_at": start + timedelta(minutes=i)}
            kind = rnd.random()
            data: EventData
            if kind < 0.5:
                data = CaseStatusChangedV1(**common, status=rnd.choice([4, 4, 5, 6, 8, 9]),
                                           due_at=start + timedelta(days=rnd.randint(3, 9)))
            elif kind < 0.75:
                data = CaseSupplementRequestedV1(**common, request_id=f"r{i}",
                                                 items=[f"giấy tờ {i}"], request_count=1)
            else:
                data = CaseExtendedV1(**common, apology_id=f"a{i}", original_due_at=start,
                                      new_due_at=start + timedelta(days=12 + i),
                                      reason=f"lý do {i}", notice_in_time=True)
            # Sequences mostly grow, with stale ones among them.
            sequence = i + 2 if rnd.random() < 0.85 else rnd.randint(1, i + 2)
            items.append((Envelope.wrap(data, province=mesh.province, key=code,
                                        sequence=sequence), data))
        by_type = handlers()["intake-workflow"]
        batch = batch_handlers()["intake-workflow"]
        sessions = intake.runtime.sessions
        #: Reads and updates of the dossier table (not the relay's, nor history's inserts,
        #: which are the same either way).
        statements = [0, 0]

        @event.listens_for(intake.runtime.engine.sync_engine, "before_cursor_execute")
        def _count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            if statement.startswith("SELECT dossier.code"):
                statements[0] += 1
            elif statement.startswith("UPDATE dossier "):
                statements[1] += 1

        async def state(session: AsyncSession) -> tuple[list[str], list[str]]:
            dossiers = [json.dumps({c.key: getattr(d, c.key) for c in
                                    Dossier.__table__.columns}, default=str)
                        for d in await session.scalars(select(Dossier).order_by(Dossier.code))]
            history = [json.dumps([h.dossier_code, h.at, h.status, h.kind, h.source,
                                   h.note_vi, h.note_en], default=str)
                       for h in await session.scalars(
                           select(DossierHistory).order_by(DossierHistory.id))]
            return dossiers, history

        class Undo(Exception):
            pass

        async def undone(apply: Callable[[AsyncSession], Awaitable[None]]
                         ) -> tuple[tuple[list[str], list[str]], list[int]]:
            """What ``apply`` leaves in one transaction, and its statements; rolled back."""
            try:
                async with sessions() as session, session.begin():
                    statements[:] = [0, 0]
                    await apply(session)
                    await session.flush()
                    taken = list(statements)
                    left = await state(session)
                    raise Undo
            except Undo:
                return left, taken

        async def one_at_a_time(session: AsyncSession) -> None:
            for envelope, data in items:
                with causation(envelope):
                    await by_type[envelope.type](envelope, data, session)

        async def batched(session: AsyncSession) -> None:
            await batch(items, session)

        async with sessions() as session:
            before = await state(session)
        try:
            expected, alone = await undone(one_at_a_time)
            got, together = await undone(batched)
        finally:
            event.remove(intake.runtime.engine.sync_engine, "before_cursor_execute", _count)
        assert expected[0] != before[0] and len(expected[1]) > len(before[1])
        assert got == expected
        # One locked read instead of one per event; the updates grouped by the columns
        # they change instead of one per change.
        assert alone[0] == len(items) and together[0] == 1, (alone, together)
        assert together[1] < alone[1] / 3, (alone, together)
