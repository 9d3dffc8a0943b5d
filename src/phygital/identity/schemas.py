"""Customer API shapes (contract, section 4 — Customers)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class IdentifierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=40, examples=["email"])
    value: str = Field(min_length=1, max_length=255, examples=["giulia@example.com"])


class IdentifierOut(BaseModel):
    kind: str
    value: str


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    traits: dict[str, Any] = Field(default_factory=dict)
    identifiers: list[IdentifierIn] = Field(min_length=1, max_length=50)


class CustomerStats(BaseModel):
    orders: int
    revenue: Decimal
    events: int
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    channels: list[str]


class CustomerRead(BaseModel):
    id: str
    created_at: datetime
    traits: dict[str, Any]
    identifiers: list[IdentifierOut]
    consents: dict[str, Any]
    stats: CustomerStats


class CustomerSummary(BaseModel):
    id: str
    name: str | None
    email: str | None
    phone: str | None
    last_seen_at: datetime | None


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_id: str = Field(min_length=1, max_length=32)


class TimelineItemOut(BaseModel):
    at: datetime
    channel: str | None
    kind: str
    summary: str
    ref: str


class MergeOut(BaseModel):
    id: str
    survivor_id: str
    merged_id: str
    cause: str
    detail: dict[str, Any]
    at: datetime
    undone_at: datetime | None
