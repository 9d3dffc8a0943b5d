"""Journeys found in the history: one row per purchase line that a journey explains."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from phygital.db import Base


class JourneyKind(StrEnum):
    ROPO = "ropo"  # research online, purchase offline
    SHOWROOMING = "showrooming"  # meet the product in a store, buy it online
    CLICK_AND_COLLECT = "click_and_collect"  # an online order collected in a store


class Journey(Base):
    """A purchase of one product that crossed channels: which order line, which side was online
    and which offline, when, where (the store of the offline side), and for how much.

    Derived data: `journeys.service.refresh_orders` recomputes the journeys of any order from
    the events and orders of its customer, so identity changes (a merge, an unmerge, an
    erasure) and late events are honoured by recomputing, never by patching."""

    __tablename__ = "journeys"
    __table_args__ = (
        # The unique key. Order first: it also serves every lookup by order (refreshes, the
        # cascade from orders). An index, not a table constraint (the same guarantee), so that a
        # first rebuild can drop it and build it again like the others (`service.fill_empty`).
        Index("uq_journeys_order_id_kind_sku", "order_id", "kind", "sku", unique=True),
        Index("ix_journeys_purchased_at", "purchased_at"),
        Index("ix_journeys_store_id_purchased_at", "store_id", "purchased_at"),
        Index("ix_journeys_customer_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[JourneyKind] = mapped_column(String(20), nullable=False)
    order_id: Mapped[str] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), nullable=False
    )
    sku: Mapped[str] = mapped_column(String(100), nullable=False)
    # The customer (cluster root) when it was computed; kept current by refreshes on merges.
    customer_id: Mapped[str | None] = mapped_column(String(32))
    store_id: Mapped[str | None] = mapped_column(ForeignKey("stores.id"))
    online_at: Mapped[datetime] = mapped_column(nullable=False)
    offline_at: Mapped[datetime] = mapped_column(nullable=False)
    # When the order was placed: periods (`from`, `to`) and revenue are counted by it.
    purchased_at: Mapped[datetime] = mapped_column(nullable=False)
    # The event that was the research (for ROPO and showrooming), for the seller's line.
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    revenue: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
