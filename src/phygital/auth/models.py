"""Logins for people (web users) and for programs (API tokens)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from phygital.commerce.models import Store
from phygital.db import Base, IdMixin, TimestampMixin


class Role(StrEnum):
    """What a principal may do. Each role includes the ones below it."""

    ADMIN = "admin"  # the owner: configuration, users, tokens, privacy requests
    MANAGER = "manager"  # dashboards, targets, merges, exports; of one store or of all
    SELLER = "seller"  # agenda, pickups, inbox and customers; usually of one store

    @property
    def rank(self) -> int:
        return {Role.SELLER: 1, Role.MANAGER: 2, Role.ADMIN: 3}[self]


class User(IdMixin, TimestampMixin, Base):
    """A person who logs into the web app: the owner, a manager, a seller or an agent."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    role: Mapped[Role] = mapped_column(String(16), nullable=False)
    store_id: Mapped[str | None] = mapped_column(
        ForeignKey("stores.id", ondelete="RESTRICT"), index=True
    )
    # argon2id; NULL means the user cannot log in with a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column()

    store: Mapped[Store | None] = relationship(lazy="joined")


class ApiToken(IdMixin, TimestampMixin, Base):
    """A bearer token for a program (an integration, a script). Only its SHA-256 is stored;
    the token itself is shown once, when it is created."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    role: Mapped[Role] = mapped_column(String(16), nullable=False)
    store_id: Mapped[str | None] = mapped_column(
        ForeignKey("stores.id", ondelete="RESTRICT"), index=True
    )
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    store: Mapped[Store | None] = relationship(lazy="joined")


class LoginAttempt(IdMixin, Base):
    """A failed password login, kept for the rate limit (per e-mail and per address)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    email: Mapped[str] = mapped_column(String(320), nullable=False)
    ip: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(nullable=False)
