"""Finding journeys: set-based SQL over orders, their lines, customers and events.

One set of queries computes the journeys of a chosen set of orders (`journey_queries`); the
incremental path (new orders, late events, merges) and `phygital journeys rebuild` both run it
(`service` stores what it finds with `INSERT … SELECT`, `detect` returns it), so they cannot
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

Cost: per purchased sku and member profile of the buyer, one range of the events index on
`(profile_id, sku, event_at)` bounded by the window; nothing is read for orders outside the
chosen set, and no row passes through Python when the journeys are stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Subquery,
    and_,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.functions import FunctionElement

from phygital.commerce.models import Fulfilment, Order, OrderLine, OrderStatus, Store
from phygital.db import UTCDateTime
from phygital.identity.models import Profile
from phygital.journeys.models import JourneyKind
from phygital.tracking.models import Channel, Event

ONLINE_CHANNELS = tuple(c.value for c in Channel if c.online)
OFFLINE_CHANNELS = tuple(c.value for c in Channel if not c.online)

# The columns every journey query returns, in the order of the journeys table.
COLUMNS = (
    "kind",
    "order_id",
    "sku",
    "customer_id",
    "store_id",
    "online_at",
    "offline_at",
    "purchased_at",
    "event_id",
    "revenue",
    "currency",
)


@dataclass(frozen=True)
class Rules:
    """What counts as research: the window (whole seconds; the company sets it in days) and,
    per side, the track events that count (empty: any event carrying an sku)."""

    window: timedelta = timedelta(days=30)
    online_events: frozenset[str] = field(default_factory=frozenset)
    offline_events: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.window % timedelta(seconds=1) or self.window <= timedelta(0):
            raise ValueError("the window is a positive number of whole seconds")


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
        return {name: getattr(self, name) for name in COLUMNS}


def _purchases(
    condition: ColumnElement[bool],
    orders_where: Sequence[ColumnElement[bool]],
    *,
    anonymous: bool = False,
) -> Subquery:
    """The purchases to explain: one row per (order, sku) of the chosen orders that meet
    `condition` and are not cancelled, with the buyer's customer (cluster root) and the revenue
    of the sku's lines (an sku on two lines of one order is one journey). The order filter
    applies here, before any event is read, so a chunk of orders costs only its own lines.
    (One subquery per kind: SQLite would compute a CTE shared by the three kinds once per
    use anyway.)"""
    buyer = aliased(Profile, name="buyer")
    return (
        select(
            Order.id.label("order_id"),
            OrderLine.sku,
            buyer.canonical_id.label("customer_id"),
            Order.store_id,
            Order.placed_at,
            Order.collected_at,
            Order.promised_ready_at,
            Order.currency,
            func.sum(OrderLine.quantity * OrderLine.unit_price).label("revenue"),
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(buyer, buyer.id == Order.profile_id, isouter=anonymous)
        .where(condition, Order.status != OrderStatus.CANCELLED, *orders_where)
        .group_by(Order.id, OrderLine.sku, buyer.canonical_id)
        .subquery("purchases")
    )


class _Before(FunctionElement[datetime]):
    """`moment - seconds` in SQL, exactly (to the microsecond), on both databases."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(_Before)
def _before_default(element: _Before, compiler: Any, **kw: Any) -> str:
    moment, seconds = element.clauses
    return (
        f"({compiler.process(moment, **kw)} - "
        f"make_interval(secs => {compiler.process(seconds, **kw)}))"
    )


@compiles(_Before, "sqlite")
def _before_sqlite(element: _Before, compiler: Any, **kw: Any) -> str:
    # Times are stored as 'YYYY-MM-DD HH:MM:SS.ffffff'. SQLite's date functions keep only
    # milliseconds, so the whole seconds are moved by strftime and the original fraction is
    # put back: the bound compares exactly like the stored times.
    moment, seconds = element.clauses
    at = compiler.process(moment, **kw)
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {at}, '-' || {compiler.process(seconds, **kw)}"
        f" || ' seconds') || substr({at}, 20))"
    )


class days_between(FunctionElement[float]):
    """`end - start` in days (a float), in SQL on both databases: lets a report take the
    spans of thousands of journeys without turning each time into a Python datetime."""

    type = Float()
    inherit_cache = True


