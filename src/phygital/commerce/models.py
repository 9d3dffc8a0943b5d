"""Commerce tables: stores, products, stock, orders from every channel, promises, pickup
notifications and the web-shop webhook log."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from phygital.db import Base, IdMixin, JSONType, TimestampMixin

Money = Numeric(14, 2)


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
    # Minutes of opening time a pickup order needs before it can be ready.
    prep_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=60)
    # Days a ready pickup waits for its customer before it counts as overdue.
    hold_days: Mapped[int] = mapped_column(Integer, nullable=False, default=7)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))


class StoreException(IdMixin, TimestampMixin, Base):
    """A day whose hours differ from the week's: a holiday (no shifts: closed) or an
    extraordinary opening (its own shifts), e.g. Sunday openings before Christmas."""

    __tablename__ = "store_exceptions"
    __table_args__ = (UniqueConstraint("store_id", "day"),)

    store_id: Mapped[str] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), nullable=False
    )
    day: Mapped[date] = mapped_column(Date, nullable=False)
    # [["09:00", "13:00"], …] local to the store; empty = closed all day.
    shifts: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    note: Mapped[str] = mapped_column(String(200), nullable=False, default="")


class Product(IdMixin, TimestampMixin, Base):
    """An item of the catalogue, known by its sku everywhere (events, orders, stock)."""

    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="EUR")
    category: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class Stock(TimestampMixin, Base):
    """How many of a product a store holds (`on_hand`) and how many of those are promised to
    pickup orders not yet collected (`reserved`). On hand may go below zero: a till sells what
    the books did not know about, and the count is corrected by the next stock import."""

    __tablename__ = "stock"

    store_id: Mapped[str] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    reserved: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class OrderStatus(StrEnum):
    """Where an order is. Pickups go awaiting → ready → collected; `overdue` is not stored but
    derived from the time (see `commerce.pickups`)."""

    PLACED = "placed"  # a delivery order, not yet fulfilled
    FULFILLED = "fulfilled"  # shipped (delivery) or sold at the till (in-store)
    AWAITING = "awaiting"  # a pickup being prepared
    READY = "ready"  # a pickup waiting at the store
    COLLECTED = "collected"
    CANCELLED = "cancelled"


class Fulfilment(StrEnum):
    DELIVERY = "delivery"
    PICKUP = "pickup"
    IN_STORE = "in_store"  # sold and taken at the till


class OrderOrigin(StrEnum):
    """Which entry point brought the order in."""

    API = "api"
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    POS = "pos"


# The condition of the pickup-only indexes; a query reaches them only by stating it word for
# word (`commerce.pickups.IS_PICKUP`), a constant in the SQL, not a parameter.
PICKUPS_ONLY = "fulfilment = 'pickup'"


class Order(IdMixin, TimestampMixin, Base):
    """A purchase from any channel: the web shop (delivery or click & collect), the till, an
    agent. One per `(channel, external_id)`. After an erasure `profile_id` is empty and the
    order keeps only its numbers, for the books."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_orders_profile_id_placed_at", "profile_id", "placed_at"),
        Index("ix_orders_store_id_placed_at", "store_id", "placed_at"),
        # Pickups only (the pickup desk's ranges, see `commerce.pickups`): till receipts and
        # deliveries, most of the table, are never read by these and cost nothing to write.
        Index(
            "ix_orders_store_id_status_promised",
            "store_id",
            "status",
            "promised_ready_at",
            sqlite_where=text(PICKUPS_ONLY),
            postgresql_where=text(PICKUPS_ONLY),
        ),
        Index(
            "ix_orders_store_id_status_collect_by",
            "store_id",
            "status",
            "collect_by",
            sqlite_where=text(PICKUPS_ONLY),
            postgresql_where=text(PICKUPS_ONLY),
        ),
        Index("ix_orders_placed_at", "placed_at"),  # journeys rebuild by period
    )

    external_id: Mapped[str] = mapped_column(String(100), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    origin: Mapped[OrderOrigin] = mapped_column(String(16), nullable=False)
    status: Mapped[OrderStatus] = mapped_column(String(16), nullable=False)
    fulfilment: Mapped[Fulfilment] = mapped_column(String(16), nullable=False)
    store_id: Mapped[str | None] = mapped_column(ForeignKey("stores.id"))
    profile_id: Mapped[str | None] = mapped_column(ForeignKey("profiles.id", ondelete="SET NULL"))
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    total: Mapped[Decimal] = mapped_column(Money, nullable=False)
    placed_at: Mapped[datetime] = mapped_column(nullable=False)
    promised_ready_at: Mapped[datetime | None] = mapped_column()
    ready_at: Mapped[datetime | None] = mapped_column()
    # A ready pickup not collected by then is overdue (ready_at + the store's hold days).
    collect_by: Mapped[datetime | None] = mapped_column()
    collected_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()
    # The shop's own last-modified time: an update older than the one applied is ignored.
    source_updated_at: Mapped[datetime | None] = mapped_column()
    # Set when the customer was erased: the order stays, never tied to a person again.
    customer_erased_at: Mapped[datetime | None] = mapped_column()
    # What the shop calls it (Shopify "#1043"), for people; the customer's note, if any.
    label: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    lines_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    unknown_skus: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class OrderLine(Base):
    """One product of an order. `known` is false for an sku the catalogue did not have when the
    order arrived: the line is kept (the order is history) and flagged for the catalogue."""

    __tablename__ = "order_lines"
    __table_args__ = (
        Index("ix_order_lines_order_id", "order_id"),
        Index("ix_order_lines_sku", "sku"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    order_id: Mapped[str] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), nullable=False
    )
    sku: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str | None] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    known: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class PromiseKind(StrEnum):
    PICKUP_READY = "pickup_ready"
    DELIVERY = "delivery"
    CALL_BACK = "call_back"


