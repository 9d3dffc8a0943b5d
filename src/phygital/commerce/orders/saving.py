"""Saving orders: one way in for every channel, written in bulk (see the package's docstring)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import combinations
from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from phygital.commerce import promises
from phygital.commerce import service as store_service
from phygital.commerce.hours import ready_by
from phygital.commerce.models import (
    Fulfilment,
    Order,
    OrderLine,
    OrderOrigin,
    OrderStatus,
    Product,
    ProductPair,
    PromiseKind,
    Store,
)
from phygital.commerce.schemas import OrderCreate
from phygital.core.clock import Clock
from phygital.core.errors import Invalid
from phygital.core.events import publish
from phygital.db import execute_many, new_id
from phygital.identity import service as identity
from phygital.identity.identifiers import Ident
from phygital.identity.resolution import IdentityCarry, Observation, resolve_many

# An order with more distinct products than this says little about what goes together.
MAX_PAIR_LINES = 20
OPEN_PICKUP = (OrderStatus.AWAITING, OrderStatus.READY)


@dataclass(frozen=True)
class Saved:
    order_id: str
    created: bool


def subject(order_id: str) -> str:
    return f"order:{order_id}"


def _initial_status(fulfilment: str) -> OrderStatus:
    if fulfilment == Fulfilment.PICKUP:
        return OrderStatus.AWAITING
    if fulfilment == Fulfilment.IN_STORE:
        return OrderStatus.FULFILLED
    return OrderStatus.PLACED


Line = tuple[str, int, Decimal, str | None]  # sku, quantity, unit price, name


class OrderToSave(Protocol):
    """What `save_prepared` reads of an order: a `PreparedOrder`, or a bulk import's own record
    of the same (the till import's receipts, whose total and pairs the reading process computed
    with `order_total` and `pairs_of`)."""

    @property
    def external_id(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def placed_at(self) -> datetime: ...
    @property
    def fulfilment(self) -> str: ...
    @property
    def store(self) -> str | None: ...
    @property
    def lines(self) -> Sequence[Line]: ...
    @property
    def identifiers(self) -> Sequence[Ident]: ...
    @property
    def traits(self) -> dict[str, Any]: ...
    @property
    def currency(self) -> str: ...
    @property
    def label(self) -> str | None: ...
    @property
    def note(self) -> str | None: ...
    @property
    def total(self) -> Decimal: ...
    @property
    def pairs(self) -> Sequence[tuple[str, str]]: ...


@dataclass(slots=True)
class PreparedOrder:
    """An order whose values are checked and whose customer identifiers are normalised: what
    `save_prepared` writes. `save_orders` makes these from the API's `OrderCreate`; bulk
    imports that checked their rows already make them directly (far cheaper than a validated
    model per receipt)."""

    external_id: str
    channel: str
    placed_at: datetime
    fulfilment: str
    store: str | None
    lines: list[Line]
    identifiers: list[Ident]
    traits: dict[str, Any] = field(default_factory=dict)
    currency: str = "EUR"
    label: str | None = None
    note: str | None = None

    @property
    def total(self) -> Decimal:
        return order_total(self.lines)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return pairs_of(ln[0] for ln in self.lines)


def order_total(lines: Iterable[Line]) -> Decimal:
    return sum((price * quantity for _, quantity, price, _ in lines), Decimal("0.00"))


def observation_of(order: OrderToSave, *, amount: Decimal | None) -> Observation:
    """What the order says about its customer, for identity resolution; `amount` moves their
    order counters with the same write (None: the order does not count)."""
    return Observation(
        identifiers=list(order.identifiers),
        at=order.placed_at,
        traits=dict(order.traits),
        channel=order.channel,
        cause="order",
        ref=f"order {order.channel}:{order.external_id}",
        counts_as_event=False,
        order_amount=amount,
    )


def line_rows_of(
    order: OrderToSave, order_id: str, known: dict[str, str]
) -> list[dict[str, object]]:
    """The order's lines as `order_lines` rows; `known`: the catalogue's names by sku."""
    return [
        {
            "order_id": order_id,
            "sku": sku,
            "name": name or known.get(sku),
            "quantity": quantity,
            "unit_price": unit_price,
            "known": sku in known,
        }
        for sku, quantity, unit_price, name in order.lines
    ]


def prepare(data: OrderCreate, *, region: str) -> PreparedOrder:
    """An API order as a `PreparedOrder` (`Invalid` names a bad identifier)."""
    return PreparedOrder(
        external_id=data.external_id,
        channel=data.channel,
        placed_at=data.placed_at,
        fulfilment=data.fulfilment or "",
        store=data.store,
        lines=[(ln.sku, ln.quantity, ln.unit_price, ln.name) for ln in data.lines],
        identifiers=identity.parse_identifiers(
            [(i.kind, i.value) for i in data.customer.identifiers],
            region=region,
            field="customer.identifiers",
        ),
        traits=dict(data.customer.traits),
        currency=data.currency,
        label=data.label,
        note=data.note,
    )


def save_orders(
    session: Session,
    *,
    clock: Clock,
    region: str,
    origin: OrderOrigin,
    items: Sequence[OrderCreate],
    cancelled: Iterable[int] = (),
    source_updated_at: Sequence[datetime | None] | None = None,
) -> list[Saved]:
    """Store the orders not seen before; return each item's order id and whether it is new.
    `cancelled` lists the indexes of items that arrive already cancelled (a web shop's
    cancelled order seen first). Raises `Invalid` naming the field for an unknown store or a bad
    identifier, before anything is written."""
    stores = store_service.stores_by_code(session, (i.store for i in items if i.store))
    _check_stores(items, stores)
    prepared = [prepare(item, region=region) for item in items]
    return save_prepared(
        session,
        clock=clock,
        origin=origin,
        orders=prepared,
        cancelled=cancelled,
        source_updated_at=source_updated_at,
        stores=stores,
    )


def _check_stores(items: Sequence[OrderCreate | OrderToSave], stores: dict[str, Store]) -> None:
    for index, item in enumerate(items):
        if item.store and item.store not in stores:
            prefix = f"[{index}]." if len(items) > 1 else ""
            raise Invalid(f"{prefix}store: no store with code {item.store!r}", field="store")


def save_prepared(
    session: Session,
    *,
    clock: Clock,
    origin: OrderOrigin,
    orders: Sequence[OrderToSave],
    cancelled: Iterable[int] = (),
    source_updated_at: Sequence[datetime | None] | None = None,
    stores: dict[str, Store] | None = None,
    carry: IdentityCarry | None = None,
) -> list[Saved]:
    """`save_orders` for orders already checked and normalised (see `PreparedOrder`): the one
    place orders are written. `stores` may pass the stores by code when the caller has them;
    a bulk import passes its `carry` (identity learned by its earlier batches)."""
    items = orders
    cancelled_at = set(cancelled)
    wanted = {i.store for i in items if i.store}
    if stores is None or not wanted <= stores.keys():
        stores = store_service.stores_by_code(session, wanted)
    _check_stores(items, stores)

    existing = _existing(session, [(i.channel, i.external_id) for i in items])
    results: list[Saved] = []
    new: list[int] = []
    seen: dict[tuple[str, str], str] = {}
    for index, item in enumerate(items):
        key = (item.channel, item.external_id)
        if key in existing:
            results.append(Saved(existing[key], False))
        elif key in seen:
            results.append(Saved(seen[key], False))
        else:
            seen[key] = new_id()
            results.append(Saved(seen[key], True))
            new.append(index)
    if not new:
        return results

    totals = {index: items[index].total for index in new}
    with_identity = [i for i in new if items[i].identifiers]
    # The customer's order counters move with the same write as their identity.
    observations = [
        observation_of(items[i], amount=None if i in cancelled_at else totals[i])
        for i in with_identity
    ]
    resolutions = resolve_many(session, clock=clock, observations=observations, carry=carry)
    profile_of = {
        i: r.profile_id for i, r in zip(with_identity, resolutions, strict=True) if r is not None
    }
    known = known_names(session, {ln[0] for i in new for ln in items[i].lines})
    pickup_stores = [stores[items[i].store] for i in new if items[i].fulfilment == "pickup"]  # type: ignore[index]
    schedule_of = store_service.schedules(session, {s.id: s for s in pickup_stores}.values())

    now = clock.now()
    order_rows: list[dict[str, object]] = []
    line_rows: list[dict[str, object]] = []
    stock: dict[tuple[str, str], tuple[int, int]] = {}
    pairs: Counter[tuple[str, str]] = Counter()
    pickups: list[tuple[str, Store, datetime, str | None, str]] = []
    for index in new:
        item = items[index]
        order_id = results[index].order_id
        store = stores[item.store] if item.store else None
        is_cancelled = index in cancelled_at
        status = OrderStatus.CANCELLED if is_cancelled else _initial_status(item.fulfilment)
        promised = None
        if item.fulfilment == "pickup" and store is not None:
            promised = ready_by(schedule_of[store.id], item.placed_at, store.prep_minutes)
        total = totals[index]
        unknown = sum(1 for ln in item.lines if ln[0] not in known)
        profile_id = profile_of.get(index)
        order_rows.append(
            {
                "id": order_id,
                "external_id": item.external_id,
                "channel": item.channel,
                "origin": origin,
                "status": status,
                "fulfilment": item.fulfilment,
                "store_id": store.id if store else None,
                "profile_id": profile_id,
                "currency": item.currency,
                "total": total,
                "placed_at": item.placed_at,
                "promised_ready_at": promised,
                "cancelled_at": now if is_cancelled else None,
                "source_updated_at": source_updated_at[index] if source_updated_at else None,
                "label": item.label,
                "note": item.note,
                "lines_count": len(item.lines),
                "unknown_skus": unknown,
                "created_at": now,
                "updated_at": now,
                "ready_at": None,
                "collect_by": None,
                "collected_at": None,
            }
        )
        line_rows += line_rows_of(item, order_id, known)
        if is_cancelled:
            continue
        if store is not None:
            for sku, quantity, _, _ in item.lines:
                place = (store.id, sku)
                on_hand, reserved = stock.get(place, (0, 0))
                if item.fulfilment == "pickup":
                    stock[place] = (on_hand, reserved + quantity)
                elif item.fulfilment == "in_store":
                    stock[place] = (on_hand - quantity, reserved)
        pairs.update(item.pairs)
        if promised is not None and store is not None:
            pickups.append((order_id, store, promised, profile_id, item.channel))

    # One driver executemany each (see execute_many): the hot path of bulk imports.
    execute_many(session, insert(Order.__table__), order_rows, cache_key="orders.insert")  # type: ignore[arg-type]
    execute_many(session, insert(OrderLine.__table__), line_rows, cache_key="order_lines.insert")  # type: ignore[arg-type]
    store_service.adjust_stock(session, stock)
    count_pairs(session, pairs)
    for order_id, store, promised, profile_id, channel in pickups:
        promises.make(
            session,
            clock=clock,
            kind=PromiseKind.PICKUP_READY,
            subject=subject(order_id),
            due_at=promised,
            store_id=store.id,
            channel=channel,
            profile_id=profile_id,
            made_at=now,
        )
    publish(session, "orders.saved", clock=clock, order_ids=[results[i].order_id for i in new])
    return results


def known_names(session: Session, skus: set[str]) -> dict[str, str]:
    """The catalogue's name of each of these skus it has."""
    wanted = sorted(skus)
    names: dict[str, str] = {}
    for start in range(0, len(wanted), 900):
        rows = session.execute(
            select(Product.sku, Product.name).where(Product.sku.in_(wanted[start : start + 900]))
        )
        names.update({sku: name for sku, name in rows})
    return names


