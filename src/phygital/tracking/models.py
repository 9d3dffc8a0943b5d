"""Sources of tracking events and the event store."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from phygital.db import Base, IdMixin, JSONType, TimestampMixin


class Channel(StrEnum):
    """The kind of touchpoint (glossary)."""

    WEB = "web"
    APP = "app"
    STORE = "store"
    AGENT = "agent"
    WHATSAPP = "whatsapp"
    EMAIL = "email"
    WEBCHAT = "webchat"
    SMS = "sms"
    PHONE = "phone"

    @property
    def online(self) -> bool:
        return self not in (Channel.STORE, Channel.AGENT, Channel.PHONE)


SOURCE_CHANNELS = (Channel.WEB, Channel.APP, Channel.STORE, Channel.AGENT)


class Source(IdMixin, TimestampMixin, Base):
    """A configured origin of tracking events (a web site, an app, a till) with its write key.
    Write keys are public by design (they sit in web pages), so they are stored as they are."""

    __tablename__ = "sources"

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    channel: Mapped[Channel] = mapped_column(String(16), nullable=False)
    write_key: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    events_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_event_at: Mapped[datetime | None] = mapped_column()
    disabled_at: Mapped[datetime | None] = mapped_column()


class Event(Base):
    """Something a person did at a touchpoint: a page view, a product tried, an identify.
    Attached to the profile that resolution chose when it arrived; never moved by merges."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("source_id", "message_id"),
        Index("ix_events_profile_id_event_at", "profile_id", "event_at"),
        Index("ix_events_sku_event_at", "sku", "event_at"),
        # A purchase's research (journeys): one range per member profile and sku.
        Index(
            "ix_events_profile_id_sku_event_at",
            "profile_id",
            "sku",
            "event_at",
            sqlite_where=text("sku IS NOT NULL"),
            postgresql_where=text("sku IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), nullable=False)
    message_id: Mapped[str] = mapped_column(String(100), nullable=False)
    profile_id: Mapped[str] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False
    )
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[Channel] = mapped_column(String(16), nullable=False)
    sku: Mapped[str | None] = mapped_column(String(100))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    traits: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    event_at: Mapped[datetime] = mapped_column(nullable=False)
    received_at: Mapped[datetime] = mapped_column(nullable=False)
