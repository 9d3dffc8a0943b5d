"""Telling customers about their orders (work in progress: the notification helper fills this)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from phygital.commerce.models import Notification, NotificationStatus, Order
from phygital.core.clock import Clock


def pickup_ready(session: Session, *, clock: Clock, order: Order) -> Notification:
    note = Notification(
        kind="pickup_ready",
        order_id=order.id,
        store_id=order.store_id,
        profile_id=order.profile_id,
        status=NotificationStatus.OUTBOX,
    )
    session.add(note)
    return note
