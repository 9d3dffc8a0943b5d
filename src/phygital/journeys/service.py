"""Journeys: keeping them current, rebuilding them, reading them.

Journeys are derived data. `refresh_orders` replaces the journeys of some orders with what
`detection` finds now; everything that can change a journey calls it for the orders
concerned: a new or changed order (in its own transaction, so a new in-store sale knows its
ROPO at once), a late product event or an identity change (through a job, within seconds), an
erasure (the person's orders are detached, so their journeys go). `rebuild` runs the same
detection over a period, in chunks of orders.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    Column,
    CursorResult,
    Executable,
    MetaData,
    PrimaryKeyConstraint,
    Result,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable

from phygital.commerce.models import Fulfilment, Order, OrderStatus, Store
from phygital.core import app_settings
from phygital.core.errors import Invalid
from phygital.journeys import helper as helpers
from phygital.journeys.detection import (
    COLUMNS,
    Rules,
    days_between,
    journey_queries,
    orders_of_customers,
)
from phygital.journeys.models import Journey, JourneyKind

RULES_KEY = "journeys.rules"
CHUNK = 2000
MAX_WINDOW_DAYS = 365


# -- rules --------------------------------------------------------------------------------------


def get_rules(session: Session) -> Rules:
    """The company's journey rules (window, events per side); the defaults until changed."""
    raw = app_settings.get_value(session, RULES_KEY)
    if not raw:
        return Rules()
    data = json.loads(raw)
    return Rules(
        window=timedelta(days=int(data.get("window_days", 30))),
        online_events=frozenset(data.get("online_events", [])),
        offline_events=frozenset(data.get("offline_events", [])),
    )


def set_rules(
    session: Session, *, window_days: int, online_events: list[str], offline_events: list[str]
) -> Rules:
    """Change the rules. Existing journeys keep the old ones until `rebuild` runs."""
    if not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise Invalid(f"window_days: between 1 and {MAX_WINDOW_DAYS}", field="window_days")
    data = {
        "window_days": window_days,
        "online_events": sorted({e.strip() for e in online_events if e.strip()}),
        "offline_events": sorted({e.strip() for e in offline_events if e.strip()}),
    }
    app_settings.set_value(session, RULES_KEY, json.dumps(data))
    return get_rules(session)


# -- keeping current --------------------------------------------------------------------------


def refresh_orders(
    session: Session, order_ids: Iterable[str], *, rules: Rules | None = None
) -> int:
    """Recompute the journeys of these orders; return how many they have now."""
    ids = sorted(set(order_ids))
    if not ids:
        return 0
    statements = _statements(rules or get_rules(session), by_period=False)
    return sum(
        _replace(session, statements, {"order_ids": ids[start : start + CHUNK]})
        for start in range(0, len(ids), CHUNK)
    )


def refresh_period(
    session: Session, *, start: datetime | None, end: datetime | None, rules: Rules
) -> int:
    """Recompute the journeys of the orders placed in [start, end) (`None`: unbounded); return
    how many they have now: the chunk of `rebuild`, whatever its number of orders."""
    params = {"since": start or _EARLIEST, "until": end or _LATEST}
    return _replace(session, _statements(rules, by_period=True), params)


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


_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)

# The journeys a refresh found, before they replace the stored ones: a temporary table, private
# to the connection (emptied at each commit on PostgreSQL, explicitly everywhere).
FOUND = Table(
    "journeys_found",
    MetaData(),
    *(Column(c.name, c.type, nullable=c.nullable) for c in Journey.__table__.c if c.name != "id"),
    PrimaryKeyConstraint("order_id", "kind", "sku"),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)
_KEY = ("order_id", "kind", "sku")


@lru_cache(maxsize=4)
def _create_found(dialect: Dialect) -> str:
    # DDL is not in SQLAlchemy's statement cache: compiled once per dialect.
    return str(CreateTable(FOUND, if_not_exists=True).compile(dialect=dialect))


@dataclass(frozen=True)
class _Statements:
    clear: Executable
    find: Executable  # fill FOUND with the journeys found, all kinds
    forget: Executable  # delete the stored journeys of the orders not found as they are
    add: Executable  # insert the found journeys not stored


def _replace(session: Session, statements: _Statements, params: dict[str, Any]) -> int:
    """Replace the stored journeys of a set of orders with those found now; return how many
    were found. What is found goes first to a temporary table and only the differences are
    written: every written journey costs its six index entries, and most refreshes (a rebuild,
    a customer's late product event) find what is stored. Unchanged journeys keep their ids.
    (The temporary table is emptied at the end; a failure rolls its rows back with the rest.)
    Core statements on the session's connection: on one new order, the ORM's execution layer
    cost more than the SQL."""
    conn = session.connection()
    conn.exec_driver_sql(_create_found(conn.dialect))
    found = _rowcount(conn.execute(statements.find, params))
    conn.execute(statements.forget, params)
    conn.execute(statements.add)
    conn.execute(statements.clear)
    return found


