"""Click & collect as a store sees it: pickups by state, overdue ones derived from the clock.

`overdue` is not stored: an awaiting pickup is overdue once its promise has passed, a ready one
once its collection time (ready + the store's hold days) has passed. Deriving it from the time
means the desk is right the second a promise breaks, without waiting for a job.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, case, func, or_, select
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


def state_condition(state: PickupState, now: datetime) -> ColumnElement[bool]:
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


def _sort_column(state: PickupState) -> ColumnElement[datetime]:
    """Open pickups by urgency (promise, or collection deadline), closed ones newest first."""
    if state == PickupState.READY:
        return Order.collect_by  # type: ignore[return-value]
    if state == PickupState.COLLECTED:
        return Order.collected_at  # type: ignore[return-value]
    if state == PickupState.CANCELLED:
        return Order.cancelled_at  # type: ignore[return-value]
    if state == PickupState.OVERDUE:
        # Overdue ones mix both kinds: the moment each became overdue.
        return func.coalesce(Order.collect_by, Order.promised_ready_at)
    return Order.promised_ready_at  # type: ignore[return-value]


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
    sort = _sort_column(state)
    newest_first = state in (PickupState.COLLECTED, PickupState.CANCELLED)
    stmt = select(Order).where(Order.fulfilment == Fulfilment.PICKUP, state_condition(state, now))
    if store_id is not None:
        stmt = stmt.where(Order.store_id == store_id)
    if cursor:
        at_text, last_id = decode_cursor(cursor, size=2)
        try:
            at = datetime.fromisoformat(str(at_text))
        except ValueError:
            raise Invalid("malformed cursor", field="cursor") from None
        if newest_first:
            stmt = stmt.where(or_(sort < at, and_(sort == at, Order.id < str(last_id))))
        else:
            stmt = stmt.where(or_(sort > at, and_(sort == at, Order.id > str(last_id))))
    order_by = (sort.desc(), Order.id.desc()) if newest_first else (sort.asc(), Order.id.asc())
    rows = list(session.scalars(stmt.order_by(*order_by).limit(limit + 1)))
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit and page:
        last = page[-1]
        key = _key(last, state)
        next_cursor = encode_cursor([key.isoformat() if key else "", last.id])
    return page, next_cursor


def _key(order: Order, state: PickupState) -> datetime | None:
    if state == PickupState.READY:
        return order.collect_by
    if state == PickupState.COLLECTED:
        return order.collected_at
    if state == PickupState.CANCELLED:
        return order.cancelled_at
    if state == PickupState.OVERDUE:
        return order.collect_by or order.promised_ready_at
    return order.promised_ready_at


def counts(session: Session, *, now: datetime, store_id: str | None) -> dict[str, int]:
    """How many open pickups the store has in each state, in one query."""
    result = dict.fromkeys(("awaiting", "ready", "overdue"), 0)
    states = (PickupState.AWAITING, PickupState.READY, PickupState.OVERDUE)
    columns = [
        func.sum(case((state_condition(state, now), 1), else_=0)).label(state.value)
        for state in states
    ]
    stmt = select(*columns).where(
        Order.fulfilment == Fulfilment.PICKUP,
        Order.status.in_((OrderStatus.AWAITING, OrderStatus.READY)),
    )
    if store_id is not None:
        stmt = stmt.where(Order.store_id == store_id)
    row = session.execute(stmt).one()
    for state, value in zip(states, row, strict=True):
        result[state.value] = int(value or 0)
    return result
