"""A second process for `rebuild` on SQLite: it finds the journeys of every other period while
the rebuilding process finds those of the period before, and hands them back as rows, so both
cores work. (Two threads were only ~1.25 times as fast as one, probably as connections share
SQLite's global mutexes.)

Safe because the rebuild asks only while it holds the database's write lock, and waits for the
answer before it writes or commits: nothing the helper reads can change meanwhile, so it reads
what the rebuilding transaction reads. The helper only reads (`PRAGMA query_only`); it returns
the raw values of the same `SELECT` that the rebuild runs as `INSERT … SELECT`, so what is stored
is the same, byte for byte."""

from __future__ import annotations

import contextlib
import multiprocessing
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, union_all
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from phygital.commerce.models import Order
from phygital.db import SQLITE_MMAP_SIZE
from phygital.journeys.detection import COLUMNS, Rules, journey_queries

Bounds = tuple[datetime, datetime]  # placed_at in [since, until)
Row = tuple[Any, ...]


def insert_sql(table: Table) -> str:
    """`INSERT INTO table (…COLUMNS) VALUES (?, …)`, for the rows the helper found."""
    values: dict[str, Any] = {name: bindparam(name) for name in COLUMNS}
    return str(insert(table).values(values).compile(dialect=sqlite.dialect()))


def find_statement(rules: Rules) -> Any:
    """Every journey of the orders placed in [`since`, `until`): the three kinds' queries."""
    where = [Order.placed_at >= bindparam("since"), Order.placed_at < bindparam("until")]
    return union_all(*journey_queries(rules, where))


def driver_sql(statement: ClauseElement, params: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """The SQL and positional values SQLAlchemy would send to sqlite3 for `statement`."""
    compiled = cast(SQLCompiler, statement.compile(dialect=sqlite.dialect()))
    state = compiled.construct_expanded_state(params)
    # As SQLAlchemy's execution context does: the statement's processors (dates, JSON paths),
    # then those of expanded IN lists.
    processors = cast(
        dict[str, Callable[[Any], Any]], {**compiled._bind_processors, **state.processors}
    )
    names = state.positiontup or ()
    values = tuple(
        processors[name](state.parameters[name]) if name in processors else state.parameters[name]
        for name in names
    )
    return state.statement, values


@dataclass
class Finder:
    """The helper process: finds the journeys of the periods it is asked for, one at a time."""

    process: BaseProcess
    channel: Connection

    def ask(self, bounds: Bounds) -> None:
        """Start finding the journeys of the orders placed in [since, until)."""
        with contextlib.suppress(OSError):  # it failed already: `answer` says why
            self.channel.send(bounds)

    def answer(self) -> list[Row]:
        """The rows found for the period asked last; raises if the helper failed."""
        try:
            message = self.channel.recv()
        except EOFError:
            raise RuntimeError("the journeys helper process ended unexpectedly") from None
        if isinstance(message, str):
            raise RuntimeError(f"the journeys helper process failed: {message}")
        return cast(list[Row], message)

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):  # already gone
                self.channel.send(None)
            self.process.join(timeout=5)
        if self.process.is_alive():  # still busy with a query nobody will read
            self.process.terminate()
            self.process.join()
        self.channel.close()


def start(path: str, rules: Rules) -> Finder:
    """A helper process reading the SQLite database at `path` (read-only)."""
    context = multiprocessing.get_context("spawn")  # never fork a process with open databases
    channel, theirs = context.Pipe(duplex=True)
    process = context.Process(target=_serve, args=(path, rules, theirs), name="journeys-helper")
    process.start()
    theirs.close()
    return Finder(process, channel)


def _serve(path: str, rules: Rules, channel: Connection) -> None:
    try:
        # Autocommit: each query reads the latest committed data, which the rebuild, holding
        # the write lock whenever it asks, keeps from changing until it has the answer.
        if not Path(path).is_file():  # (connect would create an empty database)
            raise FileNotFoundError(f"no database at {path}")
        db = sqlite3.connect(path, isolation_level=None, timeout=10)
        try:
            db.execute("PRAGMA query_only = ON")
            db.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_SIZE}")
            db.execute("PRAGMA cache_size = -65536")
            statement = find_statement(rules)
            while (bounds := channel.recv()) is not None:
                since, until = bounds
                sql, values = driver_sql(statement, {"since": since, "until": until})
                channel.send(db.execute(sql, values).fetchall())
        finally:
            db.close()
    except (EOFError, BrokenPipeError):  # the rebuild is gone
        pass
    except Exception as exc:  # reported to the rebuild, which fails and rolls back
        with contextlib.suppress(OSError):
            channel.send(f"{type(exc).__name__}: {exc}")
    finally:
        channel.close()
