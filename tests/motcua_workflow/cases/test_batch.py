"""A batch of intake's events through workflow's batch handler (submissions opened
together, ``cases.open_submitted``) leaves exactly what the per-event handlers leave
applied one at a time in the same order: every table's rows and the events sent on.
Real SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import JSON, event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from motcua.calendar import TIMEZONE
from motcua.consumer import causation
from motcua.contracts.intake import (
    DossierReceivedV1,
    DossierRefusedV1,
    DossierSubmittedV1,
    DossierSupplementedV1,
    DossierWithdrawnV1,
    StatutoryTime,
)
from motcua.db import outbox_table, session_factory
from motcua.events import Envelope, EventData
from motcua_workflow import migrations_dir
from motcua_workflow.cases import core
from motcua_workflow.config import Settings
from motcua_workflow.consumers import batch_handlers, handlers
from motcua_workflow.context import Workflow
from motcua_workflow.db import Base
from motcua_workflow.models import load_all
from motcua_workflow.processlog import service as processlog
from tests.motcua_workflow.helpers import ManualClock, at

PROVINCE = "TWFB"
AGENCY = f"000.01.17.{PROVINCE}"
BUNDLE, MEMBERS = "2.000986", ["1.001193", "1.004222", "1.014137"]
#: Generated per run (row ids and what hashes them); compared through the case they name.
GENERATED = {"id", "event_id", "definition_id", "hash", "prev_hash", "log_head",
             "process_log_hash", "created_at"}


@pytest.fixture
async def engines(migrated_engines) -> tuple[AsyncEngine, AsyncEngine]:
    """Two fresh, migrated workflow databases: one event at a time, and in batches."""
    one_by_one, batched = await migrated_engines(migrations_dir(), "one_by_one", "batched")
    return one_by_one, batched


def _workflow() -> Workflow:
    """Workflow's collaborators (the handlers get the session they write to)."""
    return Workflow.build(Settings(province=PROVINCE), ManualClock(at(2026, 3, 2, 9)))


def _events(seed: int, dossiers: int) -> list[tuple[Envelope, EventData]]:
    """Intake's events about ``dossiers`` dossiers in a delivery order with runs of
    submissions, submissions after other events of their dossier and submissions
    repeated under a new event id (an intake retry)."""
    rnd = random.Random(seed)
    received_at = at(2026, 3, 2, 8)
    stories: list[list[tuple[Envelope, EventData]]] = []
    for n in range(dossiers):
        code = f"{AGENCY}-260302-{n + 1:04d}"
        bundle = n % 7 == 3  # a liên thông bundle: received, it opens member cases
        common = {"dossier_code": code, "agency_code": AGENCY,
                  "procedure_code": BUNDLE if bundle else "1.004884"}
        owner = f"owner-{n}" if n % 3 else None
        members = {"bundle_code": BUNDLE, "member_procedures": MEMBERS} if bundle else {}
        story: list[EventData] = [DossierSubmittedV1(
            **common, status=1, occurred_at=received_at, channel="online",
            applicant_kind="individual", owner_ref=owner, **members)]
        if rnd.random() < 0.15:
            story.append(story[0])  # the same submission again, as a new event
        if rnd.random() < 0.5:
            story.append(DossierReceivedV1(
                **common, status=2, occurred_at=received_at, channel="direct",
                received_at=received_at, due_at=received_at + timedelta(days=7),
                statutory_time=StatutoryTime(amount=5, unit="working_days"),
                received_by="desk-1", owner_ref=f"owner-{n}"))
            if rnd.random() < 0.3:
                story.append(DossierWithdrawnV1(**common, status=7, occurred_at=received_at,
                                                reason="không còn nhu cầu"))
            elif rnd.random() < 0.3:
                story.append(DossierSupplementedV1(**common, status=4,
                                                   occurred_at=received_at, document_count=1))
        elif rnd.random() < 0.2:
            story.append(DossierRefusedV1(**common, status=3, occurred_at=received_at,
                                          reasons=["thiếu tờ khai"]))
        if rnd.random() < 0.2:
            story.insert(0, story.pop())  # a later event delivered before the submission
        stories.append([(Envelope.wrap(data, province="TINTAKE", key=code), data)
                        for data in story])
    # The dossiers interleaved, each one's events in its order.
    mixed: list[tuple[Envelope, EventData]] = []
    while stories:
        story_events = rnd.choice(stories)
        mixed.append(story_events.pop(0))
        if not story_events:
            stories.remove(story_events)
    return mixed


async def _one_by_one(engine: AsyncEngine, items: list[tuple[Envelope, EventData]]) -> None:
    wf = _workflow()
    by_type = handlers(wf)["workflow-intake"]
    sessions = session_factory(engine)
    for envelope, data in items:
        async with sessions() as session, session.begin():
            with causation(envelope):
                await by_type[envelope.type](envelope, data, session)


