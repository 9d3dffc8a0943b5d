"""What any web shop's webhook turns into, and how it is applied.

A provider module (`shopify`, `woocommerce`) reads its body into one `Action`:

- `ShopOrder`: the shop's current view of an order. Not seen before, it is created through
  `commerce.orders.save_orders` (identity, stock reservation, promise, stats: the one way in),
  already cancelled or fulfilled if the shop says so. Seen before, it follows the shop:
  cancelled (reservation released, promise called off), fulfilled (a delivery shipped; a pickup
  handed over, as the shop's staff mark it in the shop's admin: collected here), edited (lines,
  with everything they moved, and a guest order's customer: `commerce.orders.revise`), and the
  customer's consent as the shop now records it. An update older than the one applied (the
  shop's own modification time) is ignored. A shop's orders are found by its origin and id in
  any of its channels (a Shopify POS sale is of channel `store`).
- `OrderGone`: the shop deleted the order; a known open order is cancelled.
- `ShopCustomer`: a customer created or changed in the shop, resolved through identity.
- `Ignore`: a topic Phygital does not act on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import phonenumbers
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from phygital.commerce import orders
from phygital.commerce.models import (
    DeliveryStatus,
    Fulfilment,
    Order,
    OrderOrigin,
    OrderStatus,
    Store,
)
from phygital.commerce.schemas import OrderCreate
from phygital.commerce.webhooks.payload import Rejected
from phygital.core.clock import Clock
from phygital.core.errors import Conflict
from phygital.identity import identifiers as ids
from phygital.identity import service as identity
from phygital.privacy import consent
from phygital.privacy.consent import ConsentStatement

CHANNEL = "web"
# The channels a shop's orders may be stored under: a sale on Shopify POS at a mapped location
# is an in-store sale.
SHOP_CHANNELS = (CHANNEL, "store")
MAX_ORDER_TOTAL = Decimal("1e10")


@dataclass(frozen=True)
class ShopOrder:
    order: OrderCreate
    updated_at: datetime | None
    cancelled: bool = False
    fulfilled: bool = False
    consents: Sequence[ConsentStatement] = ()
    notes: Sequence[str] = ()
    # False when the body's lines are not the order's (every line removed without a
    # cancellation: the lines kept are the ones first ordered, good for a first sight only).
    lines_current: bool = True


@dataclass(frozen=True)
class OrderGone:
    external_id: str


@dataclass(frozen=True)
class ShopCustomer:
    traits: dict[str, Any]
    identifiers: Sequence[tuple[str, str]]
    consents: Sequence[ConsentStatement] = ()
    notes: Sequence[str] = ()


@dataclass(frozen=True)
class Ignore:
    reason: str


Action = ShopOrder | OrderGone | ShopCustomer | Ignore


@dataclass(frozen=True)
class Outcome:
    status: DeliveryStatus
    order_id: str | None = None
    customer_id: str | None = None
    notes: Sequence[str] = field(default_factory=tuple)


# -- building actions ---------------------------------------------------------------------------


def _fold(value: str) -> str:
    return " ".join(value.casefold().split())


@dataclass(frozen=True)
class StoreDirectory:
    """The stores a shop's shipping line may name, by code, name or address (any case)."""

    stores: Sequence[tuple[str, str, str]]  # (code, name, address)

    @classmethod
    def of(cls, stores: Iterable[Store]) -> StoreDirectory:
        return cls([(s.code, s.name, s.address or "") for s in stores])

    def has(self, code: str) -> bool:
        return any(c == code for c, _, _ in self.stores)

    def find(self, texts: Iterable[str | None]) -> str | None:
        """The code of the store the texts name: an exact code, name or address first; else
        the longest store name (or code of four characters or more) found as whole words."""
        wanted = [_fold(t) for t in texts if t and _fold(t)]
        for value in wanted:
            for code, name, address in self.stores:
                if value in (_fold(code), _fold(name), _fold(address)):
                    return code
        best: tuple[int, str] | None = None
        for value in wanted:
            for code, name, _ in self.stores:
                keys = [_fold(name)] + ([_fold(code)] if len(code) >= 4 else [])
                for key in keys:
                    longer = best is None or len(key) > best[0]
                    if key and longer and re.search(rf"(?<!\w){re.escape(key)}(?!\w)", value):
                        best = (len(key), code)
        return best[1] if best else None


