"""The states an order moves through after it is saved: ready, collected, cancelled,
fulfilled."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from phygital.commerce import promises
from phygital.commerce import service as store_service
from phygital.commerce.models import (
    Fulfilment,
    Order,
    OrderStatus,
    PromiseKind,
    Store,
)
from phygital.commerce.orders.reading import lines_of
from phygital.commerce.orders.saving import OPEN_PICKUP, subject
from phygital.core.clock import Clock
from phygital.core.errors import Conflict
from phygital.core.events import publish
from phygital.identity import service as identity


def _stock_for(
    session: Session, order: Order, *, on_hand: int, reserved: int
) -> dict[tuple[str, str], tuple[int, int]]:
    changes: dict[tuple[str, str], tuple[int, int]] = {}
    if order.store_id is None:
        return changes
    for line in lines_of(session, [order.id])[order.id]:
        key = (order.store_id, line.sku)
        a, b = changes.get(key, (0, 0))
        changes[key] = (a + on_hand * line.quantity, b + reserved * line.quantity)
    return changes


def mark_ready(session: Session, *, clock: Clock, order: Order) -> Order:
    """A pickup is ready at the store: the promise is settled and the customer is told."""
    if order.fulfilment != Fulfilment.PICKUP:
        raise Conflict("only pickup orders become ready", field="fulfilment")
    if order.status == OrderStatus.READY:
        return order  # a double tap changes nothing
    if order.status != OrderStatus.AWAITING:
        raise Conflict(f"a {order.status} order cannot become ready", field="status")
    now = clock.now()
    store = session.get(Store, order.store_id) if order.store_id else None
    order.status = OrderStatus.READY
    order.ready_at = now
    order.collect_by = now + timedelta(days=store.hold_days if store else 7)
    promises.resolve(session, subject=subject(order.id), kind=PromiseKind.PICKUP_READY, at=now)
    from phygital.commerce import notifications

    notifications.pickup_ready(session, clock=clock, order=order)
    session.flush()
    publish(session, "orders.changed", clock=clock, order_ids=[order.id])
    return order


def mark_collected(session: Session, *, clock: Clock, order: Order) -> Order:
    """The customer took the pickup: the reserved units leave the shelf."""
    if order.fulfilment != Fulfilment.PICKUP:
        raise Conflict("only pickup orders are collected", field="fulfilment")
    if order.status == OrderStatus.COLLECTED:
        return order
    if order.status not in OPEN_PICKUP:
        raise Conflict(f"a {order.status} order cannot be collected", field="status")
    now = clock.now()
    if order.status == OrderStatus.AWAITING:
        # Handed over straight away: it was ready when collected.
        order.ready_at = now
        promises.resolve(session, subject=subject(order.id), kind=PromiseKind.PICKUP_READY, at=now)
    order.status = OrderStatus.COLLECTED
    order.collected_at = now
    store_service.adjust_stock(session, _stock_for(session, order, on_hand=-1, reserved=-1))
    session.flush()
    publish(session, "orders.changed", clock=clock, order_ids=[order.id])
    return order


def cancel(session: Session, *, clock: Clock, order: Order) -> Order:
    """Call an order off: reservations are released, its promise is cancelled and it leaves
    the customer's counters. A collected or fulfilled order is history and stays."""
    if order.status == OrderStatus.CANCELLED:
        return order
    if order.status in (OrderStatus.COLLECTED, OrderStatus.FULFILLED):
        raise Conflict(f"a {order.status} order cannot be cancelled", field="status")
    now = clock.now()
    if order.status in OPEN_PICKUP:
        store_service.adjust_stock(session, _stock_for(session, order, on_hand=0, reserved=-1))
    order.status = OrderStatus.CANCELLED
    order.cancelled_at = now
    promises.cancel(session, subject=subject(order.id), at=now)
    if order.profile_id:
        identity.forget_orders(
            session,
            facts=[identity.OrderFact(order.profile_id, order.total, order.placed_at, None)],
        )
    session.flush()
    publish(session, "orders.changed", clock=clock, order_ids=[order.id])
    return order


def mark_fulfilled(session: Session, *, clock: Clock, order: Order) -> Order:
    """A delivery order left the warehouse (a web shop says it is fulfilled)."""
    if order.status == OrderStatus.PLACED:
        order.status = OrderStatus.FULFILLED
        session.flush()
        publish(session, "orders.changed", clock=clock, order_ids=[order.id])
    return order