@lru_cache(maxsize=32)
def _statements(rules: Rules, *, by_period: bool) -> _Statements:
    """The statements that replace the journeys of a set of orders, given by ids or by a period
    of placement, built once per rules: they only differ by their bound parameters."""
    stored = cast(Table, Journey.__table__)
    orders: Any
    if by_period:
        where = [Order.placed_at >= bindparam("since"), Order.placed_at < bindparam("until")]
        orders = select(Order.id).where(*where).scalar_subquery()
    else:
        orders = bindparam("order_ids", expanding=True)
        where = [Order.id.in_(orders)]
    same = [FOUND.c[name] == stored.c[name] for name in _KEY]
    same += [FOUND.c[n].is_not_distinct_from(stored.c[n]) for n in COLUMNS if n not in _KEY]
    return _Statements(
        clear=delete(FOUND),
        find=insert(FOUND)
        .from_select(list(COLUMNS), union_all(*journey_queries(rules, where)))
        .execution_options(preserve_rowcount=True),
        forget=delete(stored).where(stored.c.order_id.in_(orders), ~exists().where(*same)),
        add=insert(stored).from_select(
            list(COLUMNS),
            select(*(FOUND.c[n] for n in COLUMNS)).where(
                ~exists().where(*(stored.c[n] == FOUND.c[n] for n in _KEY))
            ),
        ),
    )


def _rowcount(result: Result[Any] | CursorResult[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def refresh_customers(session: Session, customer_ids: Iterable[str]) -> int:
    """Recompute the journeys of every order of these customers (after a merge, an unmerge, a
    late event). Journeys that named one of them but whose order now belongs to somebody else
    are recomputed too."""
    roots = sorted(set(customer_ids))
    if not roots:
        return 0
    stale = session.scalars(select(Journey.order_id).where(Journey.customer_id.in_(roots)))
    return refresh_orders(session, [*orders_of_customers(session, roots), *stale])


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


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    kind: JourneyKind | None = None
    start: datetime | None = None
    end: datetime | None = None
    store_id: str | None = None
    sku: str | None = None
    customer_ids: tuple[str, ...] = ()

    def apply(self, stmt: Any) -> Any:
        if self.kind is not None:
            stmt = stmt.where(Journey.kind == self.kind)
        if self.start is not None:
            stmt = stmt.where(Journey.purchased_at >= self.start)
        if self.end is not None:
            stmt = stmt.where(Journey.purchased_at < self.end)
        if self.store_id is not None:
            stmt = stmt.where(Journey.store_id == self.store_id)
        if self.sku is not None:
            stmt = stmt.where(Journey.sku == self.sku)
        if self.customer_ids:
            stmt = stmt.where(Journey.customer_id.in_(self.customer_ids))
        return stmt


def list_journeys(
    session: Session, *, filters: Filters, before: tuple[datetime, int] | None, limit: int
) -> list[tuple[Journey, str | None]]:
    """Journeys newest purchase first, with their store's code."""
    stmt = filters.apply(select(Journey, Store.code).outerjoin(Store, Store.id == Journey.store_id))
    if before is not None:
        at, last_id = before
        stmt = stmt.where(
            or_(
                Journey.purchased_at < at,
                (Journey.purchased_at == at) & (Journey.id < last_id),
            )
        )
    stmt = stmt.order_by(Journey.purchased_at.desc(), Journey.id.desc()).limit(limit)
    return [(j, code) for j, code in session.execute(stmt)]


@dataclass
class KindSummary:
    count: int = 0
    orders: int = 0
    revenue: Decimal = Decimal("0.00")


@dataclass
class Summary:
    by_kind: dict[str, KindSummary] = field(default_factory=dict)
    store_revenue: Decimal = Decimal("0.00")
    ropo_share: float | None = None
    median_days: dict[str, float | None] = field(default_factory=dict)


def summary(session: Session, *, filters: Filters) -> Summary:
    """Counts and revenue per kind, ROPO revenue as a share of in-store revenue, and the median
    days from research to purchase, over the filtered journeys."""
    result = Summary()
    rows = session.execute(
        filters.apply(
            select(
                Journey.kind,
                func.count(),
                func.count(func.distinct(Journey.order_id)),
                func.sum(Journey.revenue),
            ).group_by(Journey.kind)
        )
    )
    for kind in JourneyKind:
        result.by_kind[kind.value] = KindSummary()
    for kind, count, orders, revenue in rows:
        result.by_kind[str(kind)] = KindSummary(count, orders, Decimal(revenue or 0))
    sales = select(func.sum(Order.total)).where(
        Order.fulfilment == Fulfilment.IN_STORE, Order.status != OrderStatus.CANCELLED
    )
    if filters.store_id is not None:
        sales = sales.where(Order.store_id == filters.store_id)
    if filters.start is not None:
        sales = sales.where(Order.placed_at >= filters.start)
    if filters.end is not None:
        sales = sales.where(Order.placed_at < filters.end)
    result.store_revenue = Decimal(session.scalar(sales) or 0)
    if filters.kind in (None, JourneyKind.ROPO) and result.store_revenue:
        ropo = result.by_kind[JourneyKind.ROPO.value].revenue
        result.ropo_share = round(float(ropo / result.store_revenue), 4)
    # Days from research to purchase, computed by the database (`days_between`, to the
    # millisecond on SQLite): turning thousands of spans into datetimes in Python cost half the
    # time of a month's summary. Showrooming's research is its offline side: hence abs().
    kinds = [k for k in (JourneyKind.ROPO, JourneyKind.SHOWROOMING) if filters.kind in (None, k)]
    days: dict[str, list[float]] = {k.value: [] for k in kinds}
    if kinds:
        spans = session.execute(
            filters.apply(
                select(
                    Journey.kind, func.abs(days_between(Journey.online_at, Journey.offline_at))
                ).where(Journey.kind.in_(kinds))
            )
        )
        for kind, span in spans:
            days[str(kind)].append(float(span))
    for kind in (JourneyKind.ROPO, JourneyKind.SHOWROOMING):
        found = days.get(kind.value)
        result.median_days[kind.value] = round(statistics.median(found), 2) if found else None
    return result
