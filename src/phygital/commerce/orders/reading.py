"""Reading orders: their effective status, their lines, and the API's shape."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from phygital.commerce.models import (
    Order,
    OrderLine,
    OrderStatus,
    Store,
)
from phygital.commerce.schemas import LineRead, OrderRead
from phygital.core.errors import NotFound
from phygital.identity import service as identity


def effective_status(order: Order, now: datetime) -> str:
    """The stored status, or `overdue` for a pickup past its promise or its collection time."""
    promised, collect_by = order.promised_ready_at, order.collect_by
    if order.status == OrderStatus.AWAITING and promised is not None and promised < now:
        return "overdue"
    if order.status == OrderStatus.READY and collect_by is not None and collect_by < now:
        return "overdue"
    return str(order.status)


def get_order(session: Session, order_id: str) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    return order


def lines_of(session: Session, order_ids: list[str]) -> dict[str, list[OrderLine]]:
    result: dict[str, list[OrderLine]] = {i: [] for i in order_ids}
    for start in range(0, len(order_ids), 900):
        rows = session.scalars(
            select(OrderLine)
            .where(OrderLine.order_id.in_(order_ids[start : start + 900]))
            .order_by(OrderLine.id)
        )
        for line in rows:
            result[line.order_id].append(line)
    return result


def read_models(session: Session, orders: list[Order], *, now: datetime) -> list[OrderRead]:
    """Orders in the API's shape: three queries whatever their number (lines, stores,
    customers)."""
    ids = [o.id for o in orders]
    lines = lines_of(session, ids)
    store_ids = {o.store_id for o in orders if o.store_id}
    codes = {
        store_id: code
        for store_id, code in session.execute(
            select(Store.id, Store.code).where(Store.id.in_(store_ids))
        )
    }
    roots = identity.roots_of(session, (o.profile_id for o in orders if o.profile_id))
    return [
        OrderRead(
            id=o.id,
            external_id=o.external_id,
            channel=o.channel,
            origin=str(o.origin),
            status=effective_status(o, now),
            store=codes.get(o.store_id) if o.store_id else None,
            customer_id=roots.get(o.profile_id) if o.profile_id else None,
            fulfilment=str(o.fulfilment),
            lines=[
                LineRead(
                    sku=ln.sku,
                    name=ln.name,
                    quantity=ln.quantity,
                    unit_price=ln.unit_price,
                    known=ln.known,
                )
                for ln in lines[o.id]
            ],
            total=o.total,
            currency=o.currency,
            placed_at=o.placed_at,
            promised_ready_at=o.promised_ready_at,
            ready_at=o.ready_at,
            collected_at=o.collected_at,
            cancelled_at=o.cancelled_at,
            label=o.label,
        )
        for o in orders
    ]