def identifiers(
    pairs: Iterable[tuple[str, str, object]], *, region: str, country: str | None = None
) -> tuple[list[tuple[str, str]], list[str]]:
    """Normalise `(field, kind, value)` as identity does, setting aside values that are not
    identifiers (a mistyped e-mail must not cost the order). Phones are read in the customer's
    country when the shop gives one. Notes name the field, never the value (they are kept)."""
    phone_region = region
    if country and country.upper() in phonenumbers.SUPPORTED_REGIONS:
        phone_region = country.upper()
    found: dict[str, tuple[str, str]] = {}
    notes: list[str] = []
    for where, kind, value in pairs:
        if value is None or value == "":
            continue
        try:
            ident = ids.normalise(kind, value, region=phone_region if kind == ids.PHONE else region)
        except ids.IdentifierError:
            notes.append(f"{where}: not usable as {kind}, set aside")
            continue
        found.setdefault(ident.key, (ident.kind, ident.value))
    return list(found.values()), notes


def build_order(data: dict[str, Any]) -> OrderCreate:
    """An `OrderCreate` from what a provider read, a validation error becoming `Rejected`."""
    try:
        order = OrderCreate.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "order"
        raise Rejected(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None
    if order.total >= MAX_ORDER_TOTAL:
        # Money columns hold twelve digits before the point, customers' revenue included.
        raise Rejected(f"line_items: a total of {order.total} is not a plausible order")
    return order


# -- applying them ------------------------------------------------------------------------------


def apply(
    session: Session, *, clock: Clock, region: str, origin: OrderOrigin, action: Action
) -> Outcome:
    """Bring Phygital in line with what the shop said. Raises `Rejected` or a `DomainError`
    (e.g. `Invalid` from identity) before writing anything that would stay half-done: the
    caller runs this in a savepoint."""
    if isinstance(action, Ignore):
        return Outcome(DeliveryStatus.IGNORED, notes=(action.reason,))
    if isinstance(action, ShopCustomer):
        return _apply_customer(session, clock=clock, region=region, customer=action)
    if isinstance(action, OrderGone):
        return _apply_gone(session, clock=clock, origin=origin, gone=action)
    return _apply_order(session, clock=clock, region=region, origin=origin, item=action)


def _find(session: Session, origin: OrderOrigin, external_id: str) -> Order | None:
    # FOR UPDATE (PostgreSQL): two updates of one order are applied one after the other.
    return session.scalar(
        select(Order)
        .where(
            Order.channel.in_(SHOP_CHANNELS),
            Order.external_id == external_id,
            Order.origin == origin,
        )
        .order_by(Order.created_at)
        .limit(1)
        .with_for_update()
    )


def _apply_order(
    session: Session, *, clock: Clock, region: str, origin: OrderOrigin, item: ShopOrder
) -> Outcome:
    data = item.order
    notes = list(item.notes)
    # Whatever channel the order arrives as now (a POS location mapped or unmapped since), it is
    # the order first stored.
    order = _find(session, origin, data.external_id)
    if order is None:
        saved = orders.save_orders(
            session,
            clock=clock,
            region=region,
            origin=origin,
            items=[data],
            cancelled=[0] if item.cancelled else [],
            source_updated_at=[item.updated_at],
        )[0]
        order = orders.get_order(session, saved.order_id)
        if saved.created:
            if item.fulfilled and not item.cancelled:
                _fulfilled(session, clock=clock, order=order, notes=notes)
            _record_consents(session, clock=clock, profile_id=order.profile_id, item=item.consents)
            return Outcome(DeliveryStatus.PROCESSED, order_id=order.id, notes=notes)

    applied = order.source_updated_at
    if item.updated_at is not None and applied is not None and item.updated_at < applied:
        notes.append(
            f"older than the update already applied ({item.updated_at.isoformat()} < "
            f"{applied.isoformat()})"
        )
        return Outcome(DeliveryStatus.IGNORED, order_id=order.id, notes=notes)
    if item.cancelled:
        if order.status != OrderStatus.CANCELLED:
            try:
                orders.cancel(session, clock=clock, order=order)
            except Conflict as exc:
                notes.append(f"not cancelled: {exc.message}")
    elif order.status == OrderStatus.CANCELLED:
        notes.append("the shop reopened a cancelled order: it stays cancelled here")
    else:
        # An edit in the shop: lines added, removed or changed; a guest order's customer.
        revised = orders.prepare(data, region=region)
        notes.extend(
            orders.revise(session, clock=clock, order=order, data=revised, lines=item.lines_current)
        )
        if item.fulfilled:
            _fulfilled(session, clock=clock, order=order, notes=notes)
        _record_consents(session, clock=clock, profile_id=order.profile_id, item=item.consents)
    if item.updated_at is not None and (applied is None or item.updated_at > applied):
        order.source_updated_at = item.updated_at
    session.flush()
    return Outcome(DeliveryStatus.PROCESSED, order_id=order.id, notes=notes)


def _fulfilled(session: Session, *, clock: Clock, order: Order, notes: list[str]) -> None:
    """The shop fulfilled the order: a delivery left; a pickup was handed over (Shopify's "mark
    as picked up", WooCommerce's "completed"), so it is collected, as if at the desk."""
    if order.fulfilment == Fulfilment.DELIVERY:
        orders.mark_fulfilled(session, clock=clock, order=order)
    elif order.fulfilment == Fulfilment.PICKUP:
        try:
            orders.mark_collected(session, clock=clock, order=order)
        except Conflict as exc:
            notes.append(f"not collected: {exc.message}")


def _apply_gone(session: Session, *, clock: Clock, origin: OrderOrigin, gone: OrderGone) -> Outcome:
    order = _find(session, origin, gone.external_id)
    if order is None:
        return Outcome(DeliveryStatus.IGNORED, notes=("deleted order never seen",))
    notes: list[str] = []
    try:
        orders.cancel(session, clock=clock, order=order)
    except Conflict as exc:
        notes.append(f"not cancelled: {exc.message}")
    return Outcome(DeliveryStatus.PROCESSED, order_id=order.id, notes=notes)


def _apply_customer(
    session: Session, *, clock: Clock, region: str, customer: ShopCustomer
) -> Outcome:
    if not customer.identifiers:
        raise Rejected("customer: no id, e-mail or phone to recognise the person by")
    resolution = identity.create_customer(
        session,
        clock=clock,
        region=region,
        traits=customer.traits,
        identifiers=list(customer.identifiers),
    )
    _record_consents(session, clock=clock, profile_id=resolution.profile_id, item=customer.consents)
    return Outcome(
        DeliveryStatus.PROCESSED, customer_id=resolution.customer_id, notes=customer.notes
    )


def _record_consents(
    session: Session, *, clock: Clock, profile_id: str | None, item: Sequence[ConsentStatement]
) -> None:
    """Append the shop's consent statements the ledger does not already reflect: a webhook
    repeats the customer's consent in every order and update."""
    if profile_id is None or not item:
        return
    state = consent.current(session, member_ids=[profile_id])
    fresh = []
    for statement in item:
        newest = state.get(statement.purpose, {}).get(statement.channel)
        if newest is not None and newest["granted"] == statement.granted:
            continue
        if newest is not None and datetime.fromisoformat(newest["at"]) > statement.at:
            continue  # the person said otherwise since
        fresh.append(statement)
    if fresh:
        consent.record(session, clock=clock, profile_id=profile_id, statements=fresh)
