"""Tracking API shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from phygital.tracking.models import Channel


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    channel: Channel = Channel.WEB


class SourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    channel: Channel
    write_key: str
    events_count: int
    last_event_at: datetime | None
    disabled_at: datetime | None
    created_at: datetime
