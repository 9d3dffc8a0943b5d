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

The package, by subject: `constants` (names, limits, reasons), `channels` (the plug-ins and the
choice among them), `pickup` (the notification point), `message` (writing the message),
`sending` (the job) and `outbox` (the outbox page's reading and actions).
"""

from phygital.commerce.notifications.channels import (
    CHANNELS,
    Channel,
    Choice,
    EmailChannel,
    Outgoing,
    SendFailed,
    channel_named,
    choose_channel,
)
from phygital.commerce.notifications.constants import (
    CUSTOMER_GONE,
    DEFAULT_LOCALE,
    ERROR_LIMIT,
    HOURS_DAYS,
    IN_FLIGHT,
    INTERRUPTED,
    LOCALES,
    MAX_ATTEMPTS,
    NO_CUSTOMER,
    PICKUP_READY,
    SEND_JOB,
    TEMPLATE_DIR,
)
from phygital.commerce.notifications.message import render, render_pickup_ready
from phygital.commerce.notifications.outbox import (
    FILTERS,
    OutboxRow,
    get_notification,
    list_notifications,
    mark_sent_by_hand,
    retry,
    status_counts,
)
from phygital.commerce.notifications.pickup import customer_locale, pickup_ready
from phygital.commerce.notifications.sending import send_notification

__all__ = [
    "CHANNELS",
    "CUSTOMER_GONE",
    "DEFAULT_LOCALE",
    "ERROR_LIMIT",
    "FILTERS",
    "HOURS_DAYS",
    "INTERRUPTED",
    "IN_FLIGHT",
    "LOCALES",
    "MAX_ATTEMPTS",
    "NO_CUSTOMER",
    "PICKUP_READY",
    "SEND_JOB",
    "TEMPLATE_DIR",
    "Channel",
    "Choice",
    "EmailChannel",
    "OutboxRow",
    "Outgoing",
    "SendFailed",
    "channel_named",
    "choose_channel",
    "customer_locale",
    "get_notification",
    "list_notifications",
    "mark_sent_by_hand",
    "pickup_ready",
    "render",
    "render_pickup_ready",
    "retry",
    "send_notification",
    "status_counts",
]