def _existing(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Orders already stored for these `(channel, external_id)` keys: per channel, so the
    lookup uses the unique index (channel first) rather than scanning the table."""
    by_channel: dict[str, list[str]] = {}
    for channel, external in set(keys):
        by_channel.setdefault(channel, []).append(external)
    found: dict[tuple[str, str], str] = {}
    for channel, externals in sorted(by_channel.items()):
        externals.sort()
        for start in range(0, len(externals), 900):
            rows = session.execute(
                select(Order.external_id, Order.id).where(
                    Order.channel == channel,
                    Order.external_id.in_(externals[start : start + 900]),
                )
            )
            for external_id, order_id in rows:
                found[(channel, external_id)] = order_id
    return found


def pairs_of(skus: Iterable[str]) -> list[tuple[str, str]]:
    """The pairs of distinct products an order's lines hold (each pair once, in sku order):
    what the bought-together counts add up."""
    distinct = sorted(set(skus))
    if 1 < len(distinct) <= MAX_PAIR_LINES:
        return list(combinations(distinct, 2))
    return []


def count_pairs(session: Session, pairs: Counter[tuple[str, str]]) -> None:
    """Add to the bought-together counts (both directions) with the database's upsert; a
    negative number takes back what an edited order no longer holds."""
    if not pairs:
        return
    rows = [{"sku": a, "other_sku": b, "orders": n} for (a, b), n in pairs.items()]
    rows += [{"sku": b, "other_sku": a, "orders": n} for (a, b), n in pairs.items()]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
    stmt = upsert(ProductPair)
    stmt = stmt.on_conflict_do_update(
        index_elements=["sku", "other_sku"],
        set_={"orders": ProductPair.orders + stmt.excluded.orders},
    )
    rows.sort(key=lambda r: (str(r["sku"]), str(r["other_sku"])))  # a stable lock order
    execute_many(session, stmt, rows, cache_key="product_pairs.upsert")
