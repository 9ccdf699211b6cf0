"""``db.insert_new``: a use case's new rows outside the unit of work, one statement per
table on SQLite and one for all tables on PostgreSQL, with outbox rows from
``outbox.new_row`` (real SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
import re
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    String,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from motcua import db, outbox
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
    # Per INSERT statement: the tables it writes, in the order named, and executemany.
    inserts: list[tuple[tuple[str, ...], bool]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _seen(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any,
              many: bool) -> None:
        if statement.startswith(("INSERT", "WITH")):
            inserts.append((tuple(re.findall(r"INSERT INTO (\w+)", statement)), many))

    wakes: list[int] = []
    sessions = session_factory(engine, relay_wake=lambda: wakes.append(1))
    try:
        yield SimpleNamespace(sessions=sessions, inserts=inserts, wakes=wakes,
                              backend=engine.dialect.name)
    finally:
        await engine.dispose()


async def test_rows_keep_the_order_given_in_as_few_statements_as_the_database_allows(
        rig: Any) -> None:
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
    if rig.backend == "postgresql":  # one round trip: parent and child as CTEs
        assert inserts == [(("parent", "child", "outbox"), False)]
    else:
        assert inserts == [(("parent",), False), (("child",), True), (("outbox",), True)]
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


async def test_values_are_written_as_their_columns_bind_them(
        rig: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """JSON, SQL NULL, defaults and UTC timestamps alike whether the tables share a
    statement (PostgreSQL) or not. One shape is kept: a first shape, another (one more
    row, which replaces it), the first again (made again), the first with other values
    (its statement reused)."""
    monkeypatch.setattr(db, "_TOGETHER_SHAPES", 1)
    sessions = rig.sessions
    for code, extras in (("P6", [{"a": [1, "á"]}, None]), ("P7", [None, {"b": None}, {}]),
                         ("P9", [None, [2, 3]]), ("P10", ["x", None])):
        async with sessions() as session, session.begin():
            row = outbox.new_row(session, _event(code), province="H56", key=code)
            await insert_new(session, Parent(code=code, label="đơn"), row,
                             *(Child(parent_code=code, note=str(i), extra=extra)
                               for i, extra in enumerate(extras)))
        async with sessions() as session:
            got = (await session.execute(
                select(Child.note, Child.rank, Child.extra, Child.extra.is_(None))
                .where(Child.parent_code == code).order_by(Child.id))).all()
            assert [tuple(r) for r in got] == [
                (str(i), 7, extra, extra is None) for i, extra in enumerate(extras)]
            stored = (await session.execute(
                select(outbox_table.c.created_at, outbox_table.c.payload)
                .where(outbox_table.c.aggregate_key == code))).one()
            assert stored.created_at == row.created_at  # aware UTC, as written
            assert stored.created_at.tzinfo is not None
            assert bytes(stored.payload) == row.payload
            assert await session.scalar(select(Parent.label).where(
                Parent.code == code)) == "đơn"


async def test_past_the_parameter_limit_each_table_has_its_own_statement(
        rig: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "_MAX_PARAMETERS", 3)  # parent 2 + child 4 parameters
    async with rig.sessions() as session, session.begin():
        await insert_new(session, Parent(code="P8", label="x"),
                         Child(parent_code="P8", note="n", rank=1))
    assert rig.inserts == [(("parent",), False), (("child",), False)]
    async with rig.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Child)) == 1


async def test_a_value_its_column_refuses_writes_nothing(rig: Any) -> None:
    """The columns' bind processors run (a naive timestamp is refused by UtcDateTime)."""
    sessions = rig.sessions
    async with sessions() as session:
        with pytest.raises(Exception, match="naive datetime"):
            async with session.begin():
                row = outbox.new_row(session, _event("P11"), province="H56", key="P11")
                row.created_at = row.created_at.replace(tzinfo=None)
                await insert_new(session, Parent(code="P11", label="x"), row)
    async with sessions() as session:
        for table in (Parent.__table__, outbox_table):
            assert await session.scalar(select(func.count()).select_from(table)) == 0


async def test_a_constraint_broken_in_one_table_writes_none_of_them(rig: Any) -> None:
    from sqlalchemy.exc import IntegrityError

    sessions = rig.sessions
    async with sessions() as session, session.begin():
        session.add(Parent(code="P12", label="there"))
    async with sessions() as session:
        with pytest.raises(IntegrityError):
            async with session.begin():
                await insert_new(session, Child(parent_code="P12", note="n"),
                                 Child(parent_code="P13", note="no such parent"),
                                 Parent(code="P12", label="twice"))
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Child)) == 0
        assert await session.scalar(select(Parent.label)) == "there"


class Counted(_Base):
    """A table with a column the mapping leaves out but whose Python default applies."""

    __tablename__ = "counted"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)


Counted.__table__.append_column(Column("tally", Integer, default=3))


async def test_an_unmapped_column_with_a_python_default_gets_it(rig: Any) -> None:
    """Such a table goes per table on PostgreSQL too (the default is SQLAlchemy's)."""
    async with rig.sessions() as session, session.begin():
        await insert_new(session, Parent(code="P14", label="x"), Counted(code="C1"))
    assert [tables for tables, _ in rig.inserts] == [("parent",), ("counted",)]
    async with rig.sessions() as session:
        assert (await session.execute(
            select(Counted.__table__.c.tally))).scalar_one() == 3