class PromiseStatus(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"  # the thing promised was called off (an order cancelled)


class Promise(IdMixin, TimestampMixin, Base):
    """Something the company told a customer it would do by a time: a pickup ready, a delivery,
    a call back. Kept or broken, and when; an open promise past its due time is broken."""

    __tablename__ = "promises"
    __table_args__ = (
        Index("ix_promises_due_at", "due_at"),
        Index("ix_promises_subject", "subject"),
        Index("ix_promises_profile_id", "profile_id"),
    )

    kind: Mapped[PromiseKind] = mapped_column(String(20), nullable=False)
    # What it is about, e.g. "order:<id>", "task:<id>".
    subject: Mapped[str] = mapped_column(String(100), nullable=False)
    store_id: Mapped[str | None] = mapped_column(ForeignKey("stores.id"))
    channel: Mapped[str | None] = mapped_column(String(16))
    profile_id: Mapped[str | None] = mapped_column(ForeignKey("profiles.id", ondelete="SET NULL"))
    made_at: Mapped[datetime] = mapped_column(nullable=False)
    due_at: Mapped[datetime] = mapped_column(nullable=False)
    status: Mapped[PromiseStatus] = mapped_column(String(16), nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column()


class NotificationStatus(StrEnum):
    QUEUED = "queued"  # a job will send it
    SENT = "sent"  # handed to the SMTP server (or the channel's API)
    OUTBOX = "outbox"  # no transport configured: kept for a person to forward
    SKIPPED = "skipped"  # no consented channel with an address
    FAILED = "failed"  # the transport refused it for good


class Notification(IdMixin, TimestampMixin, Base):
    """A message to a customer about their order (e.g. "your order is ready"), with where it
    went. Without a configured transport it stays in the outbox the web app shows."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_order_id", "order_id"),
        Index("ix_notifications_status_created_at", "status", "created_at"),
    )

    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    store_id: Mapped[str | None] = mapped_column(ForeignKey("stores.id"))
    profile_id: Mapped[str | None] = mapped_column(ForeignKey("profiles.id", ondelete="SET NULL"))
    channel: Mapped[str | None] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    locale: Mapped[str] = mapped_column(String(8), nullable=False, default="it")
    status: Mapped[NotificationStatus] = mapped_column(String(16), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column()


class DeliveryStatus(StrEnum):
    PROCESSED = "processed"
    IGNORED = "ignored"  # a topic we do not act on, or an update older than the one applied
    REJECTED = "rejected"  # signed but malformed: kept with its body for inspection


class WebhookDelivery(IdMixin, TimestampMixin, Base):
    """One signed delivery from a web shop, stored once per delivery id. Accepted deliveries
    keep no body (the order holds what matters); rejected ones keep it so a person can see why."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("provider", "delivery_id"),
        Index("ix_webhook_deliveries_status_received_at", "status", "received_at"),
    )

    provider: Mapped[str] = mapped_column(String(20), nullable=False)
    delivery_id: Mapped[str] = mapped_column(String(200), nullable=False)
    topic: Mapped[str] = mapped_column(String(100), nullable=False)
    received_at: Mapped[datetime] = mapped_column(nullable=False)
    status: Mapped[DeliveryStatus] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))


class ProductPair(Base):
    """How many orders held both products: the basis of "often bought together" suggestions,
    kept current as orders arrive (both directions are stored, so a lookup is by `sku`)."""

    __tablename__ = "product_pairs"

    sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    other_sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
