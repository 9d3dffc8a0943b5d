"""The delivery pipeline every web shop's webhook goes through, once its signature is verified.

1. A delivery id already processed or ignored is answered as a duplicate: nothing new is stored.
2. The body is read into an action and applied inside a savepoint, together with the delivery's
   record: either all of it is written or none of it.
3. A body that cannot be used (`Rejected`, or an identity/order rule refusing it) leaves only a
   `rejected` record with the body and the reason, for a person to inspect. The same delivery
   sent again (a shop's retry, perhaps after the missing store was created) is tried again.

Services do not commit: the request's unit of work commits the outcome before the answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from phygital.commerce import service as store_service
from phygital.commerce.models import DeliveryStatus, OrderOrigin, WebhookDelivery
from phygital.commerce.webhooks import shop
from phygital.commerce.webhooks.payload import Rejected
from phygital.commerce.webhooks.shop import Action, StoreDirectory
from phygital.core.clock import Clock
from phygital.core.errors import DomainError

MAX_DELIVERY_ID = 200
MAX_TOPIC = 100

# Reads a body into an action, given the stores a pickup may name; raises `Rejected`.
Parser = Callable[[bytes, StoreDirectory], Action]


def signature_ok(secret: str, body: bytes, signature: str | None) -> bool:
    """`signature` is the base64 HMAC-SHA256 of the raw body with the shared secret (Shopify
    and WooCommerce alike); compared in constant time."""
    if not signature:
        return False
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    expected = base64.b64encode(digest)
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


def delivery_key(header: str | None, topic: str, body: bytes) -> str:
    """The shop's delivery id, or (when it sends none, or an unusable one) a hash of the topic
    and body: the same bytes delivered twice are the same delivery."""
    value = (header or "").strip()
    if value and len(value) <= MAX_DELIVERY_ID and value.isprintable():
        return value
    return "sha256:" + hashlib.sha256(topic.encode("utf-8", "replace") + b"\n" + body).hexdigest()


@dataclass(frozen=True)
class Incoming:
    provider: str
    origin: OrderOrigin
    delivery_id: str
    topic: str
    body: bytes


@dataclass(frozen=True)
class Receipt:
    """What the shop is told: `processed`, `ignored`, `duplicate` (all 200) or `rejected`."""

    status: str
    order_id: str | None = None
    customer_id: str | None = None
    detail: str | None = None


def receive(
    session: Session, *, clock: Clock, region: str, incoming: Incoming, parse: Parser
) -> Receipt:
    """Apply one verified delivery exactly once and record it (see the module's docstring)."""
    previous = _previous(session, incoming)
    if previous is not None and previous.status != DeliveryStatus.REJECTED:
        return Receipt("duplicate", order_id=previous.order_id)
    reason = ""
    for attempt in range(2):
        try:
            with session.begin_nested():
                record = _claim(session, clock=clock, incoming=incoming, previous=previous)
                stores = StoreDirectory.of(store_service.list_stores(session))
                action = parse(incoming.body, stores)
                outcome = shop.apply(
                    session,
                    clock=clock,
                    region=region,
                    origin=incoming.origin,
                    action=action,
                )
                record.status = outcome.status
                record.order_id = outcome.order_id
                record.error = _join(outcome.notes)
                record.body = None
                session.flush()
            return Receipt(
                str(outcome.status),
                order_id=outcome.order_id,
                customer_id=outcome.customer_id,
                detail=_join(outcome.notes),
            )
        except Rejected as exc:
            reason = exc.reason
        except DomainError as exc:
            reason = exc.message
        except IntegrityError:
            # The same delivery or the same order written by a concurrent request that has
            # just committed: look again, it is now a duplicate or an update.
            if attempt:
                raise
            previous = _previous(session, incoming)
            if previous is not None and previous.status != DeliveryStatus.REJECTED:
                return Receipt("duplicate", order_id=previous.order_id)
            continue
        break
    _reject(session, clock=clock, incoming=incoming, reason=reason)
    return Receipt("rejected", detail=reason)


def _previous(session: Session, incoming: Incoming) -> WebhookDelivery | None:
    return session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.provider == incoming.provider,
            WebhookDelivery.delivery_id == incoming.delivery_id,
        )
    )


def _claim(
    session: Session, *, clock: Clock, incoming: Incoming, previous: WebhookDelivery | None
) -> WebhookDelivery:
    """The delivery's record, written first: a concurrent copy of the same delivery waits on
    its unique key (PostgreSQL) instead of doing the work twice."""
    record = previous
    if record is None:
        record = WebhookDelivery(provider=incoming.provider, delivery_id=incoming.delivery_id)
        session.add(record)
    record.topic = incoming.topic[:MAX_TOPIC]
    record.received_at = clock.now()
    record.status = DeliveryStatus.PROCESSED
    session.flush()
    return record


def _reject(session: Session, *, clock: Clock, incoming: Incoming, reason: str) -> None:
    with session.begin_nested():
        record = _previous(session, incoming)
        if record is None:
            record = WebhookDelivery(provider=incoming.provider, delivery_id=incoming.delivery_id)
            session.add(record)
        record.topic = incoming.topic[:MAX_TOPIC]
        record.received_at = clock.now()
        record.status = DeliveryStatus.REJECTED
        record.error = reason
        record.order_id = None
        # Kept as text for inspection; bytes that are not UTF-8 (or NUL, which PostgreSQL
        # cannot store) are replaced, never the reason for a failure of their own.
        record.body = incoming.body.decode("utf-8", "replace").replace("\x00", "\ufffd")
        session.flush()


def _join(notes: Sequence[str]) -> str | None:
    return "; ".join(notes) or None
