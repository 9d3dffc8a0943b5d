"""Stores, products and stock. Services take a Session and never commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from phygital.auth.service import Principal
from phygital.commerce.hours import Schedule
from phygital.commerce.models import OrderLine, Product, Stock, Store, StoreException
from phygital.commerce.schemas import (
    ProductCreate,
    ProductUpdate,
    StockRead,
    StoreCreate,
    StoreExceptionIn,
    StoreUpdate,
    UnknownSku,
)
from phygital.core.errors import Conflict, Invalid, NotFound

# -- stores -------------------------------------------------------------------------------------


def _hours_json(hours: Any) -> dict[str, Any]:
    return {day: [list(s) for s in shifts] for day, shifts in hours.as_dict().items()}


def create_store(session: Session, *, data: StoreCreate) -> Store:
    """Add a store; its code is the stable name integrators and the CLI use."""
    if session.scalar(select(Store.id).where(Store.code == data.code)) is not None:
        raise Conflict(f"a store with code {data.code!r} already exists", field="code")
    store = Store(
        code=data.code,
        name=data.name,
        address=data.address,
        timezone=data.timezone,
        opening_hours=_hours_json(data.opening_hours),
        prep_minutes=data.prep_minutes,
        hold_days=data.hold_days,
        email=data.email,
        phone=data.phone,
        active=True,
    )
    session.add(store)
    session.flush()
    return store


def update_store(session: Session, *, code: str, data: StoreUpdate) -> Store:
    store = get_store(session, code=code)
    for name in data.model_fields_set:
        value = getattr(data, name)
        if name == "opening_hours":
            store.opening_hours = _hours_json(value) if value is not None else {}
        elif name in ("name", "timezone", "prep_minutes", "hold_days", "active") and value is None:
            raise Invalid(f"{name}: may not be null", field=name)
        else:
            setattr(store, name, value)
    session.flush()
    return store


def list_stores(session: Session, *, principal: Principal | None = None) -> list[Store]:
    """The stores the principal may see: all of them, or only its own."""
    stmt = select(Store).order_by(Store.code)
    if principal is not None and principal.visible_store_id is not None:
        stmt = stmt.where(Store.id == principal.visible_store_id)
    return list(session.scalars(stmt))


def get_store(session: Session, *, code: str, principal: Principal | None = None) -> Store:
    """A store by code; a store-scoped principal sees only its own (others are 404)."""
    store = session.scalar(select(Store).where(Store.code == code))
    if store is None or (
        principal is not None
        and principal.visible_store_id is not None
        and principal.visible_store_id != store.id
    ):
        raise NotFound(f"no store with code {code!r}")
    return store


def stores_by_code(session: Session, codes: Iterable[str]) -> dict[str, Store]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    return {s.code: s for s in session.scalars(select(Store).where(Store.code.in_(wanted)))}


def check_store_access_or_404(principal: Principal, store_id: str | None, message: str) -> None:
    """A store-scoped principal does not see another store's things: they do not exist for
    it (404, so ids of other stores' orders leak nothing)."""
    if principal.visible_store_id is not None and principal.visible_store_id != store_id:
        raise NotFound(message)


def set_exception(session: Session, *, code: str, day: date, data: StoreExceptionIn) -> None:
    store = get_store(session, code=code)
    row = session.scalar(
        select(StoreException).where(StoreException.store_id == store.id, StoreException.day == day)
    )
    if row is None:
        row = StoreException(store_id=store.id, day=day)
        session.add(row)
    row.shifts = [list(s) for s in data.shifts]
    row.note = data.note
    session.flush()


def delete_exception(session: Session, *, code: str, day: date) -> None:
    store = get_store(session, code=code)
    row = session.scalar(
        select(StoreException).where(StoreException.store_id == store.id, StoreException.day == day)
    )
    if row is None:
        raise NotFound(f"store {code} has no exception on {day.isoformat()}")
    session.delete(row)
    session.flush()


def list_exceptions(
    session: Session, *, store_id: str, since: date | None = None
) -> list[StoreException]:
    stmt = select(StoreException).where(StoreException.store_id == store_id)
    if since is not None:
        stmt = stmt.where(StoreException.day >= since)
    return list(session.scalars(stmt.order_by(StoreException.day)))


def schedules(session: Session, stores: Iterable[Store]) -> dict[str, Schedule]:
    """Each store's opening schedule (weekly hours and exceptions), keyed by store id; one
    query for all exceptions."""
    stores = list(stores)
    exceptions: dict[str, dict[date, list[Any]]] = {s.id: {} for s in stores}
    if stores:
        rows = session.scalars(
            select(StoreException).where(StoreException.store_id.in_([s.id for s in stores]))
        )
        for row in rows:
            exceptions[row.store_id][row.day] = row.shifts
    return {
        s.id: Schedule(
            timezone=s.timezone, weekly=s.opening_hours or {}, exceptions=exceptions[s.id]
        )
        for s in stores
    }


# -- products -----------------------------------------------------------------------------------


def create_product(session: Session, *, data: ProductCreate) -> Product:
    if session.scalar(select(Product.id).where(Product.sku == data.sku)) is not None:
        raise Conflict(f"a product with sku {data.sku!r} already exists", field="sku")
    product = Product(**data.model_dump())
    session.add(product)
    session.flush()
    mark_known(session, skus=[data.sku])
    return product


def update_product(session: Session, *, sku: str, data: ProductUpdate) -> Product:
    product = get_product(session, sku=sku)
    for name in data.model_fields_set:
        value = getattr(data, name)
        if value is None and name != "category":
            raise Invalid(f"{name}: may not be null", field=name)
        setattr(product, name, value)
    session.flush()
    return product


def get_product(session: Session, *, sku: str) -> Product:
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise NotFound(f"no product with sku {sku!r}")
    return product


def products_by_sku(session: Session, skus: Iterable[str]) -> dict[str, Product]:
    wanted = sorted(set(skus))
    result: dict[str, Product] = {}
    for start in range(0, len(wanted), 900):
        chunk = wanted[start : start + 900]
        result.update(
            {p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_(chunk)))}
        )
    return result


