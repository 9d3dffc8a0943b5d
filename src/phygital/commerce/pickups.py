"""Click & collect as a store sees it: pickups by state, overdue ones derived from the clock.

`overdue` is not stored: an awaiting pickup is overdue once its promise has passed, a ready one
once its collection time (ready + the store's hold days) has passed. Deriving it from the time
means the desk is right the second a promise breaks, without waiting for a job.

A store may hold thousands of open pickups, so the open states are read as ranges of the
`(store_id, status, promised_ready_at)` and `(store_id, status, collect_by)` indexes, which hold
pickups only (`IS_PICKUP`; the till's receipts never enter them): "awaiting pickups promised
before now" is overdue, "promised from now on" is awaiting, and so on (see `RANGES`). Each range
is read in index order, as far as the page needs, and the ranges of a state are merged; counts
count the same ranges. Nothing reads, or sorts, every open pickup of a store. The desk of every
store at once (no store to seek) reads the two pickup-only indexes whole, never every order.
This relies on `awaiting` and `ready` being statuses of pickups only (`orders.save_orders` gives
them to pickups only, and only a pickup can be marked ready).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any, Literal, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    SQLColumnExpression,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from phygital.commerce.models import Fulfilment, Order, OrderStatus
from phygital.core.errors import Invalid
from phygital.core.pagination import decode_cursor, encode_cursor


class PickupState(StrEnum):
    AWAITING = "awaiting"
    READY = "ready"
    OVERDUE = "overdue"
    COLLECTED = "collected"
    CANCELLED = "cancelled"


OPEN_STATES = (PickupState.OVERDUE, PickupState.AWAITING, PickupState.READY)

# Pickups, in the words of the pickup-only indexes' condition (`models.PICKUPS_ONLY`): a
# database uses a partial index only for a query that states its condition, as a constant
# (PostgreSQL's generic plans cannot see through a parameter).
IS_PICKUP = Order.fulfilment == literal_column(f"'{Fulfilment.PICKUP.value}'")


def state_condition(state: PickupState, now: datetime) -> ColumnElement[bool]:
    """A filter for orders in a pickup state (for lists in another order, e.g. the newest
    orders first)."""
    awaiting_late = and_(Order.status == OrderStatus.AWAITING, Order.promised_ready_at < now)
    ready_late = and_(Order.status == OrderStatus.READY, Order.collect_by < now)
    if state == PickupState.OVERDUE:
        return or_(awaiting_late, ready_late)
    if state == PickupState.AWAITING:
        return and_(
            Order.status == OrderStatus.AWAITING,
            or_(Order.promised_ready_at.is_(None), Order.promised_ready_at >= now),
        )
    if state == PickupState.READY:
        return and_(Order.status == OrderStatus.READY, Order.collect_by >= now)
    return Order.status == OrderStatus(state.value)


# -- open pickups, by index range ---------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """Open pickups of one status by one of their times (`key`): those before now (`late`),
    from now on (`late=False`), or without the time (`late=None`: a store without opening
    hours promises nothing). Ordered by the time, then id."""

    status: OrderStatus
    key: Literal["promised_ready_at", "collect_by"]
    late: bool | None


# Each open state is the union of its ranges; in a state, pickups with a time come first, the
# earliest (the most urgent) first. An overdue pickup's time is when it became overdue.
RANGES: dict[PickupState, tuple[Range, ...]] = {
    PickupState.OVERDUE: (
        Range(OrderStatus.AWAITING, "promised_ready_at", late=True),
        Range(OrderStatus.READY, "collect_by", late=True),
    ),
    PickupState.AWAITING: (
        Range(OrderStatus.AWAITING, "promised_ready_at", late=False),
        Range(OrderStatus.AWAITING, "promised_ready_at", late=None),
    ),
    PickupState.READY: (Range(OrderStatus.READY, "collect_by", late=False),),
}

# "Continue after the cursor": after a time and id, or (in the pickups without a time) an id.
After = Literal["time", "id"] | None


class Pickup(NamedTuple):
    """An open pickup as the desk shows it: plain rows of the columns it needs, which load in
    half the time of whole orders."""

    id: str
    label: str | None
    external_id: str
    status: str
    fulfilment: str
    profile_id: str | None
    promised_ready_at: datetime | None
    ready_at: datetime | None
    collect_by: datetime | None
    note: str | None


PICKUP_COLUMNS = tuple(getattr(Order, name) for name in Pickup._fields)


def _conditions(part: Range, *, by_store: bool, after: After) -> list[ColumnElement[bool]]:
    key = getattr(Order, part.key)
    found = [IS_PICKUP, Order.status == part.status]
    if by_store:
        found.insert(0, Order.store_id == bindparam("store_id"))
    if part.late is None:
        found.append(key.is_(None))
        if after == "id":
            found.append(_tie(part, by_store) > bindparam("after_id"))
    else:
        found.append(key < bindparam("now") if part.late else key >= bindparam("now"))
        if after == "time":
            # A range condition first (where the index seek starts), then the tie on id.
            at: BindParameter[datetime] = bindparam("after_at")
            found += [key >= at, or_(key > at, Order.id > bindparam("after_id"))]
    return found


def _range_select(part: Range, *, by_store: bool, after: After, rows: bool) -> Any:
    # By the time even where it is missing (then by id): ordered by id alone, PostgreSQL may
    # walk the primary key looking for the few pickups without a promise.
    key = getattr(Order, part.key)
    return (
        (select(*PICKUP_COLUMNS) if rows else select(Order))
        .where(*_conditions(part, by_store=by_store, after=after))
        .order_by(key, _tie(part, by_store))
        .limit(_limit())
    )


def _tie(part: Range, by_store: bool) -> SQLColumnExpression[str]:
    """The id, by which pickups of the same time are ordered. Every store's pickups without a
    time are ordered, and continued, by the id as text (the same order): an expression no
    index holds, or SQLite (which has no statistics) walks the primary key through every
    order, till receipts included, instead of reading the pickup-only index."""
    return Order.id.concat("") if part.late is None and not by_store else Order.id


def _limit() -> BindParameter[int]:
    return bindparam("limit", type_=Integer)


# Statements are built once per shape and reused with their parameters: building one costs
# more than SQLite takes to run it, and a reused statement also keeps its cache key.
@cache
def _pages_statement(parts: tuple[Range, ...], by_store: bool, after: After, rows: bool) -> Any:
    selects = [_range_select(p, by_store=by_store, after=after, rows=rows) for p in parts]
    if len(selects) == 1:
        return selects[0]
    # One statement for every range: each keeps its own ORDER BY and LIMIT as a subquery.
    union = union_all(*(select(s.subquery()) for s in selects))
    return union if rows else select(Order).from_statement(union)


@cache
def _counts_statement(by_store: bool) -> Select[Any]:
    return select(
        *(
            select(func.count())
            .select_from(Order)
            .where(*_conditions(part, by_store=by_store, after=None))
            .scalar_subquery()
            for state in OPEN_STATES
            for part in RANGES[state]
        )
    )


def counts(session: Session, *, now: datetime, store_id: str | None) -> dict[str, int]:
    """How many open pickups the store (or every store) has in each state, in one statement
    of index-range counts."""
    row = session.execute(_counts_statement(store_id is not None), _params(now, store_id)).one()
    numbers = iter(row)
    return {
        state.value: sum(int(next(numbers) or 0) for _ in RANGES[state]) for state in OPEN_STATES
    }


def _params(now: datetime, store_id: str | None) -> dict[str, Any]:
    return {"now": now} | ({"store_id": store_id} if store_id is not None else {})


def state_of(order: Order | Pickup, now: datetime) -> PickupState | None:
    """The open state an order is in (what the ranges say), None for any other order."""
    if order.status == OrderStatus.AWAITING:
        promised = order.promised_ready_at
        return PickupState.OVERDUE if promised and promised < now else PickupState.AWAITING
    if order.status == OrderStatus.READY and order.collect_by is not None:
        return PickupState.OVERDUE if order.collect_by < now else PickupState.READY
    return None


def _time_of(order: Order | Pickup) -> datetime | None:
    return order.promised_ready_at if order.status == OrderStatus.AWAITING else order.collect_by


def open_pages(
    session: Session,
    *,
    now: datetime,
    store_id: str | None,
    states: Sequence[PickupState] = OPEN_STATES,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[PickupState, tuple[list[Pickup], str | None]]:
    """A page of each open state (the most urgent first) with its next cursor, all in one
    statement; with a `cursor`, the page after it of the one state asked for."""
    return _pages(session, now, store_id, states, limit, cursor, rows=True)


def _pages(
    session: Session,
    now: datetime,
    store_id: str | None,
    states: Sequence[PickupState],
    limit: int,
    cursor: str | None,
    *,
    rows: bool,
) -> dict[PickupState, tuple[list[Any], str | None]]:
    """Pages of open states as `Pickup` rows (`rows`) or whole orders."""
    if cursor and len(states) != 1:
        raise ValueError("a cursor continues the pages of one state")
    after: After = None
    params = _params(now, store_id) | {"limit": limit + 1}
    parts = tuple(part for state in states for part in RANGES[state])
    if cursor:
        at_text, last_id = decode_cursor(cursor, size=2)
        params["after_id"] = str(last_id)
        if at_text:
            params["after_at"] = _moment(at_text)
            after = "time"
        else:  # past every pickup with a time
            parts = tuple(part for part in parts if part.late is None)
            after = "id"
    found: dict[PickupState, list[Any]] = {state: [] for state in states}
    if parts:
        statement = _pages_statement(parts, store_id is not None, after, rows)
        result = session.execute(statement, params)
        for order in [Pickup(*row) for row in result.all()] if rows else result.scalars():
            state = state_of(order, now)
            if state in found:
                found[state].append(order)
    pages = {}
    for state, listed in found.items():
        listed.sort(key=_urgency)
        page = listed[:limit]
        next_cursor = None
        if len(listed) > limit and page:
            last = page[-1]
            moment = _time_of(last)
            next_cursor = encode_cursor([moment.isoformat() if moment else "", last.id])
        pages[state] = (page, next_cursor)
    return pages


def _moment(text: object) -> datetime:
    """A cursor's time (the ISO text of an aware time, as the cursor was made)."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise Invalid("malformed cursor", field="cursor") from None
    if moment.tzinfo is None:
        raise Invalid("malformed cursor", field="cursor")
    return moment


