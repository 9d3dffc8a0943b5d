"""Database: declarative base, engine and session factories, shared column types and mixins.

SQLite is the embedded default (WAL, foreign keys, busy timeout, secure_delete so erased data does
not linger in free pages, and `BEGIN IMMEDIATE` so two writers queue instead of failing half-way,
while read-only units of work begin deferred and read beside a writer: `read_only`);
PostgreSQL is the production database. Everything here is portable between the two.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.types import TypeDecorator

from phygital.core.clock import Clock, SystemClock
from phygital.core.jsoncodec import json_dumps, json_loads

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_CHECKPOINT_PAGES = 100_000  # pages of 4 KiB in the WAL before SQLite checkpoints it
SQLITE_WAL_KEEP_BYTES = 64 << 20  # what the WAL file is cut back to after a checkpoint
SQLITE_MMAP_SIZE = 256 << 20  # bytes of the database file mapped per connection, at most


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC on both databases (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: domain code must use timezone-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # The text SQLAlchemy's SQLite DATETIME writes ("2026-11-23 03:01:24.000000"), made in
        # one C call instead of a %-format of seven fields: bulk writes bind millions of times.
        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime: domain code must use timezone-aware times")
            if value.tzinfo is not UTC:
                value = value.astimezone(UTC)
            return value.isoformat(" ", "microseconds")[:26]  # without "+00:00"

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        stored_text = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)

        # One C parse of the stored text (SQLAlchemy's own format, or SQLite's date functions'
        # "YYYY-MM-DD HH:MM:SS"), instead of a regular expression and two Python calls: loading
        # a batch's profiles reads thousands of times. (Appending the offset is ~5x cheaper
        # than `.replace(tzinfo=UTC)` afterwards.)
        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            try:
                parsed = datetime.fromisoformat(value + "+00:00")
            except ValueError:  # text with an offset of its own, or another layout
                try:
                    parsed = datetime.fromisoformat(value)
                except ValueError:
                    if stored_text is None:
                        raise
                    parsed = stored_text(value)  # type: ignore[assignment]
            if parsed.tzinfo is None:  # a date alone ("2026-11-23")
                return parsed.replace(tzinfo=UTC)
            return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)

        return process


JSONType = JSON().with_variant(JSONB(), "postgresql")


# Random tails of ids, drawn from the OS 1,024 at a time: one os.urandom call per id cost
# more than the rest of a bulk import's row (a system call each). Popped whole (atomic under the
# GIL); emptied in a forked child, which must never hand out its parent's tails.
_TAILS: list[str] = []
_TAILS_AT_ONCE = 1024
os.register_at_fork(after_in_child=_TAILS.clear)


def new_id() -> str:
    """A URL-safe primary key of 32 hex digits: the creation time in milliseconds (48 bits, as
    in a UUIDv7) and 80 random bits. Ids never leak counts and cannot be guessed; the time in
    front makes rows of every table arrive at the right edge of their primary-key and foreign-
    key indexes, so a commit writes a few index pages instead of one per row (a 1,000,000-row
    till import went from 138 s to 97 s on SQLite with nothing else changed). The random bits
    come from os.urandom (uuid4() costs ten times more on the ingestion hot path)."""
    try:
        tail = _TAILS.pop()
    except IndexError:
        drawn = os.urandom(10 * _TAILS_AT_ONCE).hex()
        _TAILS.extend(drawn[i : i + 20] for i in range(0, len(drawn), 20))
        tail = _TAILS.pop()
    return f"{time.time_ns() // 1_000_000:012x}{tail}"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


class TimestampMixin:
    """`created_at` / `updated_at`, filled from the session's injected clock on flush."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class IdMixin:
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)


def session_clock(session: Session) -> Clock:
    """The clock a session was opened with (the system clock unless a test or the demo set one)."""
    clock = session.info.get("clock")
    return clock if clock is not None else SystemClock()


@event.listens_for(Session, "before_flush")
def _stamp_times(session: Session, flush_context: Any, instances: Any) -> None:
    now = session_clock(session).now()
    for obj in session.new:
        if isinstance(obj, TimestampMixin):
            if getattr(obj, "created_at", None) is None:
                obj.created_at = now
            if getattr(obj, "updated_at", None) is None:
                obj.updated_at = now
    for obj in session.dirty:
        if isinstance(obj, TimestampMixin) and session.is_modified(obj, include_collections=False):
            obj.updated_at = now


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # Let SQLAlchemy (not the sqlite3 module) decide when transactions begin; see _sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA secure_delete = ON")
        # Checkpoint the WAL every ~400 MB instead of every 4 MB: ingestion and imports rewrite
        # the same hot index and profile pages batch after batch, and fewer, larger checkpoints
        # copy them fewer times (a 1,000,000-row till import wrote 2.4 GB instead of 3.2 GB).
        # Once checkpointed, the WAL file is cut back to 64 MB when it starts over.
        cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_CHECKPOINT_PAGES}")
        cursor.execute(f"PRAGMA journal_size_limit = {SQLITE_WAL_KEEP_BYTES}")
        cursor.execute("PRAGMA cache_size = -65536")  # 64 MB of pages per connection
        # Read pages straight from the OS page cache (no copy into SQLite's own cache): ~20 % less
        # CPU for read-heavy work such as `journeys rebuild`. The map is read-only and writes still
        # go through write(); a failing disk read kills the process instead of returning an error,
        # which loses no committed data (docs/operations.md, "SQLite and memory-mapped I/O").
        cursor.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_SIZE}")
        cursor.execute("PRAGMA temp_store = MEMORY")
    finally:
        cursor.close()


