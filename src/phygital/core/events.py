"""Domain events: how one domain lets others react to its changes without importing them.

`publish` calls every subscriber synchronously, in the publisher's transaction: a subscriber
either does its (small) work right there, so it commits or rolls back with the change, or
enqueues a durable job for later (core/jobs.py), which is equally atomic. Subscribers are
registered at import time by each domain's `hooks` module (see main.HOOK_MODULES).

The events (name: payload):
- `orders.saved`: `order_ids` — new orders stored (any channel);
- `orders.changed`: `order_ids` — an order's state changed (ready, collected, cancelled…);
- `identity.changed`: `customer_ids` — customers whose membership changed (a merge, an unmerge);
- `tracking.product_events`: `profile_ids` — product events (with an sku) were stored for these
  member profiles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from phygital.core.clock import Clock

Subscriber = Callable[..., None]

_SUBSCRIBERS: dict[str, list[Subscriber]] = {}


def subscribe(name: str) -> Callable[[Subscriber], Subscriber]:
    """Register `fn(session, *, clock, **payload)` for the event `name`."""

    def register(fn: Subscriber) -> Subscriber:
        listeners = _SUBSCRIBERS.setdefault(name, [])
        if fn not in listeners:
            listeners.append(fn)
        return fn

    return register


def publish(session: Session, name: str, *, clock: Clock, **payload: Any) -> None:
    for fn in _SUBSCRIBERS.get(name, ()):
        fn(session, clock=clock, **payload)
