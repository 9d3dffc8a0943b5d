"""What the commerce pages show, each assembled in a constant number of queries.

The pickup desk is the hot one: a store may hold thousands of open pickups, and each card shows
the order's lines, the customer, what they looked at online and what to suggest at the counter.
Everything is loaded in batches for the cards on the page (never per card), so the desk costs
the same few statements with 5 pickups or 5,000.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from phygital.commerce import orders as order_service
from phygital.commerce import pickups, promises, suggestions
from phygital.commerce.models import (
    Notification,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    PromiseStatus,
    Stock,
    Store,
)
from phygital.commerce.pickups import Pickup, PickupState
from phygital.commerce.suggestions import Suggestion
from phygital.core.errors import Invalid
from phygital.core.pagination import decode_cursor, encode_cursor
from phygital.identity import service as identity
from phygital.identity.service import Contact
from phygital.tracking import service as tracking

DESK_STATES = pickups.OPEN_STATES  # overdue, awaiting, ready
# How far back "researched online recently" looks, and how much of it a card shows.
RESEARCH_DAYS = 30
RESEARCH_PER_CUSTOMER = 4
SUGGESTIONS_PER_CARD = 3


# -- the pickup desk ----------------------------------------------------------------------------


class Researched(NamedTuple):
    """A product the customer looked at online; `in_order` if they then ordered it."""

    sku: str
    name: str | None
    events: int
    last_at: datetime
    in_order: bool


class Line(NamedTuple):
    """What a card shows of an order line."""

    sku: str
    name: str | None
    quantity: int


@dataclass
class Card:
    order: Pickup
    state: str  # awaiting, ready or overdue
    lines: list[Line]
    customer: Contact | None
    research: list[Researched] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)


@dataclass
class Section:
    state: str
    count: int
    cards: list[Card]
    next_cursor: str | None


def desk(
    session: Session,
    *,
    store: Store,
    now: datetime,
    limit: int,
    only: PickupState | None = None,
    cursor: str | None = None,
) -> list[Section]:
    """The store's open pickups by section (overdue, awaiting, ready), the most urgent first,
    at most `limit` cards each; `only` one section from `cursor` on ("show more")."""
    counts = pickups.counts(session, now=now, store_id=store.id)
    pages = pickups.open_pages(
        session,
        now=now,
        store_id=store.id,
        states=(only,) if only is not None else DESK_STATES,
        limit=limit,
        cursor=cursor if only is not None else None,
    )
    cards = cards_for(
        session, [o for rows, _ in pages.values() for o in rows], store=store, now=now
    )
    return [
        Section(
            state=state.value,
            count=counts.get(state.value, 0),
            cards=[cards[o.id] for o in rows],
            next_cursor=next_cursor,
        )
        for state, (rows, next_cursor) in pages.items()
    ]


def cards_for(
    session: Session, orders: list[Pickup], *, store: Store, now: datetime
) -> dict[str, Card]:
    """Cards for these orders in five queries whatever their number: lines, customers, online
    research, suggestions and the names of researched products."""
    lines = lines_of(session, [o.id for o in orders])
    contact_of = identity.contacts_of(session, (o.profile_id for o in orders if o.profile_id))
    contacts = {c.id: c for c in contact_of.values()}
    research = tracking.recent_product_views(
        session,
        member_ids_by_customer={c.id: c.member_ids for c in contacts.values()},
        since=now - timedelta(days=RESEARCH_DAYS),
        per_customer=RESEARCH_PER_CUSTOMER,
    )
    baskets = {o.id: {ln.sku for ln in lines[o.id]} for o in orders}
    suggested = suggestions.for_baskets(
        session, baskets, store_id=store.id, limit=SUGGESTIONS_PER_CARD
    )
    researched_skus = {p.sku for found in research.values() for p in found}
    names = product_names(session, researched_skus)
    cards: dict[str, Card] = {}
    for order in orders:
        customer = contact_of.get(order.profile_id) if order.profile_id else None
        seen = research.get(customer.id, []) if customer is not None else []
        basket = baskets[order.id]
        cards[order.id] = Card(
            order=order,
            state=str(pickups.state_of(order, now)),
            lines=lines[order.id],
            customer=customer,
            research=[
                Researched(
                    sku=p.sku,
                    name=names.get(p.sku),
                    events=p.events,
                    last_at=p.last_at,
                    in_order=p.sku in basket,
                )
                for p in seen
            ],
            suggestions=suggested[order.id],
        )
    return cards


def lines_of(session: Session, order_ids: list[str]) -> dict[str, list[Line]]:
    """The lines of these orders (by order id, in their order), in one query."""
    result: dict[str, list[Line]] = {i: [] for i in order_ids}
    for start in range(0, len(order_ids), 900):
        rows = session.execute(_lines_statement(), {"ids": order_ids[start : start + 900]})
        for order_id, sku, name, quantity in rows:
            result[order_id].append(Line(sku, name, quantity))
    return result


# Statements the desk runs on every request are built once and reused with their parameters.
@cache
def _lines_statement() -> Select[str, str, str | None, int]:
    return (
        select(OrderLine.order_id, OrderLine.sku, OrderLine.name, OrderLine.quantity)
        .where(OrderLine.order_id.in_(bindparam("ids", expanding=True)))
        .order_by(OrderLine.id)
    )


def customers_of(session: Session, orders: Iterable[Order]) -> dict[str, identity.Contact | None]:
    """Each order's customer (by order id) as a `Contact`, in one query."""
    orders = list(orders)
    contact_of = identity.contacts_of(session, (o.profile_id for o in orders if o.profile_id))
    return {o.id: contact_of.get(o.profile_id) if o.profile_id else None for o in orders}