@compiles(days_between)
def _days_between_default(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS DOUBLE PRECISION) / 86400.0)"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(julianday({end}) - julianday({start}))"


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
    """ROPO or showrooming journeys: for each purchased sku, the latest qualifying interaction
    of the buyer's cluster with it in the window before the purchase (rank 1 per order and
    sku)."""
    if kind == JourneyKind.ROPO:
        purchases = _purchases(Order.fulfilment == Fulfilment.IN_STORE, orders_where)
    else:
        purchases = _purchases(Order.channel.in_(ONLINE_CHANNELS), orders_where)
    member = aliased(Profile, name="member")
    since = _Before(purchases.c.placed_at, literal(int(rules.window.total_seconds())))
    ranked = (
        select(
            purchases.c.order_id,
            purchases.c.sku,
            purchases.c.customer_id,
            purchases.c.store_id,
            purchases.c.placed_at,
            purchases.c.revenue,
            purchases.c.currency,
            Event.event_at.label("research_at"),
            Event.id.label("event_id"),
            func.row_number()
            .over(
                partition_by=(purchases.c.order_id, purchases.c.sku),
                order_by=(Event.event_at.desc(), Event.id.desc()),
            )
            .label("rank"),
        )
        .select_from(purchases)
        .join(member, member.canonical_id == purchases.c.customer_id)
        .join(
            Event,
            and_(
                Event.profile_id == member.id,
                Event.sku == purchases.c.sku,
                Event.event_at < purchases.c.placed_at,
                Event.event_at >= since,
            ),
        )
        .where(_interaction(rules, online=kind == JourneyKind.ROPO))
        .subquery("ranked")
    )
    if kind == JourneyKind.ROPO:
        online_at, offline_at = ranked.c.research_at, ranked.c.placed_at
        store: ColumnElement[Any] = ranked.c.store_id
    else:
        online_at, offline_at = ranked.c.placed_at, ranked.c.research_at
        # The store where the product was met (the event's `properties.store`), else the
        # order's; read for the chosen interaction only.
        store = func.coalesce(Store.id, ranked.c.store_id)
    stmt = select(
        literal(kind.value).label("kind"),
        ranked.c.order_id,
        ranked.c.sku,
        ranked.c.customer_id,
        store.label("store_id"),
        online_at.label("online_at"),
        offline_at.label("offline_at"),
        ranked.c.placed_at.label("purchased_at"),
        ranked.c.event_id,
        ranked.c.revenue,
        ranked.c.currency,
    ).select_from(ranked)
    if kind == JourneyKind.SHOWROOMING:
        met = aliased(Event, name="met")
        stmt = stmt.outerjoin(met, met.id == ranked.c.event_id).outerjoin(
            Store, Store.code == met.properties["store"].as_string()
        )
    return stmt.where(ranked.c.rank == 1)


def _click_and_collect_query(orders_where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    purchases = _purchases(
        and_(Order.fulfilment == Fulfilment.PICKUP, Order.channel.in_(ONLINE_CHANNELS)),
        orders_where,
        anonymous=True,
    )
    return select(
        literal(JourneyKind.CLICK_AND_COLLECT.value).label("kind"),
        purchases.c.order_id,
        purchases.c.sku,
        purchases.c.customer_id,
        purchases.c.store_id,
        purchases.c.placed_at.label("online_at"),
        func.coalesce(
            purchases.c.collected_at, purchases.c.promised_ready_at, purchases.c.placed_at
        ).label("offline_at"),
        purchases.c.placed_at.label("purchased_at"),
        null().label("event_id"),
        purchases.c.revenue,
        purchases.c.currency,
    )


def journey_queries(
    rules: Rules, orders_where: Sequence[ColumnElement[bool]] = ()
) -> list[Select[Any]]:
    """The queries that find every journey of the orders matching `orders_where` (all orders
    when empty), one per kind, each returning `COLUMNS`. `orders_where` may hold bound
    parameters (`bindparam`), so the statements can be built once and run per chunk."""
    return [
        _research_query(JourneyKind.ROPO, rules, orders_where),
        _research_query(JourneyKind.SHOWROOMING, rules, orders_where),
        _click_and_collect_query(orders_where),
    ]


def detect(
    session: Session, *, rules: Rules, orders_where: Sequence[ColumnElement[bool]] = ()
) -> list[Found]:
    """Every journey of the orders matching `orders_where` (all orders when empty)."""
    found: list[Found] = []
    for query in journey_queries(rules, orders_where):
        for r in session.execute(query):
            values = r._asdict()
            values["kind"] = JourneyKind(values["kind"])
            values["revenue"] = Decimal(values["revenue"])
            found.append(Found(**values))
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
