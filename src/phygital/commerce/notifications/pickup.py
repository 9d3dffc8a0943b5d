"""The notification point: `pickup_ready` writes the message, picks the channel and enqueues the
job that sends it, in the caller's transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from phygital.commerce.models import Notification, NotificationStatus, Order
from phygital.commerce.notifications.channels import choose_channel
from phygital.commerce.notifications.constants import (
    DEFAULT_LOCALE,
    LOCALES,
    MAX_ATTEMPTS,
    NO_CUSTOMER,
    PICKUP_READY,
    SEND_JOB,
)
from phygital.commerce.notifications.message import render_pickup_ready
from phygital.core.clock import Clock
from phygital.core.errors import NotFound
from phygital.core.jobs import enqueue, retry_dead
from phygital.core.models import JobStatus
from phygital.identity import service as identity
from phygital.identity.service import Customer


def customer_locale(customer: Customer | None) -> str:
    """The customer's language: a `locale` or `language` trait we have templates for (`en`,
    `en-GB`, `EN_us` all mean English), else Italian."""
    if customer is None:
        return DEFAULT_LOCALE
    for trait in ("locale", "language"):
        value = customer.traits.get(trait)
        if isinstance(value, str) and value.strip():
            primary = value.strip().replace("_", "-").split("-")[0].lower()
            if primary in LOCALES:
                return primary
    return DEFAULT_LOCALE


def pickup_ready(session: Session, *, clock: Clock, order: Order) -> Notification:
    """Tell the customer their pickup is ready: the message is written now and a job sends it.
    Calling it again for the same order returns the notification already made."""
    session.flush()  # the order's new status first: two "ready" at once queue on its row
    existing = session.scalar(
        select(Notification)
        .where(Notification.order_id == order.id, Notification.kind == PICKUP_READY)
        .order_by(Notification.created_at)
        .limit(1)
    )
    if existing is not None:
        return existing
    now = clock.now()
    customer = _customer(session, order.profile_id)
    note = Notification(
        kind=PICKUP_READY,
        order_id=order.id,
        store_id=order.store_id,
        profile_id=order.profile_id,
        locale=customer_locale(customer),
        status=NotificationStatus.SKIPPED,
    )
    if customer is None:
        note.last_error = NO_CUSTOMER
    else:
        # Written even when it cannot be sent: a person who phones the customer can read it.
        note.subject, note.body = render_pickup_ready(
            session, order=order, customer=customer, locale=note.locale, now=now
        )
        choice = choose_channel(session, customer=customer, at=now)
        if choice.channel is None:
            note.last_error = choice.reason
        else:
            note.channel = choice.channel.name
            note.recipient = choice.address
            note.status = NotificationStatus.QUEUED
    session.add(note)
    session.flush()
    if note.status == NotificationStatus.QUEUED:
        _enqueue(session, clock=clock, note=note)
    return note


def _customer(session: Session, profile_id: str | None) -> Customer | None:
    if profile_id is None:
        return None
    try:
        return identity.get_customer(session, profile_id)
    except NotFound:
        return None


def _job_key(note: Notification) -> str:
    # One job per order and kind: a second "ready" can never mail twice.
    if note.order_id:
        return f"notify:{note.kind}:order:{note.order_id}"
    return f"notify:{note.id}"


def _enqueue(session: Session, *, clock: Clock, note: Notification) -> None:
    job = enqueue(
        session,
        clock=clock,
        name=SEND_JOB,
        payload={"notification_id": note.id},
        idempotency_key=_job_key(note),
        max_attempts=MAX_ATTEMPTS,
    )
    if job.payload.get("notification_id") != note.id or job.status == JobStatus.DONE:
        # The order's job was for another notification, or has finished: a fresh one.
        enqueue(
            session,
            clock=clock,
            name=SEND_JOB,
            payload={"notification_id": note.id},
            max_attempts=MAX_ATTEMPTS,
        )
    elif job.status == JobStatus.DEAD:
        retry_dead(session, clock=clock, job_id=job.id)
