"""What a plan of activity is: the messages the touchpoints send, and the products each person
met (for commerce's demo purchases)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Planned:
    """One message a touchpoint sends, at its event time."""

    at: datetime
    source: str
    message: dict[str, Any]


@dataclass(frozen=True)
class Interaction:
    """A product a demo person met: viewed online, or tried (or viewed on the kiosk) in a store.
    Commerce's demo plans purchases from these, so journeys have something to find."""

    at: datetime
    sku: str
    online: bool
    store: str | None = None


@dataclass
class ActivityPlan:
    messages: list[Planned] = field(default_factory=list)
    # Per person (DemoPerson.index): the products they met, in the order planned.
    interactions: dict[int, list[Interaction]] = field(default_factory=dict)
    kiosk_emails: list[str] = field(default_factory=list)
    review_email: str | None = None
    review_device: str | None = None  # the family tablet merged into the reviewed customer
