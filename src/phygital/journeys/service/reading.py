"""Reading journeys: the filters of the API and the dashboard, the list newest first, and the
summary (counts and revenue per kind, ROPO share of store sales, median days to purchase)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from phygital.commerce.models import Fulfilment, Order, OrderStatus, Store
from phygital.journeys.detection import days_between
from phygital.journeys.models import Journey, JourneyKind


@dataclass(frozen=True)
class Filters:
    kind: JourneyKind | None = None
    start: datetime | None = None
    end: datetime | None = None
    store_id: str | None = None
    sku: str | None = None
    customer_ids: tuple[str, ...] = ()

    def apply(self, stmt: Any) -> Any:
        if self.kind is not None:
            stmt = stmt.where(Journey.kind == self.kind)
        if self.start is not None:
            stmt = stmt.where(Journey.purchased_at >= self.start)
        if self.end is not None:
            stmt = stmt.where(Journey.purchased_at < self.end)
        if self.store_id is not None:
            stmt = stmt.where(Journey.store_id == self.store_id)
        if self.sku is not None:
            stmt = stmt.where(Journey.sku == self.sku)
        if self.customer_ids:
            stmt = stmt.where(Journey.customer_id.in_(self.customer_ids))
        return stmt


def list_journeys(
    session: Session, *, filters: Filters, before: tuple[datetime, int] | None, limit: int
) -> list[tuple[Journey, str | None]]:
    """Journeys newest purchase first, with their store's code."""
    stmt = filters.apply(select(Journey, Store.code).outerjoin(Store, Store.id == Journey.store_id))
    if before is not None:
        at, last_id = before
        stmt = stmt.where(
            or_(
                Journey.purchased_at < at,
                (Journey.purchased_at == at) & (Journey.id < last_id),
            )
        )
    stmt = stmt.order_by(Journey.purchased_at.desc(), Journey.id.desc()).limit(limit)
    return [(j, code) for j, code in session.execute(stmt)]


@dataclass
class KindSummary:
    count: int = 0
    orders: int = 0
    revenue: Decimal = Decimal("0.00")


@dataclass
class Summary:
    by_kind: dict[str, KindSummary] = field(default_factory=dict)
    store_revenue: Decimal = Decimal("0.00")
    ropo_share: float | None = None
    median_days: dict[str, float | None] = field(default_factory=dict)


def summary(session: Session, *, filters: Filters) -> Summary:
    """Counts and revenue per kind, ROPO revenue as a share of in-store revenue, and the median
    days from research to purchase, over the filtered journeys."""
    result = Summary()
    rows = session.execute(
        filters.apply(
            select(
                Journey.kind,
                func.count(),
                func.count(func.distinct(Journey.order_id)),
                func.sum(Journey.revenue),
            ).group_by(Journey.kind)
        )
    )
    for kind in JourneyKind:
        result.by_kind[kind.value] = KindSummary()
    for kind, count, orders, revenue in rows:
        result.by_kind[str(kind)] = KindSummary(count, orders, Decimal(revenue or 0))
    sales = select(func.sum(Order.total)).where(
        Order.fulfilment == Fulfilment.IN_STORE, Order.status != OrderStatus.CANCELLED
    )
    if filters.store_id is not None:
        sales = sales.where(Order.store_id == filters.store_id)
    if filters.start is not None:
        sales = sales.where(Order.placed_at >= filters.start)
    if filters.end is not None:
        sales = sales.where(Order.placed_at < filters.end)
    result.store_revenue = Decimal(session.scalar(sales) or 0)
    if filters.kind in (None, JourneyKind.ROPO) and result.store_revenue:
        ropo = result.by_kind[JourneyKind.ROPO.value].revenue
        result.ropo_share = round(float(ropo / result.store_revenue), 4)
    # Days from research to purchase, computed by the database (`days_between`, to the
    # millisecond on SQLite): turning thousands of spans into datetimes in Python cost half the
    # time of a month's summary. Showrooming's research is its offline side: hence abs().
    kinds = [k for k in (JourneyKind.ROPO, JourneyKind.SHOWROOMING) if filters.kind in (None, k)]
    days: dict[str, list[float]] = {k.value: [] for k in kinds}
    if kinds:
        spans = session.execute(
            filters.apply(
                select(
                    Journey.kind, func.abs(days_between(Journey.online_at, Journey.offline_at))
                ).where(Journey.kind.in_(kinds))
            )
        )
        for kind, span in spans:
            days[str(kind)].append(float(span))
    for kind in (JourneyKind.ROPO, JourneyKind.SHOWROOMING):
        found = days.get(kind.value)
        result.median_days[kind.value] = round(statistics.median(found), 2) if found else None
    return result