def _urgency(order: Order | Pickup) -> tuple[bool, datetime, str]:
    moment = _time_of(order)
    return (moment is None, moment or _NO_TIME, order.id)


_NO_TIME = datetime.min.replace(tzinfo=UTC)


# -- any state ----------------------------------------------------------------------------------


def list_pickups(
    session: Session,
    *,
    now: datetime,
    store_id: str | None,
    state: PickupState,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Order], str | None]:
    """One page of a store's (or every store's) pickups in one state, with the next cursor.
    Open states list the most urgent first; collected and cancelled ones the newest first."""
    if state in RANGES:
        return _pages(session, now, store_id, (state,), limit, cursor, rows=False)[state]
    sort = Order.collected_at if state == PickupState.COLLECTED else Order.cancelled_at
    stmt = select(Order).where(IS_PICKUP, Order.status == OrderStatus(state.value))
    if store_id is not None:
        stmt = stmt.where(Order.store_id == store_id)
    if cursor:
        at_text, last_id = decode_cursor(cursor, size=2)
        at = _moment(at_text)
        stmt = stmt.where(or_(sort < at, and_(sort == at, Order.id < str(last_id))))
    stmt = stmt.order_by(sort.desc(), Order.id.desc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit and page:
        last = page[-1]
        key = last.collected_at if state == PickupState.COLLECTED else last.cancelled_at
        next_cursor = encode_cursor([key.isoformat() if key else "", last.id])
    return page, next_cursor
