"""Commerce's parts in the customer timeline, the privacy registry and the job queue."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from phygital.commerce import notifications, promises  # noqa: F401  (registers job handlers)
from phygital.commerce.models import (
    DeliveryStatus,
    Notification,
    Order,
    OrderLine,
    Promise,
    Store,
    WebhookDelivery,
)
from phygital.db import session_clock
from phygital.identity import service as identity
from phygital.identity.timeline import Before, TimelineItem, older_than, timeline_provider
from phygital.privacy.registry import register

PROVIDER = "order"


def summary(order: Order, store_name: str | None) -> str:
    label = order.label or order.external_id
    text = f"Order {label} · {order.lines_count} item{'s' if order.lines_count != 1 else ''}"
    text += f" · {order.total} {order.currency}"
    if order.fulfilment == "pickup":
        text += f" · pickup at {store_name or '?'} ({order.status})"
    elif order.fulfilment == "in_store":
        text += f" · in store at {store_name or '?'}"
    elif order.status == "cancelled":
        text += " · cancelled"
    return text


@timeline_provider(PROVIDER)
def orders_timeline(
    session: Session, member_ids: list[str], before: Before | None, limit: int
) -> list[TimelineItem]:
    stmt = (
        select(Order, Store.name)
        .outerjoin(Store, Store.id == Order.store_id)
        .where(Order.profile_id.in_(member_ids))
    )
    if before is not None:
        stmt = stmt.where(older_than(before, PROVIDER, Order.placed_at, Order.id))
    rows = session.execute(stmt.order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit))
    return [
        TimelineItem(
            at=order.placed_at,
            channel=order.channel,
            kind="order",
            summary=summary(order, store_name),
            ref=f"order:{order.id}",
            provider=PROVIDER,
            seq=order.id,
            detail={"total": str(order.total), "status": str(order.status)},
        )
        for order, store_name in rows
    ]


PROMISE_PROVIDER = "promise"
PROMISE_LABELS = {
    "pickup_ready": "pickup ready by",
    "delivery": "delivery by",
    "call_back": "call back by",
}


@timeline_provider(PROMISE_PROVIDER)
def promises_timeline(
    session: Session, member_ids: list[str], before: Before | None, limit: int
) -> list[TimelineItem]:
    """Promises made to the customer, when they were made, with how they ended."""
    stmt = (
        select(Promise, Store.code)
        .outerjoin(Store, Store.id == Promise.store_id)
        .where(Promise.profile_id.in_(member_ids))
    )
    if before is not None:
        stmt = stmt.where(older_than(before, PROMISE_PROVIDER, Promise.made_at, Promise.id))
    rows = session.execute(stmt.order_by(Promise.made_at.desc(), Promise.id.desc()).limit(limit))
    return [
        TimelineItem(
            at=promise.made_at,
            channel=promise.channel,
            kind="promise",
            summary=(
                f"Promise: {PROMISE_LABELS.get(str(promise.kind), str(promise.kind))} "
                f"{promise.due_at.isoformat(timespec='minutes')}"
                f"{f' at {code}' if code else ''} · {promise.status}"
            ),
            ref=promise.subject,
            provider=PROMISE_PROVIDER,
            seq=promise.id,
            detail={"due_at": promise.due_at.isoformat(), "status": str(promise.status)},
        )
        for promise, code in rows
    ]


def export(session: Session, member_ids: list[str]) -> dict[str, Any]:
    orders = list(
        session.scalars(
            select(Order).where(Order.profile_id.in_(member_ids)).order_by(Order.placed_at)
        )
    )
    ids = [o.id for o in orders]
    lines: dict[str, list[OrderLine]] = {i: [] for i in ids}
    if ids:
        query = select(OrderLine).where(OrderLine.order_id.in_(ids)).order_by(OrderLine.id)
        for line in session.scalars(query):
            lines[line.order_id].append(line)
    notes = session.scalars(select(Notification).where(Notification.profile_id.in_(member_ids)))
    kept = session.scalars(select(Promise).where(Promise.profile_id.in_(member_ids)))
    return {
        "orders": [
            {
                "id": o.id,
                "external_id": o.external_id,
                "channel": o.channel,
                "status": str(o.status),
                "fulfilment": str(o.fulfilment),
                "placed_at": o.placed_at.isoformat(),
                "total": str(o.total),
                "currency": o.currency,
                "label": o.label,
                "note": o.note,
                "lines": [
                    {
                        "sku": ln.sku,
                        "name": ln.name,
                        "quantity": ln.quantity,
                        "unit_price": str(ln.unit_price),
                    }
                    for ln in lines[o.id]
                ],
            }
            for o in orders
        ],
        "notifications": [
            {
                "kind": n.kind,
                "channel": n.channel,
                "recipient": n.recipient,
                "subject": n.subject,
                "body": n.body,
                "status": str(n.status),
                "created_at": n.created_at.isoformat(),
            }
            for n in notes
        ],
        "promises": [
            {
                "kind": str(p.kind),
                "made_at": p.made_at.isoformat(),
                "due_at": p.due_at.isoformat(),
                "status": str(p.status),
            }
            for p in kept
        ],
    }


def erase(session: Session, member_ids: list[str]) -> None:
    """Orders stay for the books, detached from the person and stripped of what they wrote;
    messages to them go; rejected web-shop deliveries that mention them go too."""
    needles = set()
    for value in identity.identifier_values(session, member_ids):
        if len(value) >= 5:
            needles.add(value.lower())
        if value.startswith("+") and value[1:].isdigit():
            needles.add(value[-9:])  # the national number, as a shop may have kept it typed
    session.execute(delete(Notification).where(Notification.profile_id.in_(member_ids)))
    session.execute(
        update(Order)
        .where(Order.profile_id.in_(member_ids))
        .values(profile_id=None, note=None, customer_erased_at=session_clock(session).now())
    )
    session.execute(
        update(Promise).where(Promise.profile_id.in_(member_ids)).values(profile_id=None)
    )
    if needles:
        body = func.replace(func.lower(WebhookDelivery.body), " ", "")
        session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.status == DeliveryStatus.REJECTED,
                or_(*(body.contains(v) for v in sorted(needles))),
            )
        )


register("orders", exporter=export, eraser=erase, order=20)
