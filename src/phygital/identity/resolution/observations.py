"""What resolution takes and gives: an `Observation` of a person, the `Resolution` it got, and
the per-kind limits of identifiers a customer may carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from phygital.identity.identifiers import (
    ANONYMOUS_ID,
    EMAIL,
    LOYALTY_CARD,
    PHONE,
    USER_ID,
    Ident,
)

DEFAULT_LIMITS: dict[str, int] = {
    USER_ID: 1,
    EMAIL: 5,
    PHONE: 5,
    LOYALTY_CARD: 5,
    ANONYMOUS_ID: 50,
}
EXTERNAL_LIMIT = 5
NAME_TRAITS = ("name", "first_name", "last_name", "firstName", "lastName")


@dataclass
class Observation:
    """What one thing seen says about a person."""

    # The first user id listed is the observation's own (an alias lists its previous id after).
    identifiers: list[Ident]
    at: datetime
    traits: dict[str, Any] = field(default_factory=dict)
    channel: str | None = None
    cause: str = "event"  # event, alias, import, order, api
    ref: str = ""  # e.g. the message id, for the merge log
    counts_as_event: bool = True
    # An order of this amount (commerce): the member's order counters, first/last seen times
    # and channels move with it, in the same bulk write as the identity.
    order_amount: Decimal | None = None


@dataclass(frozen=True)
class Resolution:
    """The member profile the observation was attached to, and its customer (cluster root) at
    the end of the batch; `new_customer` when every profile of that customer was created by the
    batch (nothing about it was on record before)."""

    profile_id: str
    customer_id: str
    created: bool = False
    new_customer: bool = False


def limit_for(kind: str, limits: dict[str, int]) -> int:
    return limits.get(kind, EXTERNAL_LIMIT)
