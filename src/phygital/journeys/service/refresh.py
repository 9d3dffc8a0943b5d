"""Keeping journeys current: replacing the journeys of some orders (by ids, by customers, by a
period of placement) with what `detection` finds now, writing only the differences."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
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
    insert,
    select,
    union_all,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable

from phygital.commerce.models import Order
from phygital.journeys.detection import COLUMNS, Rules, journey_queries, orders_of_customers
from phygital.journeys.models import Journey
from phygital.journeys.service.rules import get_rules

CHUNK = 2000


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
