"""Consent API shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from phygital.privacy.consent import ConsentStatement
from phygital.privacy.models import ContactChannel, Purpose


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Purpose
    channel: ContactChannel
    granted: bool
    at: datetime | None = Field(default=None, description="when it was given; default now")
    wording: str | None = Field(
        default=None, max_length=5000, description="the text the person agreed to"
    )
    source: str | None = Field(
        default=None, max_length=200, description="where it was collected, e.g. 'store MI form'"
    )


class ConsentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consents: list[ConsentIn] = Field(min_length=1, max_length=50)

    def statements(self, *, now: datetime, actor: str) -> list[ConsentStatement]:
        return [
            ConsentStatement(
                purpose=c.purpose.value,
                channel=c.channel.value,
                granted=c.granted,
                at=c.at or now,
                source=c.source or f"api:{actor}",
                wording=c.wording,
            )
            for c in self.consents
        ]
