"""Consent ledger and audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from phygital.db import Base, IdMixin, JSONType


class Purpose(StrEnum):
    MARKETING = "marketing"
    PROFILING = "profiling"
    SERVICE = "service"


class ContactChannel(StrEnum):
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    SMS = "sms"
    PHONE = "phone"


class ConsentEntry(IdMixin, Base):
    """One statement of consent (or its withdrawal) for a purpose on a channel, with its proof:
    when, from where, and the wording the person saw. The current state is the newest entry."""

    __tablename__ = "consents"
    __table_args__ = (
        Index("ix_consents_profile_id_purpose_channel", "profile_id", "purpose", "channel"),
    )

    profile_id: Mapped[str] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False
    )
    purpose: Mapped[Purpose] = mapped_column(String(20), nullable=False)
    channel: Mapped[ContactChannel] = mapped_column(String(20), nullable=False)
    granted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    at: Mapped[datetime] = mapped_column(nullable=False)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    wording: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(nullable=False)


class AuditEntry(IdMixin, Base):
    """Who did what to personal data (merges, exports, erasures), without the data itself."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    at: Mapped[datetime] = mapped_column(nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    action: Mapped[str] = mapped_column(String(50), nullable=False)
    subject: Mapped[str] = mapped_column(String(100), nullable=False)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
