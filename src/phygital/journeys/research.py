"""What a seller should know when a customer is in front of them: the products they looked at
online and have not bought yet (the ROPO moment that must not be dropped), and the journeys
they already made across channels. Read by the customer page and, later, the pickup desk:
one query for any number of customers, so a page of 5 or 50 costs the same."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from phygital.commerce.models import Order, OrderLine, OrderStatus, Product, Store
from phygital.journeys.detection import ONLINE_CHANNELS
from phygital.journeys.models import Journey, JourneyKind
from phygital.tracking.models import Event

# Event types that can name a product a person looked at (identify, group and alias cannot).
LOOKING = ("track", "page", "screen")


class Research(NamedTuple):
    """A product a customer looked at online: its sku, its name in the catalogue (None for an
    sku the catalogue does not know), when they last looked and on which channel."""

    sku: str
    name: str | None
    at: datetime
    channel: str


def recent_research(
    session: Session,
    member_ids_by_customer: Mapping[str, Sequence[str]],
    *,
    now: datetime,
    days: int = 30,
    per_customer: int = 3,
) -> dict[str, list[Research]]:
    """For each customer (id -> the ids of its member profiles), the products looked at on an
    online channel in the last `days` and not bought since (by any member, on any channel,
    cancelled orders aside): the newest look per product, newest first, at most
    `per_customer`. One query for all the customers."""
    result: dict[str, list[Research]] = {c: [] for c in member_ids_by_customer}
    customer_of = {m: c for c, members in member_ids_by_customer.items() for m in members}
    if not customer_of or per_customer < 1:
        return result
    members = sorted(customer_of)

    bought = (
        select(OrderLine.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            OrderLine.sku == Event.sku,
            Order.profile_id.in_(members),
            Order.placed_at >= Event.event_at,
            Order.status != OrderStatus.CANCELLED,
        )
    )
    if len(member_ids_by_customer) > 1:
        # Bought by the same customer: map member profiles to customers in the SQL itself.
        bought = bought.where(
            case(customer_of, value=Order.profile_id) == case(customer_of, value=Event.profile_id)
        )
    looks = (
        select(
            Event.id,
            Event.profile_id,
            Event.sku,
            Event.event_at,
            Event.channel,
            func.row_number()
            .over(
                partition_by=(Event.profile_id, Event.sku),
                order_by=(Event.event_at.desc(), Event.id.desc()),
            )
            .label("per_sku"),
        )
        .where(
            Event.profile_id.in_(members),
            Event.sku.is_not(None),
            Event.type.in_(LOOKING),
            Event.channel.in_(ONLINE_CHANNELS),
            Event.event_at >= now - timedelta(days=days),
            Event.event_at <= now,
            ~bought.exists(),
        )
        .subquery("looks")
    )
    # The newest products of each member profile: a customer's newest are among them.
    ranked = (
        select(
            looks.c.profile_id,
            looks.c.sku,
            looks.c.event_at,
            looks.c.channel,
            func.row_number()
            .over(
                partition_by=looks.c.profile_id,
                order_by=(looks.c.event_at.desc(), looks.c.id.desc()),
            )
            .label("per_profile"),
        )
        .where(looks.c.per_sku == 1)
        .subquery("ranked")
    )
    rows = session.execute(
        select(ranked.c.profile_id, ranked.c.sku, Product.name, ranked.c.event_at, ranked.c.channel)
        .outerjoin(Product, Product.sku == ranked.c.sku)
        .where(ranked.c.per_profile <= per_customer)
    )
    newest: dict[str, dict[str, Research]] = {c: {} for c in member_ids_by_customer}
    for profile_id, sku, name, at, channel in rows:
        products = newest[customer_of[profile_id]]
        seen = products.get(sku)
        if seen is None or at > seen.at:  # the same product seen by two member profiles
            products[sku] = Research(sku, name, at, str(channel))
    for customer, products in newest.items():
        ordered = sorted(products.values(), key=lambda r: (r.at, r.sku), reverse=True)
        result[customer] = ordered[:per_customer]
    return result


@dataclass(frozen=True)
class JourneyLine:
    """One journey of a customer as the customer page lists it."""

    kind: JourneyKind
    sku: str
    product: str | None
    online_at: datetime
    offline_at: datetime
    store_code: str | None
    store_name: str | None
    order_id: str
    order_label: str
    revenue: Decimal
    currency: str


def customer_journeys(
    session: Session, *, member_ids: Sequence[str], limit: int = 20
) -> list[JourneyLine]:
    """The journeys of the orders of these member profiles (one customer), newest purchase
    first, with product, store and order names."""
    if not member_ids:
        return []
    rows = session.execute(
        select(Journey, Product.name, Store.code, Store.name, Order.label, Order.external_id)
        .join(Order, Order.id == Journey.order_id)
        .outerjoin(Product, Product.sku == Journey.sku)
        .outerjoin(Store, Store.id == Journey.store_id)
        .where(Order.profile_id.in_(list(member_ids)))
        .order_by(Journey.purchased_at.desc(), Journey.id.desc())
        .limit(limit)
    )
    return [_line(*row) for row in rows]


def _line(
    j: Journey, product: Any, code: Any, store: Any, label: Any, external_id: str
) -> JourneyLine:
    return JourneyLine(
        kind=JourneyKind(j.kind),
        sku=j.sku,
        product=product,
        online_at=j.online_at,
        offline_at=j.offline_at,
        store_code=code,
        store_name=store,
        order_id=j.order_id,
        order_label=label or external_id,
        revenue=j.revenue,
        currency=j.currency,
    )