def product_names(session: Session, skus: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    rows = session.execute(_names_statement(), {"skus": wanted})
    return {sku: name for sku, name in rows}


@cache
def _names_statement() -> Select[str, str]:
    return select(Product.sku, Product.name).where(
        Product.sku.in_(bindparam("skus", expanding=True))
    )


# -- orders -------------------------------------------------------------------------------------

ORDER_STATUSES = (
    "placed",
    "fulfilled",
    "awaiting",
    "ready",
    "overdue",
    "collected",
    "cancelled",
)
PICKUP_STATES = {"awaiting": PickupState.AWAITING, "ready": PickupState.READY}


def list_orders(
    session: Session,
    *,
    now: datetime,
    store_id: str | None = None,
    channel: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Order], str | None]:
    """Orders newest first, filtered by store, channel and status (`overdue` and the open
    pickup states are derived from the time, as on the desk), with the next page's cursor."""
    stmt = select(Order)
    if store_id is not None:
        stmt = stmt.where(Order.store_id == store_id)
    if channel:
        stmt = stmt.where(Order.channel == channel)
    if status == "overdue":
        stmt = stmt.where(pickups.state_condition(PickupState.OVERDUE, now))
    elif status in PICKUP_STATES:
        # An awaiting or ready pickup past its time is overdue, not awaiting or ready.
        stmt = stmt.where(pickups.state_condition(PICKUP_STATES[status], now))
    elif status:
        if status not in ORDER_STATUSES:
            raise Invalid(f"unknown status {status!r}", field="status")
        stmt = stmt.where(Order.status == status)
    if cursor:
        at_text, last_id = decode_cursor(cursor, size=2)
        try:
            at = datetime.fromisoformat(str(at_text))
        except ValueError:
            raise Invalid("malformed cursor", field="cursor") from None
        stmt = stmt.where(
            or_(Order.placed_at < at, and_(Order.placed_at == at, Order.id < str(last_id)))
        )
    stmt = stmt.order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit and page:
        next_cursor = encode_cursor([page[-1].placed_at.isoformat(), page[-1].id])
    return page, next_cursor


@dataclass(frozen=True)
class Step:
    """One moment in an order's life, for its page: what happened, when, and details."""

    at: datetime
    kind: str  # placed, promised, ready, collected, cancelled, kept, broken, notified
    detail: dict[str, Any] = field(default_factory=dict)
    future: bool = False


def order_history(session: Session, *, order: Order, now: datetime) -> list[Step]:
    """An order's timeline: placed, promised, ready, collected or cancelled, the promise kept
    or broken, and the notifications sent about it; oldest first."""
    steps = [Step(order.placed_at, "placed")]
    if order.promised_ready_at is not None:
        steps.append(
            Step(order.promised_ready_at, "promised", future=order.promised_ready_at > now)
        )
    if order.ready_at is not None:
        steps.append(Step(order.ready_at, "ready"))
    if order.collected_at is not None:
        steps.append(Step(order.collected_at, "collected"))
    if order.cancelled_at is not None:
        steps.append(Step(order.cancelled_at, "cancelled"))
    subject = order_service.subject(order.id)
    promise = promises.for_subjects(session, [subject]).get(subject)
    if promise is not None:
        # Broken at its due time, also while still open (the check job may not have run).
        late = promise.status == PromiseStatus.OPEN and promise.due_at < now
        if promise.status == PromiseStatus.BROKEN or late:
            steps.append(Step(promise.due_at, "broken", {"done_at": promise.resolved_at}))
        elif promise.status == PromiseStatus.KEPT and promise.resolved_at is not None:
            steps.append(Step(promise.resolved_at, "kept", {"due": promise.due_at}))
    for note in session.scalars(
        select(Notification)
        .where(Notification.order_id == order.id)
        .order_by(Notification.created_at, Notification.id)
    ):
        steps.append(
            Step(
                note.sent_at or note.created_at,
                "notified",
                {
                    "kind": note.kind,
                    "channel": note.channel,
                    "recipient": note.recipient,
                    "status": str(note.status),
                    "error": note.last_error,
                },
            )
        )
    rank = {"placed": 0, "promised": 1, "broken": 2, "ready": 3, "kept": 4}
    return sorted(steps, key=lambda s: (s.at, rank.get(s.kind, 5)))


def can_mark_ready(order: Order | Pickup) -> bool:
    return order.fulfilment == "pickup" and order.status == OrderStatus.AWAITING


def can_mark_collected(order: Order | Pickup) -> bool:
    return order.fulfilment == "pickup" and order.status in order_service.OPEN_PICKUP


def can_cancel(order: Order) -> bool:
    return order.status not in (
        OrderStatus.CANCELLED,
        OrderStatus.COLLECTED,
        OrderStatus.FULFILLED,
    )


# -- stock --------------------------------------------------------------------------------------


def stock_by_store(session: Session, *, sku: str, stores: list[Store]) -> dict[str, Stock]:
    """A product's stock in each of these stores (by store id), in one query; a store that
    never counted it gets zeros."""
    found = {
        row.store_id: row
        for row in session.scalars(
            select(Stock).where(Stock.sku == sku, Stock.store_id.in_([s.id for s in stores]))
        )
    }
    return {
        s.id: found.get(s.id) or Stock(store_id=s.id, sku=sku, on_hand=0, reserved=0)
        for s in stores
    }


def store_codes(session: Session, store_ids: Iterable[str | None]) -> dict[str, Store]:
    wanted = sorted({s for s in store_ids if s})
    if not wanted:
        return {}
    return {s.id: s for s in session.scalars(select(Store).where(Store.id.in_(wanted)))}
