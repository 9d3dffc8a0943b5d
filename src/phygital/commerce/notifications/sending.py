"""The job that sends a queued notification: each attempt, and then its outcome, recorded in a
short transaction of its own (see the package's docstring)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from phygital.commerce.models import Notification, NotificationStatus, Store
from phygital.commerce.notifications.channels import (
    Channel,
    Outgoing,
    SendFailed,
    channel_named,
    may_serve,
)
from phygital.commerce.notifications.constants import (
    CUSTOMER_GONE,
    ERROR_LIMIT,
    IN_FLIGHT,
    INTERRUPTED,
    MAX_ATTEMPTS,
    SEND_JOB,
)
from phygital.commerce.notifications.pickup import _customer
from phygital.core.jobs import JobContext, PermanentJobError, RetryableJobError, job_handler
from phygital.identity.service import Customer

# The package's logger, as before it was split.
log = logging.getLogger("phygital.commerce.notifications")


@job_handler(SEND_JOB)
def send_notification(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Send one queued notification. Its state is written in short transactions of its own
    (see the package's docstring); the job's own transaction only marks the job done."""
    note_id = str(payload["notification_id"])
    sessions = sessionmaker(
        bind=ctx.session.get_bind(), expire_on_commit=False, info={"clock": ctx.clock}
    )
    with sessions() as session, session.begin():
        note = session.get(Notification, note_id, with_for_update=True)
        if note is None or note.status != NotificationStatus.QUEUED:
            return  # erased, sent by an earlier attempt, or handled by a person
        channel = channel_named(note.channel)
        if channel is None or not note.recipient:
            note.status = NotificationStatus.FAILED
            note.last_error = f"no channel {note.channel!r} to send it"
            return
        if not channel.configured(ctx.settings):
            note.status = NotificationStatus.OUTBOX
            return
        assert ctx.settings is not None
        customer = _customer(session, note.profile_id)
        withdrawn = _withdrawn(session, customer, channel, at=ctx.clock.now())
        if withdrawn:
            note.status = NotificationStatus.SKIPPED
            note.last_error = withdrawn
            return
        interrupted = note.last_error == IN_FLIGHT
        if interrupted:
            log.warning("notification %s: an earlier attempt stopped while sending", note_id)
        note.attempts += 1
        note.last_error = IN_FLIGHT
        message = Outgoing(
            notification_id=note.id,
            recipient=note.recipient,
            recipient_name=customer.name if customer else None,
            subject=note.subject,
            body=note.body,
            locale=note.locale,
            reply_to=_store_email(session, note.store_id),
        )

    try:
        channel.send(message, settings=ctx.settings, at=ctx.clock.now())
    except SendFailed as exc:
        give_up = exc.permanent or ctx.attempt >= MAX_ATTEMPTS
        with sessions() as session, session.begin():
            note = session.get(Notification, note_id, with_for_update=True)
            if note is not None:
                note.last_error = exc.reason[:ERROR_LIMIT]
                if give_up:
                    note.status = NotificationStatus.FAILED
        if give_up:
            raise PermanentJobError(exc.reason) from exc
        raise RetryableJobError(exc.reason) from exc

    with sessions() as session, session.begin():
        note = session.get(Notification, note_id, with_for_update=True)
        if note is not None:
            note.status = NotificationStatus.SENT
            note.sent_at = ctx.clock.now()
            note.last_error = INTERRUPTED if interrupted else None


def _withdrawn(
    session: Session, customer: Customer | None, channel: Channel, *, at: datetime
) -> str:
    """Why the message may no longer go ("" if it may): the customer said no since it was
    written (retries can come much later), or their profile was erased."""
    if customer is None:
        return CUSTOMER_GONE
    return "" if may_serve(session, customer, channel, at=at) else channel.refused


def _store_email(session: Session, store_id: str | None) -> str | None:
    if store_id is None:
        return None
    return session.scalar(select(Store.email).where(Store.id == store_id))
