"""Async SQLAlchemy engines and sessions for SQLite and PostgreSQL from the same code.

SQLite is the embedded default: one connection per process (see :func:`create_engine`),
WAL journal, foreign keys on every connection, a busy
timeout, and ``BEGIN IMMEDIATE`` so a transaction takes the write lock up front instead
of failing half-way when it first writes (SQLite cannot upgrade a read lock safely under
concurrency). PostgreSQL is the production database.

The kit's own tables (outbox, inbox, idempotency keys) live in :data:`kit_metadata`;
each service's Alembic migrations create them next to its own tables.
"""

from __future__ import annotations

import contextvars
import errno
import logging
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    event,
    null,
    text,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.sql.elements import Null
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util.queue import AsyncAdaptedQueue

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both SQLite (which stores naive text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current instant in UTC (aware)."""
    return datetime.now(UTC)


kit_metadata = MetaData(naming_convention=NAMING)

#: Events written in the business transaction, published by the relay (transactional outbox).
outbox_table = Table(
    "outbox",
    kit_metadata,
    # seq orders publication; on SQLite an INTEGER PRIMARY KEY is the rowid.
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("subject", String(255), nullable=False),
    Column("event_type", String(255), nullable=False),
    Column("aggregate_key", String(100), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("published_at", UtcDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
)
Index("ix_outbox_unpublished", outbox_table.c.seq,
      postgresql_where=outbox_table.c.published_at.is_(None),
      sqlite_where=outbox_table.c.published_at.is_(None))

#: Events a consumer has applied, recorded in the same transaction as the effect.
inbox_table = Table(
    "inbox",
    kit_metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("event_type", String(255), nullable=False),
    Column("processed_at", UtcDateTime, nullable=False),
)

#: Responses remembered for Idempotency-Key replays.
idempotency_table = Table(
    "idempotency_key",
    kit_metadata,
    Column("scope", String(255), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response_body", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)


#: Seconds a background task (a consumer, the relay, a command) waits for a pooled
#: connection before SQLAlchemy raises its ``TimeoutError``; a request waits at most what
#: :func:`waiting_at_most` sets (the setting ``database_request_wait_s``).
POOL_TIMEOUT_S = 30.0

_wait_limit: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "motcua_database_wait_limit", default=None)


@contextmanager
def waiting_at_most(seconds: float | None) -> Iterator[None]:
    """Within this block (and the tasks it starts), a connection of any engine made by
    :func:`create_engine` or :func:`side_engine` is waited for at most ``seconds`` (if
    shorter than the pool's own timeout); then SQLAlchemy's ``TimeoutError``, which a
    request answers with 503 ``service.busy`` (:mod:`motcua.errors`).

    For requests: under overload a client gets a quick refusal it can retry with its
    Idempotency-Key, instead of waiting in the pool's queue for longer than it waits for
    the answer and having its request applied after it gave up. Background work, which
    no client waits for, keeps :data:`POOL_TIMEOUT_S`. ``None`` changes nothing.
    """
    token = _wait_limit.set(seconds)
    try:
        yield
    finally:
        _wait_limit.reset(token)


class _LimitedWaitQueue(AsyncAdaptedQueue):  # type: ignore[type-arg]
    """The pool's queue of free connections, whose wait obeys :func:`waiting_at_most`
    (the limit is read in the task that asks: SQLAlchemy's greenlets keep its context)."""

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        limit = _wait_limit.get()
        if limit is not None and block and (timeout is None or limit < timeout):
            timeout = limit
        return super().get(block, timeout)


class _Pool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio pool with the queue above."""

    _queue_class = _LimitedWaitQueue


def is_sqlite(url: str) -> bool:
    """Whether a database URL names SQLite."""
    return url.startswith("sqlite")


#: Seconds a new PostgreSQL connection may take to open (asyncpg's own default is 60, as
#: long as a client would wait for the request that needs it).
CONNECT_TIMEOUT_S = 10.0


def create_engine(url: str, *, echo: bool = False, pool_size: int = 30,
                  side_pool_size: int = 8,
                  connect_timeout_s: float = CONNECT_TIMEOUT_S) -> AsyncEngine:
    """An async engine configured for SQLite (WAL, FKs, immediate transactions) or PostgreSQL.

    On PostgreSQL the engine keeps up to ``pool_size`` connections and its
    :func:`side_engine` up to ``side_pool_size`` (a service's settings
    ``database_pool_size`` and ``database_side_pool_size``); SQLite ignores both. A
    connection that does not open within ``connect_timeout_s`` raises
    ``TimeoutError`` with errno ETIMEDOUT (see :func:`_connect_timing_out`).
    """
    if is_sqlite(url):
        # One connection per process: every transaction here takes SQLite's single write
        # lock (BEGIN IMMEDIATE below), so a second connection could only wait for it in
        # SQLite's busy handler, which polls with sleeps of up to 100 ms. Waiting for the
        # pool's one connection instead is an asyncio queue: first come, first served,
        # woken the moment the holder commits. Other processes on the same file (the
        # motcua commands) still meet in the busy handler. Nothing may hold two
        # connections of this engine at once (it would wait for itself until
        # ``pool_timeout``).
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30},
                                     poolclass=_Pool, pool_size=1, max_overflow=0,
                                     pool_timeout=POOL_TIMEOUT_S)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        event.listen(engine.sync_engine, "before_cursor_execute", _refuse_nul_text)
        return engine
    # No ping before each checkout (pool_pre_ping): it is a round trip on every
    # transaction, about 8 % of intake's CPU per submission. After a database restart the
    # first statement on an old connection fails instead; SQLAlchemy then replaces every
    # connection of the pool taken before it, the request answers 503
    # database.unavailable (motcua.errors), consumers and the relay retry.
    # Every connection opened is kept (no overflow): an overflow connection is closed when
    # it is returned to a full pool, and under steady load the pool kept opening and
    # closing them, each a new server process and a connection set-up (intake: 5.95 and
    # 6.28 ms CPU per submission with 10 + 20 overflow, 5.59 and 5.76 with 30 kept; the
    # same 30 at most). They open lazily, up to the peak of concurrent transactions.
    engine = create_async_engine(url, echo=echo, poolclass=_Pool, pool_size=pool_size,
                                 max_overflow=0, pool_timeout=POOL_TIMEOUT_S,
                                 connect_args={"timeout": connect_timeout_s})
    _connect_timing_out(engine)
    _side_pool_sizes[engine.sync_engine] = side_pool_size
    _side_connect_args[engine.sync_engine] = {"timeout": connect_timeout_s}
    return engine


class NulInText(sqlite3.DataError):
    """SQLite made to refuse U+0000 in text as PostgreSQL does, with its SQLSTATE."""

    sqlstate = "22021"  # character_not_in_repertoire


def _refuse_nul_text(_conn: Any, _cursor: Any, _statement: str, parameters: Any,
                     _context: Any, _executemany: bool) -> None:
    """On SQLite, refuse text holding U+0000 as PostgreSQL does, so a value both backends
    are given is stored by both or by neither. Raised as a driver error, SQLAlchemy wraps
    it as PostgreSQL's (a ``DBAPIError`` whose ``orig.sqlstate`` is 22021): in a request,
    422 ``request.text_not_storable`` (:mod:`motcua.errors`), the transaction rolled back.
    Text only: JSON is serialised with the character escaped (PostgreSQL's json keeps
    that escape; a NUL in a parsed document is refused where it is parsed, with its
    field).
    """
    # One row (a tuple or a dict), or several (executemany); a multi-row INSERT batched
    # by SQLAlchemy ("insertmanyvalues") comes flat, as one row, even under executemany.
    for item in parameters.values() if isinstance(parameters, dict) else parameters:
        if isinstance(item, str):
            if "\x00" in item:
                raise NulInText("U+0000 in a text value")
        elif isinstance(item, tuple | list | dict):
            for value in item.values() if isinstance(item, dict) else item:
                if isinstance(value, str) and "\x00" in value:
                    raise NulInText("U+0000 in a text value")


def _connect_timing_out(engine: AsyncEngine) -> None:
    """Tell a connection that timed out while opening from any other timeout.

    asyncpg raises a bare ``TimeoutError`` (no errno), which SQLAlchemy passes on as is:
    in a request it would look like any timeout of the code's own. Re-raised with errno
    ETIMEDOUT, as the kernel's own connect timeout is, it is a database out of reach
    (motcua.errors answers 503 database.unavailable).
    """
    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except TimeoutError as exc:
            if exc.errno is not None:
                raise
            raise TimeoutError(errno.ETIMEDOUT, "the connection to the database did not "
                               "open in time") from exc


#: Keyed by the engine itself, weakly: a collected engine's id may be reused.
_side_engines: weakref.WeakKeyDictionary[Any, AsyncEngine] = weakref.WeakKeyDictionary()
#: The side pool's size given to create_engine, per engine (8 if not made there).
_side_pool_sizes: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
#: The driver's connect arguments given to create_engine (the connect timeout), per engine.
_side_connect_args: weakref.WeakKeyDictionary[Any, dict[str, Any]] = (
    weakref.WeakKeyDictionary())


def side_engine(engine: AsyncEngine) -> AsyncEngine:
    """A small separate pool on ``engine``'s PostgreSQL database for single-statement
    autonomous transactions (autocommit: each statement commits on its own): a counter
    taken while a request holds its own connection, the outbox relay's reads and marks.

    Separate so a request never waits on the pool it already holds a connection of (with
    one pool, enough concurrent requests each holding one connection and asking for a
    second would exhaust it and wait on each other). Made on first use (again after
    ``engine`` was disposed) with the ``side_pool_size`` given to :func:`create_engine`;
    disposed with ``engine``.
    """
    side = _side_engines.get(engine.sync_engine)
    if side is None:
        side = create_async_engine(engine.url, poolclass=_Pool,
                                   pool_size=_side_pool_sizes.get(engine.sync_engine, 8),
                                   pool_timeout=POOL_TIMEOUT_S,
                                   max_overflow=0, isolation_level="AUTOCOMMIT",
                                   # kept, no ping: as above; the same connect timeout
                                   connect_args=_side_connect_args.get(engine.sync_engine,
                                                                       {}))
        _connect_timing_out(side)
        _side_engines[engine.sync_engine] = side

        @event.listens_for(engine.sync_engine, "engine_disposed")
        def _dispose_side(disposed: Any) -> None:
            dropped = _side_engines.pop(disposed, None)
            if dropped is not None:
                dropped.sync_engine.dispose()

    return side


def session_factory(engine: AsyncEngine, **info: Any) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit; ``info`` is copied to each."""
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


def dialect_insert(session: AsyncSession | str) -> Any:
    """``insert`` of the session's dialect (or of the dialect named), which has
    ``on_conflict_do_nothing`` and ``on_conflict_do_update`` (PostgreSQL and SQLite alike)."""
    name = session if isinstance(session, str) else session.bind.dialect.name
    return pg_insert if name == "postgresql" else sqlite_insert


async def insert_new(session: AsyncSession, *objects: Any) -> None:
    """Write new mapped objects with Core INSERTs, outside the unit of work.

    For rows a use case creates and does not change again in its transaction (a
    submission's dossier, documents and timeline), without the unit of work's
    bookkeeping. On SQLite each table's rows go in one executemany, tables in the order
    they are first named. On PostgreSQL rows of several tables go in one statement, one
    round trip (see :func:`_insert_together`; per table as on SQLite for one table, past
    ``_MAX_PARAMETERS`` values, or with an unmapped column that has a Python default).
    Either way each table's rows are written in the order given (an autoincrement key
    ascends in it). Objects pending in the session are flushed first (they may be the
    parents of these rows). The objects stay transient (not in the session): read them
    afterwards, do not change them.

    Unset attributes are written as the unit of work writes them: an autoincrement key
    unset in every row of its table is left to the database, a scalar column default
    applies, a JSON column holds SQL NULL (not JSON ``null``). An unset column with a
    server or callable default raises ValueError: set it.
    """
    if session.sync_session.new:
        await session.flush()
    by_table: dict[Table, tuple[_InsertSpec, list[dict[str, Any]]]] = {}
    for obj in objects:
        spec = _insert_spec(type(obj))
        by_table.setdefault(spec.table, (spec, []))[1].append(
            {column.key: spec.value(attr, column, getattr(obj, attr))
             for attr, column in spec.columns})
    # Everything is checked before anything is written.
    writes = [(table, spec.leave_serial(rows)) for table, (spec, rows) in by_table.items()]
    if len(writes) > 1 and session.bind.dialect.name == "postgresql" \
            and sum(len(rows) * len(rows[0]) for _, rows in writes) <= _MAX_PARAMETERS \
            and await _insert_together(session, writes):
        return
    for table, rows in writes:
        await session.execute(table.insert(), rows)


#: PostgreSQL's protocol allows 32767 parameters in one statement; past this, per table.
_MAX_PARAMETERS = 30_000
#: Per engine (weakly, as its side engine): (tables, their columns, row counts) → the SQL
#: and where each parameter comes from, or None if that shape is written per table.
_TOGETHER: weakref.WeakKeyDictionary[Any, dict[Any, _Plan | None]] = (
    weakref.WeakKeyDictionary())
#: Shapes kept per engine, the oldest dropped first (a submission's shape varies with its
#: number of documents).
_TOGETHER_SHAPES = 256


async def _insert_together(session: AsyncSession,
                           writes: list[tuple[Table, list[dict[str, Any]]]]) -> bool:
    """Every table's rows in one PostgreSQL statement: a multi-row INSERT per table, all
    but the last as data-modifying CTEs (``WITH _w0 AS (INSERT …), … INSERT …``).
    False, having written nothing, if this shape must go per table.

    One round trip instead of one per table: each statement through SQLAlchemy costs
    about as much CPU as the round trip itself, and a multi-row INSERT is a statement
    SQLAlchemy does not cache, so the SQL of each shape (tables, columns, row counts) is
    compiled once here and run as driver SQL, its values passed through the columns' own
    bind processors as SQLAlchemy would. Being driver SQL, it is seen by the engine's
    ``before_cursor_execute`` listeners but not by the session's ``do_orm_execute``.
    A table with an unmapped column that has a Python default goes per table (the
    default is SQLAlchemy's to apply). Foreign keys are checked at the end of the
    statement, so a child may be written with its parent. Each table's rows get their
    serial values in the order of its VALUES list, i.e. the order given: PostgreSQL
    evaluates the list's rows in order (relied upon, as it does not promise it; the
    outbox's order is tested); the CTEs' own order of execution is unspecified, which
    matters to nothing here. Errors are SQLAlchemy's, as with ``execute``.
    """
    conn = await session.connection()  # first: the dialect is initialised on connect
    shapes = _TOGETHER.setdefault(conn.sync_connection.engine, {})
    shape = tuple((table, tuple(rows[0]), len(rows)) for table, rows in writes)
    if shape in shapes:
        plan = shapes[shape]
    else:
        plan = _together_plan(conn.dialect, shape)
        if len(shapes) >= _TOGETHER_SHAPES:
            shapes.pop(next(iter(shapes)))
        shapes[shape] = plan
    if plan is None:
        return False
    args = []
    for t, r, key, process in plan.sources:
        value = writes[t][1][r][key]
        # SQL NULL (a JSON column's unset value) is None to the driver, for any type.
        args.append(None if isinstance(value, Null) else
                    process(value) if process is not None else value)
    await conn.exec_driver_sql(plan.sql, tuple(args))
    return True


@dataclass(frozen=True)
class _Plan:
    """A shape's SQL and, per positional parameter, (table, row, column key, processor)."""

    sql: str
    sources: list[tuple[int, int, str, Any]]


def _together_plan(dialect: Any, shape: tuple[tuple[Table, tuple[str, ...], int], ...]
                   ) -> _Plan | None:
    inserts, sources = [], {}
    for t, (table, keys, count) in enumerate(shape):
        values = []
        for r in range(count):
            row = {}
            for key in keys:
                column = table.c[key]
                name = f"t{t}_r{r}_{key}"
                row[key] = bindparam(name, type_=column.type)
                sources[name] = (t, r, key,
                                 column.type.dialect_impl(dialect).bind_processor(dialect))
            values.append(row)
        inserts.append(table.insert().values(values))
    statement = inserts[-1].add_cte(*(ins.cte(f"_w{t}") for t, ins in enumerate(inserts[:-1])))
    compiled = statement.compile(dialect=dialect)
    names = compiled.positiontup or ()
    if any(name not in sources for name in names):  # a column default's own parameter
        return None
    return _Plan(compiled.string, [sources[name] for name in names])


@dataclass(frozen=True)
class _InsertSpec:
    """A mapped class's table, its (attribute, column) pairs and its mapped autoincrement
    key, for ``insert_new``."""

    cls: type
    table: Table
    columns: tuple[tuple[str, Column[Any]], ...]
    serial: Column[Any] | None

    def value(self, attr: str, column: Column[Any], value: Any) -> Any:
        """The value to write for ``attr`` (see ``insert_new`` for unset ones)."""
        if value is not None or column is self.serial:
            return value
        default = column.default
        if default is not None and default.is_scalar:
            return default.arg  # type: ignore[attr-defined]
        if default is not None or column.server_default is not None:
            raise ValueError(f"insert_new: set {self.cls.__name__}.{attr} (it has a default)")
        return null() if column.type.should_evaluate_none else None

    def leave_serial(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``rows`` without the autoincrement key when no row sets it (the database's)."""
        if self.serial is None:
            return rows
        unset = [row[self.serial.key] is None for row in rows]
        if not any(unset):
            return rows
        if not all(unset):
            raise ValueError(f"insert_new: {self.table.name}.{self.serial.key} is set in "
                             "some rows only")
        return [{k: v for k, v in row.items() if k != self.serial.key} for row in rows]


_INSERT_SPECS: dict[type, _InsertSpec] = {}


def _insert_spec(cls: type) -> _InsertSpec:
    spec = _INSERT_SPECS.get(cls)
    if spec is None:
        mapper = sa_inspect(cls)
        table = mapper.local_table
        columns = tuple((prop.key, prop.columns[0]) for prop in mapper.column_attrs
                        if prop.columns[0].table is table)
        serial = table.autoincrement_column
        mapped = serial is not None and any(column is serial for _, column in columns)
        spec = _INSERT_SPECS[cls] = _InsertSpec(cls, table, columns,
                                                serial if mapped else None)
    return spec


_AFTER_COMMIT = "motcua_after_commit"


def after_commit(session: AsyncSession | Session, action: Callable[[], None]) -> None:
    """Run ``action`` once the outermost transaction of ``session`` has committed.

    It never runs if that transaction, or a savepoint it was registered in, rolls back:
    the place for what a transaction does outside the database (in-process counters,
    notices), so a consumer batch that fails and is re-run counts once.
    """
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    where = sync.get_nested_transaction() or sync.get_transaction()
    if where is None:
        raise RuntimeError("after_commit needs a transaction in progress")
    sync.info.setdefault(_AFTER_COMMIT, []).append((where, action))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    # Also fired when a savepoint is released: its changes commit only with the outer
    # transaction, so wait for that one.
    if session.in_nested_transaction():
        return
    for _, action in session.info.pop(_AFTER_COMMIT, ()):
        try:
            action()
        except Exception:  # the transaction is committed: nothing to undo, keep going
            logging.getLogger("motcua.db").exception("after_commit_action_failed")


@event.listens_for(Session, "after_soft_rollback")
def _discard_rolled_back(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_AFTER_COMMIT)
    if pending:
        pending[:] = [(where, action) for where, action in pending
                      if not _within(where, previous)]


@event.listens_for(Session, "after_transaction_end")
def _forget_at_the_end(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended without its commit having run them (a close
    # without commit): they belong to nothing any more.
    if transaction.parent is None:
        session.info.pop(_AFTER_COMMIT, None)


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


async def ping(engine: AsyncEngine) -> None:
    """Round-trip to the database (readiness)."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction: commit on success, roll back on error."""
    async with factory() as session, session.begin():
        yield session