def list_products(
    session: Session,
    *,
    q: str | None = None,
    category: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[Product]:
    """Products by sku (a catalogue reads best in order), from `after` on."""
    stmt = select(Product).order_by(Product.sku).limit(limit)
    if q:
        pattern = f"%{q.lower()}%"
        stmt = stmt.where(
            func.lower(Product.name).like(pattern) | func.lower(Product.sku).like(pattern)
        )
    if category:
        stmt = stmt.where(Product.category == category)
    if after:
        stmt = stmt.where(Product.sku > after)
    return list(session.scalars(stmt))


def mark_known(session: Session, *, skus: list[str]) -> None:
    """Order lines that arrived before their product was in the catalogue are known now."""
    if skus:
        session.execute(
            update(OrderLine)
            .where(OrderLine.sku.in_(skus), OrderLine.known.is_(False))
            .values(known=True)
        )


def unknown_skus(session: Session, *, limit: int = 100) -> list[UnknownSku]:
    """Skus in orders that the catalogue lacks, most frequent first: what to add to it."""
    from phygital.commerce.models import Order

    rows = session.execute(
        select(
            OrderLine.sku,
            func.max(OrderLine.name),
            func.count(func.distinct(OrderLine.order_id)),
            func.max(Order.placed_at),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.known.is_(False))
        .group_by(OrderLine.sku)
        .order_by(func.count(func.distinct(OrderLine.order_id)).desc(), OrderLine.sku)
        .limit(limit)
    )
    return [
        UnknownSku(sku=sku, name=name, orders=orders, last_seen_at=last)
        for sku, name, orders, last in rows
    ]


# -- stock --------------------------------------------------------------------------------------


def set_stock(session: Session, *, store: Store, sku: str, quantity: int) -> Stock:
    """Set the units on hand (a count); reservations are kept."""
    get_product(session, sku=sku)
    row = session.get(Stock, (store.id, sku))
    if row is None:
        row = Stock(store_id=store.id, sku=sku, on_hand=quantity, reserved=0)
        session.add(row)
    else:
        row.on_hand = quantity
    session.flush()
    return row


def stock_read(store: Store, row: Stock) -> StockRead:
    return StockRead(
        store=store.code,
        sku=row.sku,
        on_hand=row.on_hand,
        reserved=row.reserved,
        available=row.on_hand - row.reserved,
    )


def get_stock(session: Session, *, store: Store, sku: str) -> Stock:
    row = session.get(Stock, (store.id, sku))
    if row is None:
        get_product(session, sku=sku)  # 404 for an unknown sku
        return Stock(store_id=store.id, sku=sku, on_hand=0, reserved=0)
    return row


def list_stock(
    session: Session, *, store: Store, after: str | None = None, limit: int = 100
) -> list[Stock]:
    stmt = select(Stock).where(Stock.store_id == store.id).order_by(Stock.sku).limit(limit)
    if after:
        stmt = stmt.where(Stock.sku > after)
    return list(session.scalars(stmt))


def adjust_stock(session: Session, changes: dict[tuple[str, str], tuple[int, int]]) -> None:
    """Apply `(store_id, sku) -> (on_hand delta, reserved delta)` in one read and bulk writes;
    rows that do not exist yet start at zero."""
    changes = {k: v for k, v in changes.items() if v != (0, 0)}
    if not changes:
        return
    keys = list(changes)
    existing: dict[tuple[str, str], Stock] = {}
    for start in range(0, len(keys), 400):
        chunk = keys[start : start + 400]
        stores = {k[0] for k in chunk}
        skus = {k[1] for k in chunk}
        for row in session.scalars(
            select(Stock).where(Stock.store_id.in_(stores), Stock.sku.in_(skus))
        ):
            existing[(row.store_id, row.sku)] = row
    for key, (on_hand, reserved) in changes.items():
        found = existing.get(key)
        if found is None:
            session.add(Stock(store_id=key[0], sku=key[1], on_hand=on_hand, reserved=reserved))
        else:
            found.on_hand += on_hand
            found.reserved += reserved
    session.flush()
