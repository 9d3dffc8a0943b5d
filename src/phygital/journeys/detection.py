"""Finding journeys: set-based SQL over orders, their lines, customers and events.

One function computes the journeys of a chosen set of orders (`detect`); the incremental path
(new orders, late events, merges) and `phygital journeys rebuild` both call it, so they cannot
disagree. The definitions (contract, section 4 — Journeys):

- ROPO: the customer interacted with the product online (a product event, or a page or screen
  with the product's sku, from an online channel) before buying it in a store (an in-store
  sale), at most `window` earlier: `placed_at - window <= online_at < placed_at`.
- Showrooming: the customer met the product in a store (a product event from an offline
  channel: `Product Tried`, a kiosk's `Product Viewed`…) before buying it online (an order from
  an online channel, delivered or collected), within the same window. The journey's store is
  the store where the product was met (the event's `properties.store`), else the order's.
- Click & collect: an online order with `"fulfilment": "pickup"`; online side the order,
  offline side the collection (else the promise, else the order).

The customer is the whole cluster (every merged profile): research done anonymously on a
device later identified counts. Cancelled orders have no journeys. Each journey names the
latest qualifying interaction (closest to the purchase).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from phygital.commerce.models import Fulfilment, Order, OrderLine, OrderStatus, Store
from phygital.identity.models import Profile
from phygital.journeys.models import JourneyKind
from phygital.tracking.models import Channel, Event

ONLINE_CHANNELS = tuple(c.value for c in Channel if c.online)
OFFLINE_CHANNELS = tuple(c.value for c in Channel if not c.online)


@dataclass(frozen=True)
class Rules:
    """What counts as research: the window and, per side, the track events that count (empty:
    any event carrying an sku)."""

    window: timedelta = timedelta(days=30)
    online_events: frozenset[str] = field(default_factory=frozenset)
    offline_events: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Found:
    kind: JourneyKind
    order_id: str
    sku: str
    customer_id: str | None
    store_id: str | None
    online_at: Any
    offline_at: Any
    purchased_at: Any
    event_id: int | None
    revenue: Decimal
    currency: str

    def row(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "order_id": self.order_id,
            "sku": self.sku,
            "customer_id": self.customer_id,
            "store_id": self.store_id,
            "online_at": self.online_at,
            "offline_at": self.offline_at,
            "purchased_at": self.purchased_at,
            "event_id": self.event_id,
            "revenue": self.revenue,
            "currency": self.currency,
        }


def _lines() -> Any:
    """Revenue per (order, sku): an sku on two lines of one order is one journey."""
    return (
        select(
            OrderLine.order_id,
            OrderLine.sku,
            func.sum(OrderLine.quantity * OrderLine.unit_price).label("revenue"),
        )
        .group_by(OrderLine.order_id, OrderLine.sku)
        .subquery("lines")
    )


def _interaction(rules: Rules, *, online: bool) -> ColumnElement[bool]:
    names = rules.online_events if online else rules.offline_events
    track = Event.type == "track"
    if names:
        track = and_(track, Event.name.in_(sorted(names)))
    if online:
        return and_(
            Event.channel.in_(ONLINE_CHANNELS), or_(track, Event.type.in_(("page", "screen")))
        )
    return and_(Event.channel.in_(OFFLINE_CHANNELS), track)


def _research_query(
    kind: JourneyKind, rules: Rules, orders_where: Sequence[ColumnElement[bool]]
) -> Select[Any]:
    lines = _lines()
    buyer = aliased(Profile, name="buyer")
    member = aliased(Profile, name="member")
    store: ColumnElement[str | None]
    if kind == JourneyKind.ROPO:
        purchase = Order.fulfilment == Fulfilment.IN_STORE
        store = Order.store_id  # type: ignore[assignment]
    else:
        purchase = Order.channel.in_(ONLINE_CHANNELS)
        store = func.coalesce(
            select(Store.id)
            .where(Store.code == Event.properties["store"].as_string())
            .scalar_subquery(),
            Order.store_id,
        )
    ranked = (
        select(
            Order.id.label("order_id"),
            lines.c.sku,
            buyer.canonical_id.label("customer_id"),
            store.label("store_id"),
            Event.event_at.label("research_at"),
            Order.placed_at,
            Event.id.label("event_id"),
            lines.c.revenue,
            Order.currency,
            func.row_number()
            .over(
                partition_by=(Order.id, lines.c.sku),
                order_by=(Event.event_at.desc(), Event.id.desc()),
            )
            .label("rank"),
        )
        .join(lines, lines.c.order_id == Order.id)
        .join(buyer, buyer.id == Order.profile_id)
        .join(member, member.canonical_id == buyer.canonical_id)
        .join(
            Event,
            and_(
                Event.profile_id == member.id,
                Event.sku == lines.c.sku,
                Event.event_at < Order.placed_at,
            ),
        )
        .where(
            purchase,
            Order.status != OrderStatus.CANCELLED,
            _interaction(rules, online=kind == JourneyKind.ROPO),
            *orders_where,
        )
        .subquery("ranked")
    )
    return select(ranked).where(ranked.c.rank == 1)


def _click_and_collect_query(orders_where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    lines = _lines()
    buyer = aliased(Profile, name="buyer")
    return (
        select(
            Order.id.label("order_id"),
            lines.c.sku,
            buyer.canonical_id.label("customer_id"),
            Order.store_id,
            Order.placed_at,
            func.coalesce(Order.collected_at, Order.promised_ready_at, Order.placed_at).label(
                "offline_at"
            ),
            lines.c.revenue,
            Order.currency,
            literal(None).label("event_id"),
        )
        .join(lines, lines.c.order_id == Order.id)
        .outerjoin(buyer, buyer.id == Order.profile_id)
        .where(
            Order.fulfilment == Fulfilment.PICKUP,
            Order.channel.in_(ONLINE_CHANNELS),
            Order.status != OrderStatus.CANCELLED,
            *orders_where,
        )
    )


def detect(
    session: Session, *, rules: Rules, orders_where: Sequence[ColumnElement[bool]] = ()
) -> list[Found]:
    """Every journey of the orders matching `orders_where` (all orders when empty)."""
    found: list[Found] = []
    for kind in (JourneyKind.ROPO, JourneyKind.SHOWROOMING):
        for r in session.execute(_research_query(kind, rules, orders_where)):
            if r.research_at < r.placed_at - rules.window:
                continue  # the latest research is older than the window: none is inside
            online_at, offline_at = (
                (r.research_at, r.placed_at)
                if kind == JourneyKind.ROPO
                else (r.placed_at, r.research_at)
            )
            found.append(
                Found(
                    kind=kind,
                    order_id=r.order_id,
                    sku=r.sku,
                    customer_id=r.customer_id,
                    store_id=r.store_id,
                    online_at=online_at,
                    offline_at=offline_at,
                    purchased_at=r.placed_at,
                    event_id=r.event_id,
                    revenue=Decimal(r.revenue),
                    currency=r.currency,
                )
            )
    for r in session.execute(_click_and_collect_query(orders_where)):
        found.append(
            Found(
                kind=JourneyKind.CLICK_AND_COLLECT,
                order_id=r.order_id,
                sku=r.sku,
                customer_id=r.customer_id,
                store_id=r.store_id,
                online_at=r.placed_at,
                offline_at=r.offline_at,
                purchased_at=r.placed_at,
                event_id=None,
                revenue=Decimal(r.revenue),
                currency=r.currency,
            )
        )
    return found


def orders_of_customers(session: Session, customer_ids: Iterable[str]) -> list[str]:
    """Every order of these customers' clusters (by any member profile)."""
    roots = sorted(set(customer_ids))
    result: list[str] = []
    for start in range(0, len(roots), 500):
        chunk = roots[start : start + 500]
        result.extend(
            session.scalars(
                select(Order.id)
                .join(Profile, Profile.id == Order.profile_id)
                .where(Profile.canonical_id.in_(chunk))
            )
        )
    return result
