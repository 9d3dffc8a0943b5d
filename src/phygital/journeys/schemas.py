"""Journeys API shapes (contract, section 4 — Journeys)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, StrictInt


class JourneyOut(BaseModel):
    kind: str
    customer_id: str | None
    sku: str
    online_at: datetime
    offline_at: datetime
    store: str | None = Field(description="code of the store of the offline side")
    order_id: str
    revenue: Decimal
    currency: str


class KindSummaryOut(BaseModel):
    count: int = Field(description="journeys (one per product of an order)")
    orders: int
    revenue: Decimal


class SummaryOut(BaseModel):
    by_kind: dict[str, KindSummaryOut]
    store_revenue: Decimal = Field(description="in-store sales in the period (and store)")
    ropo_share: float | None = Field(description="ROPO revenue / in-store sales")
    median_days: dict[str, float | None] = Field(
        description="median days from research to purchase, for ropo and showrooming"
    )


class JourneyPage(BaseModel):
    items: list[JourneyOut]
    next: str | None = None
    summary: SummaryOut


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_days: StrictInt = Field(default=30, ge=1, le=365)
    online_events: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="track events that count as online research (empty: any with an sku)",
    )
    offline_events: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="track events that count as meeting the product in a store (empty: any)",
    )


class RulesOut(RulesIn):
    pass


class AttributionOut(BaseModel):
    week: date | None
    store: str | None
    category: str | None
    ropo_revenue: Decimal
    store_revenue: Decimal | None
    share: float | None


class MixOut(BaseModel):
    week: date
    online: int
    offline: int
    online_share: float | None


class TopProductOut(BaseModel):
    sku: str
    name: str | None
    journeys: int
    revenue: Decimal