async def _batched(engine: AsyncEngine, items: list[tuple[Envelope, EventData]],
                   size: int) -> list[tuple[int, int]]:
    """Batches of ``size`` events, each in one transaction as the consumer runner runs
    them; per batch, its submissions and the statements it took."""
    wf = _workflow()
    batch = batch_handlers(wf)["workflow-intake"]
    sessions = session_factory(engine)
    statements = [0]

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        statements[0] += 1

    out = []
    for start in range(0, len(items), size):
        chunk = items[start:start + size]
        statements[0] = 0
        async with sessions() as session, session.begin():
            await batch(chunk, session)
        out.append((sum(e.type == DossierSubmittedV1.event_type() for e, _ in chunk),
                    statements[0]))
    event.remove(engine.sync_engine, "before_cursor_execute", _count)
    return out


async def _state(engine: AsyncEngine) -> dict[str, Any]:
    """Every table's rows, generated ids replaced by the dossier of the case they name."""
    load_all()
    sessions = session_factory(engine)
    async with sessions() as session:
        tables = {t.name: t for t in Base.metadata.sorted_tables}
        cases = {r.id: r.dossier_code for r in await session.execute(select(tables["case"]))}

        def plain(row: dict[str, Any]) -> str:
            return json.dumps({k: (f"case:{cases[v]}" if isinstance(v, str) and v in cases
                                   else v) for k, v in row.items() if k not in GENERATED},
                              default=str, sort_keys=True)

        out: dict[str, Any] = {}
        for name, table in tables.items():
            if name in ("inbox", "outbox", "process_definition"):
                continue
            # A JSON column's SQL NULL and JSON null both read as None: compare which.
            nulls = [c.is_(None).label(f"{c.name}.is_sql_null") for c in table.columns
                     if isinstance(c.type, JSON)]
            rows = (await session.execute(select(table, *nulls))).mappings().all()
            out[name] = sorted(plain(dict(r)) for r in rows)
        # Each case's process log is a valid chain ending at the case's head.
        out["chains"] = sorted([
            (code, (await processlog.verify(session, case)).valid)
            for code, case in (await core.find_many(session, list(cases.values()))).items()])
        sent = []
        for r in await session.execute(select(outbox_table).order_by(outbox_table.c.seq)):
            envelope = Envelope.from_bytes(r.payload)
            sent.append([envelope.type, envelope.subject, envelope.sequence,
                         envelope.correlationid, envelope.causationid,
                         plain(envelope.data)])
        out["sent"] = sent
    return out


class TestIntakeEventsBatched:
    """The ``workflow-intake`` batch handler against the per-event handlers."""

    @pytest.mark.parametrize("seed", [5, 23])
    async def test_batches_leave_what_one_event_at_a_time_leaves(
            self, engines: tuple[AsyncEngine, AsyncEngine], seed: int) -> None:
        items = _events(seed, dossiers=40)
        await _one_by_one(engines[0], items)
        await _batched(engines[1], items, size=25)
        expected, got = await _state(engines[0]), await _state(engines[1])
        cases = [json.loads(r) for r in expected["case"]]
        assert len([c for c in cases if "~" not in c["dossier_code"]]) == 40
        assert [c for c in cases if "~" in c["dossier_code"]]  # members of a bundle
        assert {c["status"] for c in cases} >= {1, 2, 3, 7}
        assert expected["chains"] and all(valid for _, valid in got["chains"])
        assert len(expected["sent"]) > 100
        assert all(s[4] is not None for s in expected["sent"])  # each names its cause
        for name in expected:
            assert got[name] == expected[name], name

    async def test_a_run_of_submissions_is_opened_with_a_few_statements(
            self, engines: tuple[AsyncEngine, AsyncEngine]) -> None:
        """Read and write per batch, not per event: 25 submissions take a locked read of
        the cases, the definition's lookup and one write (one statement on PostgreSQL, one
        per table on SQLite, which also counts its BEGIN IMMEDIATE); one at a time, each
        took a read and a flush of three tables. (The first batch stores the packaged
        definition, after which its transaction looks the definition up every time.)"""
        occurred = at(2026, 3, 2, 8).astimezone(TIMEZONE)
        items = []
        for n in range(50):
            data = DossierSubmittedV1(
                dossier_code=f"{AGENCY}-260302-{n + 1:04d}", agency_code=AGENCY,
                procedure_code="1.004884", status=1, occurred_at=occurred, channel="online",
                applicant_kind="individual")
            items.append((Envelope.wrap(data, province="TINTAKE", key=data.dossier_code), data))
        first, second = await _batched(engines[1], items, size=25)
        assert first[0] == second[0] == 25
        assert second[1] <= 6, (first, second)
        await _one_by_one(engines[0], items)
        expected, got = await _state(engines[0]), await _state(engines[1])
        assert got == expected
