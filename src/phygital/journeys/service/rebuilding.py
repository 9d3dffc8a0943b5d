"""Rebuilding journeys from history: the orders of a period cut into chunks (`periods`), a first
rebuild written straight into the empty table (`fill_empty`), and the helper process that finds
every other chunk's journeys on SQLite (`start_helper`, `refresh_periods`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Executable, Table, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from phygital.commerce.models import Order
from phygital.journeys import helper as helpers
from phygital.journeys.detection import COLUMNS, Rules
from phygital.journeys.models import Journey
from phygital.journeys.service.refresh import (
    _EARLIEST,
    _LATEST,
    CHUNK,
    FOUND,
    _create_found,
    _rowcount,
    _statements,
    refresh_period,
)
from phygital.journeys.service.rules import get_rules


def refresh_periods(
    session: Session,
    parts: Sequence[Period],
    *,
    rules: Rules,
    finder: helpers.Finder | None = None,
) -> int:
    """`refresh_period` over consecutive periods at once (`rebuild`'s step with a helper
    process): with a `finder` (`start_helper`), every other period's journeys are found by the
    helper while this process finds the one before. Same result as one period after another."""
    conn = session.connection()  # the write lock (SQLite), before the helper is asked anything
    conn.exec_driver_sql(_create_found(conn.dialect))
    statements = _statements(rules, by_period=True)
    found = _find_into(conn, statements.find, FOUND, parts, finder)
    params = {"since": _bounds(parts[0])[0], "until": _bounds(parts[-1])[1]}
    conn.execute(statements.forget, params)
    conn.execute(statements.add)
    conn.execute(statements.clear)
    return found


def start_helper(session: Session, rules: Rules) -> helpers.Finder | None:
    """A helper process for `refresh_periods` and `fill_empty` when the database is an SQLite
    file and the machine has a second core (None otherwise: PostgreSQL runs one process). The
    caller stops it (`Finder.stop`)."""
    url = session.get_bind().engine.url
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    if (os.cpu_count() or 1) < 2:
        return None
    return helpers.start(path, rules)


def _find_into(
    conn: Connection,
    statement: Executable,
    table: Table,
    parts: Sequence[Period],
    finder: helpers.Finder | None,
) -> int:
    """Run `statement` (`INSERT INTO table … SELECT` the journeys of a period) for each period;
    with a finder, every second period goes to the helper, asked before this process starts on
    the first so that both work at once. Returns how many journeys were found."""
    found = 0
    for first in range(0, len(parts), 2):
        pair = parts[first : first + 2]
        remote = pair[1] if finder is not None and len(pair) == 2 else None
        if remote is not None and finder is not None:
            finder.ask(_bounds(remote))
        for part in pair[:1] if remote is not None else pair:
            since, until = _bounds(part)
            found += _rowcount(conn.execute(statement, {"since": since, "until": until}))
        if remote is not None and finder is not None:
            rows = finder.answer()
            if rows:
                conn.exec_driver_sql(helpers.insert_sql(table), rows)
            found += len(rows)
    return found


def _bounds(part: Period) -> tuple[datetime, datetime]:
    return part.start or _EARLIEST, part.end or _LATEST


@dataclass
class RebuildReport:
    orders: int = 0
    journeys: int = 0


@dataclass(frozen=True)
class Period:
    """A slice of the orders for `rebuild`: those placed in [start, end), about `orders` many."""

    start: datetime | None
    end: datetime | None
    orders: int


def periods(
    session: Session, *, start: datetime | None, end: datetime | None, chunk: int = CHUNK
) -> list[Period]:
    """Cut [start, end) into consecutive periods of about `chunk` orders each (more when many
    orders share one instant), by their placement time."""
    numbered = select(Order.placed_at, func.row_number().over(order_by=Order.placed_at).label("n"))
    if start is not None:
        numbered = numbered.where(Order.placed_at >= start)
    if end is not None:
        numbered = numbered.where(Order.placed_at < end)
    ranked = numbered.subquery()
    firsts = session.execute(
        select(ranked.c.placed_at, ranked.c.n)
        .where((ranked.c.n - 1) % chunk == 0)
        .order_by(ranked.c.n)
    ).all()
    total = session.scalar(select(func.count()).select_from(ranked)) or 0
    bounds: list[tuple[datetime, int]] = []
    for at, n in firsts:
        if not bounds or bounds[-1][0] != at:  # many orders at one instant: one longer period
            bounds.append((at, int(n)))
    result: list[Period] = []
    for index, (at, n) in enumerate(bounds):
        until: datetime | None
        if index + 1 < len(bounds):
            until, size = bounds[index + 1][0], bounds[index + 1][1] - n
        else:
            until, size = end, total - n + 1
        result.append(Period(start if index == 0 else at, until, size))
    return result


def rebuild(
    session: Session,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    chunk: int = CHUNK,
    on_progress: Callable[[int, int], Any] = lambda done, total: None,
) -> RebuildReport:
    """Recompute every journey of the orders placed in [start, end) from history: `fill_empty`
    when no journey is stored yet, else period by period (`periods`, `refresh_period`). Does not
    commit: a caller that commits as it goes runs those itself (the CLI commits per period, or
    per pair of periods with a helper process: `refresh_periods`)."""
    rules = get_rules(session)
    filled = fill_empty(
        session, start=start, end=end, rules=rules, chunk=chunk, on_progress=on_progress
    )
    if filled is not None:
        return filled
    report = RebuildReport()
    slices = periods(session, start=start, end=end, chunk=chunk)
    total = sum(p.orders for p in slices)
    for part in slices:
        report.journeys += refresh_period(session, start=part.start, end=part.end, rules=rules)
        report.orders += part.orders
        on_progress(report.orders, total)
    return report


def fill_empty(
    session: Session,
    *,
    start: datetime | None,
    end: datetime | None,
    rules: Rules,
    chunk: int = CHUNK,
    on_progress: Callable[[int, int], Any] = lambda done, total: None,
    finder: helpers.Finder | None = None,
) -> RebuildReport | None:
    """A first rebuild: when no journey is stored at all, write those of the orders placed in
    [start, end) straight into the table, period by period, with its indexes (the unique one
    too) dropped before and built again after from sorted data, all in the caller's
    transaction: a failure leaves the table as it was. The same queries as `refresh_period`,
    so the same journeys; without the differences to compute, and without scattering every
    journey over random-key indexes at each commit (that doubled the time of a first rebuild).
    Returns `None`, having changed nothing, when journeys are stored. Holds the write lock
    (SQLite) or the table (PostgreSQL) until the caller commits. With a `finder`
    (`start_helper`), a helper process finds every other period's journeys meanwhile."""
    conn = session.connection()
    postgresql = conn.dialect.name == "postgresql"
    if postgresql:  # nobody stores a journey between the check and the inserts
        conn.exec_driver_sql("LOCK TABLE journeys IN SHARE ROW EXCLUSIVE MODE")
    # (SQLite: the transaction began IMMEDIATE, it holds the write lock already.)
    if conn.execute(select(Journey.id).limit(1)).first() is not None:
        return None
    table = cast(Table, Journey.__table__)
    indexes = sorted(table.indexes, key=lambda index: str(index.name))
    for index in indexes:
        index.drop(conn)
    report = RebuildReport()
    slices = periods(session, start=start, end=end, chunk=chunk)
    total = sum(p.orders for p in slices)
    statement = _fill_statement(rules)
    for first in range(0, len(slices), 2):
        pair = slices[first : first + 2]
        report.journeys += _find_into(conn, statement, table, pair, finder)
        report.orders += sum(part.orders for part in pair)
        on_progress(report.orders, total)
    for index in indexes:
        index.create(conn)
    if (
        not postgresql
        and conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    ):
        # Dropping an index drops its statistics: give the planner the table's again.
        conn.exec_driver_sql("ANALYZE journeys")
    return report


@lru_cache(maxsize=8)
def _fill_statement(rules: Rules) -> Executable:
    stored = cast(Table, Journey.__table__)
    return (
        insert(stored)
        .from_select(list(COLUMNS), helpers.find_statement(rules))
        .execution_options(preserve_rowcount=True)
    )
