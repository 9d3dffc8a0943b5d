"""What a manager reads from the journeys: store revenue the web earned (per store, category,
week), the channel mix of customers' interactions over time, and the products most often
researched on one side and bought on the other.

Weeks start on Monday. They are computed in Python from per-day figures, and days are UTC days
(`date()` of a UTC time is portable SQL): an interaction between midnight and 01:00 or 02:00 in
Italy counts for the previous day. Fine for weekly charts; said here so nobody is surprised.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from phygital.commerce.models import Fulfilment, Order, OrderStatus, Product, Store
from phygital.identity.models import Profile
from phygital.journeys.detection import ONLINE_CHANNELS
from phygital.journeys.models import Journey, JourneyKind
from phygital.journeys.service import Filters
from phygital.tracking.models import Event

INTERACTION_TYPES = ("track", "page", "screen")


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class AttributionRow:
    week: date | None
    store: str | None
    category: str | None
    ropo_revenue: Decimal
    store_revenue: Decimal | None
    share: float | None


def attribution(
    session: Session, *, filters: Filters, by: tuple[str, ...] = ("store", "week")
) -> list[AttributionRow]:
    """ROPO revenue (store sales that online research preceded) grouped by any of `store`,
    `category`, `week`, with the store's in-store revenue and the share where the grouping
    allows it (not per category: a store's revenue is not split by category here)."""
    ropo = filters.apply(
        select(
            func.date(Journey.purchased_at),
            Store.code,
            Product.category,
            func.sum(Journey.revenue),
        )
        .outerjoin(Store, Store.id == Journey.store_id)
        .outerjoin(Product, Product.sku == Journey.sku)
        .where(Journey.kind == JourneyKind.ROPO)
        .group_by(func.date(Journey.purchased_at), Store.code, Product.category)
    )
    groups: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
    for day, code, category, revenue in session.execute(ropo):
        key = (
            week_of(_day(day)) if "week" in by else None,
            code if "store" in by else None,
            category if "category" in by else None,
        )
        groups[key] += Decimal(revenue or 0)
    sales: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
    if "category" not in by:
        stmt = (
            select(func.date(Order.placed_at), Store.code, func.sum(Order.total))
            .join(Store, Store.id == Order.store_id)
            .where(Order.fulfilment == Fulfilment.IN_STORE, Order.status != OrderStatus.CANCELLED)
            .group_by(func.date(Order.placed_at), Store.code)
        )
        if filters.store_id is not None:
            stmt = stmt.where(Order.store_id == filters.store_id)
        if filters.start is not None:
            stmt = stmt.where(Order.placed_at >= filters.start)
        if filters.end is not None:
            stmt = stmt.where(Order.placed_at < filters.end)
        for day, code, total in session.execute(stmt):
            week = week_of(_day(day)) if "week" in by else None
            sales[(week, code if "store" in by else None)] += Decimal(total or 0)
        for key in sales:
            groups.setdefault((*key, None), Decimal("0.00"))
    rows = []
    for (week, code, category), revenue in groups.items():
        store_revenue = sales.get((week, code)) if "category" not in by else None
        share = round(float(revenue / store_revenue), 4) if store_revenue else None
        rows.append(AttributionRow(week, code, category, revenue, store_revenue, share))
    rows.sort(key=lambda r: (r.week or date.min, r.store or "", r.category or ""))
    return rows


@dataclass(frozen=True)
class MixRow:
    week: date
    online: int
    offline: int

    @property
    def online_share(self) -> float | None:
        total = self.online + self.offline
        return round(self.online / total, 4) if total else None


def channel_mix(
    session: Session,
    *,
    start: datetime | None,
    end: datetime | None,
    store_id: str | None = None,
) -> list[MixRow]:
    """Customers' interactions per week, online vs offline: product and page events and
    orders. For a store: the interactions of its customers (people who bought there or met a
    product there in the period), wherever they happened."""
    online_week: dict[date, int] = defaultdict(int)
    offline_week: dict[date, int] = defaultdict(int)

    customers = None
    if store_id is not None:
        code = session.scalar(select(Store.code).where(Store.id == store_id))
        bought = (
            select(Profile.canonical_id)
            .join(Order, Order.profile_id == Profile.id)
            .where(Order.store_id == store_id, *_between(Order.placed_at, start, end))
        )
        met = (
            select(Profile.canonical_id)
            .join(Event, Event.profile_id == Profile.id)
            .where(
                cast(Event.properties["store"].as_string(), String) == code,
                *_between(Event.event_at, start, end),
            )
        )
        customers = select(Profile.id).where(
            or_(Profile.canonical_id.in_(bought), Profile.canonical_id.in_(met))
        )

    event_online = Event.channel.in_(ONLINE_CHANNELS)
    events = (
        select(func.date(Event.event_at), event_online, func.count())
        .where(Event.type.in_(INTERACTION_TYPES), *_between(Event.event_at, start, end))
        .group_by(func.date(Event.event_at), event_online)
    )
    order_online = Order.channel.in_(ONLINE_CHANNELS)
    orders = (
        select(func.date(Order.placed_at), order_online, func.count())
        .where(Order.status != OrderStatus.CANCELLED, *_between(Order.placed_at, start, end))
        .group_by(func.date(Order.placed_at), order_online)
    )
    if customers is not None:
        events = events.where(Event.profile_id.in_(customers))
        orders = orders.where(Order.profile_id.in_(customers))
    for stmt in (events, orders):
        for day, online, count in session.execute(stmt):
            week = week_of(_day(day))
            if online:
                online_week[week] += count
            else:
                offline_week[week] += count
    weeks = sorted(set(online_week) | set(offline_week))
    return [MixRow(w, online_week.get(w, 0), offline_week.get(w, 0)) for w in weeks]


def _between(column: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    conditions = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


@dataclass(frozen=True)
class TopProduct:
    sku: str
    name: str | None
    journeys: int
    revenue: Decimal


def top_products(
    session: Session, *, filters: Filters, kind: JourneyKind, limit: int = 10
) -> list[TopProduct]:
    """The products most often researched on one side and bought on the other."""
    stmt = filters.apply(
        select(Journey.sku, Product.name, func.count(), func.sum(Journey.revenue))
        .outerjoin(Product, Product.sku == Journey.sku)
        .where(Journey.kind == kind)
        .group_by(Journey.sku, Product.name)
        .order_by(func.count().desc(), Journey.sku)
        .limit(limit)
    )
    return [
        TopProduct(sku, name, count, Decimal(revenue or 0))
        for sku, name, count, revenue in session.execute(stmt)
    ]
