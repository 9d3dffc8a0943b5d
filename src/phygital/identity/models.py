"""Profiles and identifiers.

Merges move no rows: a merged profile keeps its own identifiers, traits, stats and events and
points at its survivor (`merged_into_id`, the direct parent, and `canonical_id`, the root of its
cluster, kept compressed). A customer is a cluster: the root and every profile whose
`canonical_id` is the root. Unmerge therefore gives back exactly what the other profile brought.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from phygital.db import Base, IdMixin, JSONType, TimestampMixin


class Profile(IdMixin, TimestampMixin, Base):
    """A person as seen by one or more touchpoints. The customer is the cluster rooted at
    `canonical_id`; each member keeps the traits and counters of what was attached to it."""

    __tablename__ = "profiles"
    __table_args__ = (Index("ix_profiles_canonical_id", "canonical_id"),)

    canonical_id: Mapped[str] = mapped_column(String(32), nullable=False)
    merged_into_id: Mapped[str | None] = mapped_column(String(32))
    merged_at: Mapped[datetime | None] = mapped_column()
    traits: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    # For each trait, the event time of the value kept: older events never overwrite newer ones.
    trait_times: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    # Lower-cased names, e-mails and phones of this member, for `q` searches.
    search_text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    first_seen_at: Mapped[datetime | None] = mapped_column()
    last_seen_at: Mapped[datetime | None] = mapped_column()
    channels: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    events_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    orders_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    revenue: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, default=Decimal(0))


class Identifier(IdMixin, Base):
    """A value that points at one person (user id, device, e-mail, phone, loyalty card,
    external id). Each value belongs to exactly one profile: `key` is unique."""

    __tablename__ = "identifiers"
    __table_args__ = (Index("ix_identifiers_profile_id", "profile_id"),)

    profile_id: Mapped[str] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    value: Mapped[str] = mapped_column(String(255), nullable=False)
    key: Mapped[str] = mapped_column(String(300), nullable=False, unique=True)
    first_seen_at: Mapped[datetime] = mapped_column(nullable=False)
    origin: Mapped[str] = mapped_column(String(100), nullable=False, default="")


class MergeRecord(IdMixin, Base):
    """Why two profiles became one customer, and whether a person undid it."""

    __tablename__ = "identity_merges"
    __table_args__ = (
        Index("ix_identity_merges_survivor_id", "survivor_id"),
        Index("ix_identity_merges_merged_id", "merged_id"),
    )

    survivor_id: Mapped[str] = mapped_column(String(32), nullable=False)
    merged_id: Mapped[str] = mapped_column(String(32), nullable=False)
    cause: Mapped[str] = mapped_column(String(20), nullable=False)  # event, alias, manual, import
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    at: Mapped[datetime] = mapped_column(nullable=False)
    undone_at: Mapped[datetime | None] = mapped_column()
    undone_by: Mapped[str | None] = mapped_column(String(200))


class IdentityConflict(IdMixin, Base):
    """Evidence that would have joined two people with different user ids: kept apart, recorded
    for a person to review."""

    __tablename__ = "identity_conflicts"
    __table_args__ = (Index("ix_identity_conflicts_profile_id", "profile_id"),)

    profile_id: Mapped[str] = mapped_column(String(32), nullable=False)
    other_profile_ids: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    identifiers: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    at: Mapped[datetime] = mapped_column(nullable=False)
