"""Telling customers about their orders, on the best channel they have not refused.

`pickup_ready` is the notification point `orders.mark_ready` calls. It picks the first channel
of `CHANNELS` (an ordered list of plug-ins) on which the customer has an address and has not said
no to service messages, writes the message now (in the customer's language, with the store's
address and hours), and enqueues a job in the same transaction. Without a channel it records the
notification as `skipped`, with the reason. The job sends through the channel's transport; a
channel whose settings are missing (no `PHYGITAL_SMTP_URL`) leaves the message in the outbox for
a person to forward. WhatsApp joins `CHANNELS` with the conversations capability.

Delivery is at-least-once, with the window for a duplicate made as small as we can. SMTP has no
idempotency key: a server cannot tell a retry from a new message, and a Message-ID does not make
it refuse one. So the job records each attempt in a transaction of its own *before* talking to
the server, and the outcome in another one right after the server's answer, not in the job's
transaction: a crash after the "sent" commit never sends again (the retried job finds the
notification sent). Only a crash in the milliseconds between the server's "250 accepted" and our
commit sends twice; the next attempt then notes it in `last_error`. Both copies carry the same
Message-ID, which mail services that drop duplicates (Gmail does) use. For "your order is
ready", a rare duplicate is better than a customer who never hears.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from phygital.commerce import service as store_service
from phygital.commerce.models import Notification, NotificationStatus, Order, OrderLine, Store
from phygital.core import app_settings, mail
from phygital.core.clock import Clock
from phygital.core.errors import Conflict, NotFound
from phygital.core.jobs import (
    JobContext,
    PermanentJobError,
    RetryableJobError,
    enqueue,
    job_handler,
    retry_dead,
)
from phygital.core.models import JobStatus
from phygital.core.pagination import decode_cursor, encode_cursor
from phygital.identity import service as identity
from phygital.identity.service import Customer
from phygital.privacy import consent
from phygital.privacy.audit import audit
from phygital.privacy.models import Purpose

if TYPE_CHECKING:
    from phygital.config import Settings

log = logging.getLogger(__name__)

PICKUP_READY = "pickup_ready"
SEND_JOB = "commerce.send_notification"
MAX_ATTEMPTS = 8  # 10 s, 20 s, … : the last try is about 21 minutes after the first
HOURS_DAYS = 7  # opening hours shown for at most this many days
LOCALES = ("it", "en")
DEFAULT_LOCALE = "it"
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "mail"
ERROR_LIMIT = 2000

# Reasons kept in `last_error` (English for the logs; the outbox page translates them).
NO_CUSTOMER = "the order has no customer"
CUSTOMER_GONE = "the customer's profile no longer exists"
IN_FLIGHT = "sending: no answer recorded yet"
INTERRUPTED = "an earlier attempt stopped while sending and may have been delivered too"


# -- channels -----------------------------------------------------------------------------------


class SendFailed(Exception):
    """A channel could not deliver; `permanent` says whether trying again can help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class Outgoing:
    """A message ready to go: what a channel's `send` gets."""

    notification_id: str
    recipient: str
    recipient_name: str | None
    subject: str
    body: str
    locale: str
    reply_to: str | None = None


class Channel(Protocol):
    """A way to reach a customer. Off (`configured` false) when its settings are missing: the
    message then waits in the outbox. `send` raises `SendFailed` saying permanent or not."""

    name: str
    no_address: str  # the skip reason when the customer has no address on this channel
    refused: str  # the skip reason when the customer said no to service messages here

    def address(self, customer: Customer) -> str | None: ...

    def configured(self, settings: Settings | None) -> bool: ...

    def send(self, message: Outgoing, *, settings: Settings, at: datetime) -> None: ...


class EmailChannel:
    """E-mail through the SMTP server of `PHYGITAL_SMTP_URL` (core.mail)."""

    name = "email"
    no_address = "no e-mail address"
    refused = "the customer refused service messages by e-mail"

    def address(self, customer: Customer) -> str | None:
        return customer.first("email")

    def configured(self, settings: Settings | None) -> bool:
        return bool(settings is not None and settings.smtp_url)

    def send(self, message: Outgoing, *, settings: Settings, at: datetime) -> None:
        assert settings.smtp_url
        try:
            built = mail.build_message(
                mail.Mail(
                    sender=settings.mail_from,
                    to_address=message.recipient,
                    to_name=message.recipient_name,
                    subject=message.subject,
                    text=message.body,
                    date=at,
                    message_id=mail.message_id(message.notification_id, settings.mail_from),
                    language=message.locale,
                    reply_to=message.reply_to,
                )
            )
            mail.send(settings.smtp_url, built)
        except mail.MailError as exc:
            raise SendFailed(str(exc), permanent=exc.permanent) from exc


# In order of preference: the first channel with an address and no refusal is used.
# WhatsApp goes in front of e-mail when the conversations capability brings it.
CHANNELS: list[Channel] = [EmailChannel()]


