"""The outbox: notifications listed and counted for the outbox page, and what a person does
there (mark one as sent by hand, send a failed one again)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from phygital.commerce.models import Notification, NotificationStatus, Order, Store
from phygital.commerce.notifications.channels import channel_named
from phygital.commerce.notifications.pickup import _enqueue
from phygital.core.clock import Clock
from phygital.core.errors import Conflict, NotFound
from phygital.core.pagination import decode_cursor, encode_cursor
from phygital.privacy.audit import audit


@dataclass(frozen=True)
class OutboxRow:
    """A notification as the outbox page lists it."""

    notification: Notification
    store_name: str | None
    order_label: str | None


def list_notifications(
    session: Session,
    *,
    status: NotificationStatus | None = None,
    store_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[OutboxRow], str | None]:
    """Notifications newest first (one query), optionally of one status and one store, with a
    cursor for the next page."""
    stmt = (
        select(Notification, Store.name, Order.label, Order.external_id)
        .outerjoin(Store, Store.id == Notification.store_id)
        .outerjoin(Order, Order.id == Notification.order_id)
    )
    if status is not None:
        stmt = stmt.where(Notification.status == status)
    if store_id is not None:
        stmt = stmt.where(Notification.store_id == store_id)
    if cursor:
        at, last_id = decode_cursor(cursor, size=2)
        at_dt = datetime.fromisoformat(str(at))
        stmt = stmt.where(
            or_(
                Notification.created_at < at_dt,
                and_(Notification.created_at == at_dt, Notification.id < str(last_id)),
            )
        )
    rows = session.execute(
        stmt.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit + 1)
    ).all()
    page = [
        OutboxRow(note, store_name, label or external_id)
        for note, store_name, label, external_id in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1].notification
        next_cursor = encode_cursor([last.created_at.isoformat(), last.id])
    return page, next_cursor


def status_counts(session: Session, *, store_id: str | None = None) -> dict[str, int]:
    stmt = select(Notification.status, func.count()).group_by(Notification.status)
    if store_id is not None:
        stmt = stmt.where(Notification.store_id == store_id)
    counts = {str(s.value): 0 for s in NotificationStatus}
    for status, count in session.execute(stmt):
        counts[str(status)] = int(count)
    return counts


def get_notification(
    session: Session, notification_id: str, *, store_id: str | None = None
) -> Notification:
    """One notification; `NotFound` also when it belongs to a store the caller cannot see."""
    note = session.get(Notification, notification_id)
    if note is None or (store_id is not None and note.store_id != store_id):
        raise NotFound(f"no notification {notification_id}")
    return note


def mark_sent_by_hand(
    session: Session, *, clock: Clock, notification: Notification, by: str
) -> Notification:
    """A person forwarded an outbox message to the customer themselves."""
    if notification.status != NotificationStatus.OUTBOX:
        raise Conflict(f"a {notification.status} notification is not waiting in the outbox")
    notification.status = NotificationStatus.SENT
    notification.sent_at = clock.now()
    notification.last_error = None
    audit(
        session,
        clock=clock,
        actor=by,
        action="notification_sent_by_hand",
        subject=f"notification:{notification.id}",
        detail={"channel": notification.channel},
    )
    session.flush()
    return notification


def retry(session: Session, *, clock: Clock, notification: Notification) -> Notification:
    """Queue a failed notification again (after the address or the server was fixed), with a
    fresh set of attempts."""
    if notification.status != NotificationStatus.FAILED:
        raise Conflict(f"a {notification.status} notification cannot be retried")
    if channel_named(notification.channel) is None or not notification.recipient:
        raise Conflict("this notification has no channel to send it on")
    notification.status = NotificationStatus.QUEUED
    notification.last_error = None
    session.flush()
    _enqueue(session, clock=clock, note=notification)
    return notification


# The statuses in the order the outbox page offers them as filters.
FILTERS = (
    NotificationStatus.OUTBOX,
    NotificationStatus.QUEUED,
    NotificationStatus.FAILED,
    NotificationStatus.SENT,
    NotificationStatus.SKIPPED,
)
