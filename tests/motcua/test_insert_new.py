"""``db.insert_new``: a use case's new rows in one statement per table, outside the unit of
work, with outbox rows from ``outbox.new_row`` (real SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Integer,
    String,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from motcua import outbox
from motcua.contracts.intake import DossierSubmittedV1
from motcua.db import create_engine, insert_new, kit_metadata, outbox_table, session_factory, utcnow


class _Base(DeclarativeBase):
    pass


class Parent(_Base):
    __tablename__ = "parent"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    # Attribute and column named differently: rows are keyed by column.
    label: Mapped[str] = mapped_column("title", String(50))


class Child(_Base):
    __tablename__ = "child"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    parent_code: Mapped[str] = mapped_column(ForeignKey("parent.code"))
    note: Mapped[str] = mapped_column(String(50))
    rank: Mapped[int] = mapped_column(Integer, default=7)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Stamped(_Base):
    __tablename__ = "stamped"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), server_default="plain")


def _event(code: str) -> DossierSubmittedV1:
    return DossierSubmittedV1(dossier_code=code, agency_code="A", procedure_code="1.000001",
                              status=1, occurred_at=utcnow(), channel="direct",
                              applicant_kind="individual")


@pytest.fixture
async def rig(make_database: Any) -> Any:
    engine = create_engine(await make_database("insert_new"))
    async with engine.begin() as conn:
        await conn.run_sync(kit_metadata.create_all)
        await conn.run_sync(_Base.metadata.create_all)
    inserts: list[tuple[str, bool]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _seen(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any,
              many: bool) -> None:
        if statement.startswith("INSERT"):
            inserts.append((statement.split()[2], many))

    wakes: list[int] = []
    sessions = session_factory(engine, relay_wake=lambda: wakes.append(1))
    try:
        yield SimpleNamespace(sessions=sessions, inserts=inserts, wakes=wakes)
    finally:
        await engine.dispose()


async def test_one_statement_per_table_in_the_order_named(rig: Any) -> None:
    sessions, inserts, wakes = rig.sessions, rig.inserts, rig.wakes
    parent = Parent(code="P1", label="first")
    children = [Child(parent_code="P1", note=n) for n in ("c", "a", "b")]
    async with sessions() as session, session.begin():
        first = outbox.new_row(session, _event("P1"), province="H56", key="P1", sequence=1)
        second = outbox.new_row(session, _event("P1"), province="H56", key="P1", sequence=2)
        # Event ids ascend with time; rows keep the order given even when it is not theirs.
        await insert_new(session, parent, children[0], second, children[1], first,
                         children[2])
        assert not session.new and not session.dirty
        assert wakes == []  # not before the commit
    assert inserts == [("parent", False), ("child", True), ("outbox", True)]
    assert wakes == [1]
    assert all(inspect(obj).transient for obj in (parent, *children, first, second))
    async with sessions() as session:
        assert (await session.scalar(select(Parent.label))) == "first"
        got = (await session.execute(select(Child.id, Child.note).order_by(Child.id))).all()
        assert [note for _, note in got] == ["c", "a", "b"]  # ids given by the database
        assert len({i for i, _ in got}) == 3
        rows = (await session.execute(select(outbox_table.c.event_id, outbox_table.c.attempts)
                                      .order_by(outbox_table.c.seq))).all()
        assert [r.event_id for r in rows] == [second.event_id, first.event_id]
        assert {r.attempts for r in rows} == {0}
        assert first.envelope.id == first.event_id and first.envelope.sequence == 1


async def test_a_rolled_back_transaction_leaves_nothing_and_announces_nothing(
        rig: Any) -> None:
    sessions, wakes = rig.sessions, rig.wakes
    with contextlib.suppress(RuntimeError):
        async with sessions() as session, session.begin():
            row = outbox.new_row(session, _event("P2"), province="H56", key="P2")
            await insert_new(session, Parent(code="P2", label="x"),
                             Child(parent_code="P2", note="n"), row)
            raise RuntimeError("the use case failed after writing")
    assert wakes == []
    async with sessions() as session:
        for table in (Parent.__table__, Child.__table__, outbox_table):
            assert await session.scalar(select(func.count()).select_from(table)) == 0


async def test_a_row_that_breaks_a_constraint_fails_at_once(rig: Any) -> None:
    from sqlalchemy.exc import IntegrityError

    sessions = rig.sessions
    async with sessions() as session:
        with pytest.raises(IntegrityError):
            async with session.begin():
                await insert_new(session, Parent(code="P3", label="x"),
                                 Parent(code="P3", label="twice"))
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Parent)) == 0


async def test_unset_attributes_are_written_as_the_unit_of_work_writes_them(rig: Any) -> None:
    sessions = rig.sessions
    async with sessions() as session, session.begin():
        session.add(Parent(code="P4", label="pending"))  # flushed first: the rows' parent
        await insert_new(session, Child(parent_code="P4", note="core"),
                         Child(parent_code="P4", note="core", rank=2, extra={"a": 1}))
        session.add(Child(parent_code="P4", note="orm"))
    async with sessions() as session:
        got = (await session.execute(
            select(Child.note, Child.rank, Child.extra.is_(None)).order_by(Child.id))).all()
    # The default applies, and an unset JSON column is SQL NULL (not JSON null) either way.
    assert [tuple(r) for r in got] == [("core", 7, True), ("core", 2, False),
                                       ("orm", 7, True)]


async def test_what_it_cannot_write_as_the_unit_of_work_would_is_refused(rig: Any) -> None:
    sessions = rig.sessions
    async with sessions() as session, session.begin():
        with pytest.raises(ValueError, match=r"Stamped\.kind"):
            await insert_new(session, Stamped(code="S1"))  # the server default: set it
        with pytest.raises(ValueError, match="some rows only"):
            await insert_new(session, Parent(code="P5", label="x"),
                             Child(parent_code="P5", note="a"),
                             Child(id=100, parent_code="P5", note="b"))
    async with sessions() as session:
        for table in (Parent.__table__, Child.__table__, Stamped.__table__):
            assert await session.scalar(select(func.count()).select_from(table)) == 0