def channel_named(name: str | None) -> Channel | None:
    return next((c for c in CHANNELS if c.name == name), None)


@dataclass(frozen=True)
class Choice:
    channel: Channel | None
    address: str | None
    reason: str | None  # why no channel, when `channel` is None


def choose_channel(
    session: Session,
    *,
    customer: Customer,
    at: datetime,
    channels: Sequence[Channel] | None = None,
) -> Choice:
    """The best channel for a service message to this customer, or why there is none."""
    reasons: list[str] = []
    for channel in CHANNELS if channels is None else channels:
        address = channel.address(customer)
        if not address:
            reasons.append(channel.no_address)
            continue
        allowed = consent.may_contact(
            session,
            member_ids=customer.member_ids,
            channel=channel.name,
            purpose=Purpose.SERVICE,
            at=at,
        )
        if not allowed:
            reasons.append(channel.refused)
            continue
        return Choice(channel, address, None)
    return Choice(None, None, "; ".join(reasons) or "no channel to reach the customer")


# -- the notification point ---------------------------------------------------------------------


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


# -- writing the message ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=False,  # noqa: S701  (plain text; the HTML version escapes it in core.mail)
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=StrictUndefined,
    )


def render(kind: str, locale: str, context: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of `mail/<kind>.<locale>.txt` (its `subject` and `body` blocks)."""
    template = _templates().get_template(f"{kind}.{locale}.txt")
    ctx = template.new_context(context)
    subject = " ".join("".join(template.blocks["subject"](ctx)).split())
    body = "".join(template.blocks["body"](ctx)).strip() + "\n"
    return subject, body


def render_pickup_ready(
    session: Session, *, order: Order, customer: Customer, locale: str, now: datetime
) -> tuple[str, str]:
    store = session.get(Store, order.store_id) if order.store_id else None
    lines = session.scalars(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)
    ).all()
    zone = ZoneInfo(store.timezone if store else "Europe/Rome")
    collect_by = order.collect_by.astimezone(zone).date() if order.collect_by else None
    first_name = customer.traits.get("first_name") or customer.traits.get("firstName")
    context = {
        "name": str(first_name) if first_name else customer.name,
        "label": order.label or order.external_id,
        "store": store,
        "hours": _hours(session, store, now=now, until=collect_by, locale=locale),
        "collect_by": format_date(collect_by, "EEEE d MMMM", locale=locale) if collect_by else "",
        "lines": [
            {
                "quantity": ln.quantity,
                "name": ln.name or ln.sku,
                "amount": _money(ln.unit_price * ln.quantity, order.currency, locale),
            }
            for ln in lines
        ],
        "total": _money(order.total, order.currency, locale),
        "company": app_settings.get_value(session, app_settings.COMPANY_NAME),
    }
    return render(PICKUP_READY, locale, context)


def _money(amount: Decimal, currency: str, locale: str) -> str:
    return format_currency(amount, currency, locale=locale)


def _hours(
    session: Session, store: Store | None, *, now: datetime, until: date | None, locale: str
) -> list[dict[str, str]]:
    """The store's hours from today to the last day to collect (at most `HOURS_DAYS` days):
    `[{"day": "venerdì 20 novembre", "shifts": "09:00–13:00, 15:00–19:00"}]`, shifts empty on
    a closed day. Empty when the store has no hours at all."""
    if store is None or not store.opening_hours:
        return []
    schedule = store_service.schedules(session, [store])[store.id]
    today = now.astimezone(schedule.zone).date()
    count = HOURS_DAYS if until is None else min(max((until - today).days + 1, 1), HOURS_DAYS)
    days = []
    for offset in range(count):
        day = today + timedelta(days=offset)
        shifts = ", ".join(
            f"{_clock_time(a, locale)}–{_clock_time(b, locale)}" for a, b in schedule.shifts_on(day)
        )
        days.append({"day": format_date(day, "EEEE d MMMM", locale=locale), "shifts": shifts})
    return days


def _clock_time(value: str, locale: str) -> str:
    if value == "24:00":
        return value
    hours, minutes = value.split(":")
    return format_time(time(int(hours), int(minutes)), "short", locale=locale)


# -- the job ------------------------------------------------------------------------------------


@job_handler(SEND_JOB)
def send_notification(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Send one queued notification. Its state is written in short transactions of its own
    (see the module's docstring); the job's own transaction only marks the job done."""
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
    allowed = consent.may_contact(
        session,
        member_ids=customer.member_ids,
        channel=channel.name,
        purpose=Purpose.SERVICE,
        at=at,
    )
    return "" if allowed else channel.refused


def _store_email(session: Session, store_id: str | None) -> str | None:
    if store_id is None:
        return None
    return session.scalar(select(Store.email).where(Store.id == store_id))


# -- the outbox ---------------------------------------------------------------------------------


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