# The execution option that marks a unit of work as read-only (see `read_only`).
READ_ONLY = "phygital_read_only"
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class ReadOnlyViolation(RuntimeError):
    """A read-only unit of work (a GET request) tried to write: a programming error."""


def read_only(engine: Engine) -> Engine:
    """The same engine (and pool) for units of work that only read, such as GET requests. On
    SQLite they begin a deferred transaction: they read the last commit while a writer works (an
    import batch, a job) instead of queueing behind it for the write lock. Such a transaction
    cannot safely become a writer (SQLite refuses the upgrade while another writer is active),
    so any write in it is refused on both databases, loudly."""
    return engine.execution_options(**{READ_ONLY: True})


def is_read_only(session: Session) -> bool:
    return bool(session.get_bind().get_execution_options().get(READ_ONLY))


def _sqlite_begin(conn: Any) -> None:
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
        return
    # IMMEDIATE takes the write lock up front: a transaction never fails half-way on a lock
    # upgrade; other writers wait (busy_timeout) instead.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _refuse_writes(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    if conn.get_execution_options().get(READ_ONLY) and statement.lstrip()[:7].upper().startswith(
        _WRITES
    ):
        raise ReadOnlyViolation(f"a read-only unit of work tried to write: {statement[:80]}")


def make_engine(database_url: str, *, echo: bool = False) -> Engine:
    """An engine for the configured database, with the settings each backend needs."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            json_serializer=json_dumps,
            json_deserializer=json_loads,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        engine = create_engine(
            url,
            echo=echo,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            json_serializer=json_dumps,
            json_deserializer=json_loads,
        )
    event.listen(engine, "before_cursor_execute", _refuse_writes)
    return engine


def make_session_factory(engine: Engine, clock: Clock | None = None) -> sessionmaker[Session]:
    """Sessions that carry the injected clock in `session.info["clock"]`."""
    return sessionmaker(bind=engine, expire_on_commit=False, info={"clock": clock or SystemClock()})


@contextmanager
def one_connection(factory: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    """Sessions like `factory`'s that all run on one connection of its engine, for a bulk job
    whose transactions follow one another (an import: see `IdentityCarry`, which can hand a
    batch's state on only along one connection). A factory already bound to a connection
    is that connection's already."""
    bind = factory.kw.get("bind")
    if isinstance(bind, Connection):
        yield factory
        return
    if not isinstance(bind, Engine):
        raise TypeError("one_connection needs a session factory bound to an engine")
    with bind.connect() as connection:
        yield sessionmaker(**{**factory.kw, "bind": connection})


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commits when the block succeeds, rolls back when it raises."""
    with factory() as session, session.begin():
        yield session


# Compiled statements of `execute_many` calls that name a cache key: (SQL, bind processors,
# positional names) by dialect (each engine has its own: its driver, its JSON serializer), key and
# row keys.
_COMPILED: WeakKeyDictionary[
    Dialect, dict[tuple[str, tuple[str, ...]], tuple[str, dict[str, Any], list[str] | None]]
] = WeakKeyDictionary()


def execute_many(
    session: Session, stmt: UpdateBase, rows: list[dict[str, Any]], *, cache_key: str | None = None
) -> None:
    """Run an INSERT, UPDATE or upsert for many rows (all with the same keys: the statement's
    bind names) with one driver `executemany`.

    With a `cache_key` (naming the statement: the same key must always mean the same SQL) the
    compiled statement is kept for the next call with the same row keys. The SQL and each value's
    bind processing are SQLAlchemy's own, applied column by column and
    once per distinct value (a batch repeats the same times, prices and codes) instead of row by
    row: on batches of thousands of rows SQLAlchemy's per-row parameter handling costs more
    than the database's work, and the ORM's bulk path also splits rows into many statements
    (one per run of rows with the same NULL columns)."""
    if not rows:
        return
    conn = session.connection()
    keys = list(rows[0])
    compiled_by_key = _COMPILED.setdefault(conn.dialect, {})
    memo_key = (cache_key, tuple(keys)) if cache_key else None
    cached = compiled_by_key.get(memo_key) if memo_key else None
    if cached is None:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=keys)
        positiontup = getattr(compiled, "positiontup", None)
        cached = (
            str(compiled),
            dict(getattr(compiled, "_bind_processors", {})),
            list(positiontup) if positiontup is not None else None,
        )
        if memo_key:
            compiled_by_key[memo_key] = cached
    sql, processors, positions = cached
    names: list[str] = positions if positions is not None else keys
    # Row by row in C (one pass over the dicts, which lie wherever they were made), then
    # column by column only where values need processing.
    table: list[Any] = (
        list(map(itemgetter(*names), rows)) if len(names) > 1 else [(r[names[0]],) for r in rows]
    )
    to_process = [(i, processors[name]) for i, name in enumerate(names) if name in processors]
    if to_process:
        columns: list[Any] = list(zip(*table, strict=True))
        for i, process in to_process:
            values = columns[i]
            if any(isinstance(v, dict | list) for v in values[:1]):  # JSON documents
                columns[i] = [process(v) for v in values]
                continue
            try:
                # Each distinct value once, then a C-level lookup per row.
                done = {value: process(value) for value in set(values)}
                columns[i] = list(map(done.__getitem__, values))
            except TypeError:  # unhashable: a JSON document after a None
                columns[i] = [process(v) for v in values]
        table = list(zip(*columns, strict=True))
    params: list[Any] = (
        table if positions is not None else [dict(zip(names, row, strict=True)) for row in table]
    )
    conn.exec_driver_sql(sql, params)
