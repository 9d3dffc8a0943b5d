"""The channels that reach a customer (plug-ins behind `Channel`), in order of preference, and
the choice of the best one the customer has not refused."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from phygital.core import mail
from phygital.identity.service import Customer
from phygital.privacy import consent
from phygital.privacy.models import Purpose

if TYPE_CHECKING:
    from phygital.config import Settings


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


def may_serve(session: Session, customer: Customer, channel: Channel, *, at: datetime) -> bool:
    """Whether the customer's consent lets a service message reach them on this channel now."""
    return consent.may_contact(
        session,
        member_ids=customer.member_ids,
        channel=channel.name,
        purpose=Purpose.SERVICE,
        at=at,
    )


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
        if not may_serve(session, customer, channel, at=at):
            reasons.append(channel.refused)
            continue
        return Choice(channel, address, None)
    return Choice(None, None, "; ".join(reasons) or "no channel to reach the customer")
