"""Commerce tables. The foundation needs stores (users and tokens are scoped to one);
products, stock and orders arrive with the commerce capability."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from phygital.db import Base, IdMixin, TimestampMixin


class Store(IdMixin, TimestampMixin, Base):
    """A physical point of sale. Sellers and store managers work inside one store; orders,
    pickups and appointments belong to one."""

    __tablename__ = "stores"

    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    address: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    opening_hours: Mapped[dict[str, Any]] = mapped_column(nullable=False, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
