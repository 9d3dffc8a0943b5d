"""Commerce JSON routes under /api/v1: stores, products, stock, orders, pickups, promises.

Store-scoped principals (a seller of one store) see and change only their store's stock,
orders and pickups; catalogue and store settings are for admins, stock counts for managers.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.commerce import orders, pickups, promises, service
from phygital.commerce.models import OrderOrigin
from phygital.commerce.pickups import PickupState
from phygital.commerce.schemas import (
    OrderCreate,
    OrderRead,
    ProductCreate,
    ProductRead,
    ProductUpdate,
    PromiseRate,
    StockRead,
    StockSet,
    StoreCreate,
    StoreExceptionIn,
    StoreExceptionRead,
    StoreRead,
    StoreUpdate,
    UnknownSku,
)
from phygital.core.errors import Invalid, PermissionDenied
from phygital.core.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from phygital.core.schemas import MOMENT_PATTERN, parse_moment
from phygital.deps import ApiPrincipal, ClockDep, SessionDep, SettingsDep, require

router = APIRouter(prefix="/api/v1")

Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Manager = Annotated[Principal, Depends(require(Role.MANAGER))]
Limit = Annotated[int | None, Query(ge=1, le=500)]
# A calendar day as YYYY-MM-DD (a plain `date` would also take a number as a Unix time).
Day = Annotated[
    str,
    Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$", examples=["2026-12-25"]),
]


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"day: {value!r} is not a calendar day (YYYY-MM-DD)", field="day") from None


# -- stores -------------------------------------------------------------------------------------


@router.post("/stores", status_code=201, response_model=StoreRead, tags=["stores"])
def create_store(data: StoreCreate, session: SessionDep, principal: Admin) -> StoreRead:
    """Create a store (admin)."""
    return StoreRead.model_validate(service.create_store(session, data=data))


@router.get("/stores", response_model=Page[StoreRead], tags=["stores"])
def list_stores(session: SessionDep, principal: ApiPrincipal) -> Page[StoreRead]:
    """The stores the caller may see, by code."""
    stores = service.list_stores(session, principal=principal)
    return Page[StoreRead](items=[StoreRead.model_validate(s) for s in stores], next=None)


@router.get("/stores/{code}", response_model=StoreRead, tags=["stores"])
def read_store(code: str, session: SessionDep, principal: ApiPrincipal) -> StoreRead:
    """One store by code."""
    return StoreRead.model_validate(service.get_store(session, code=code, principal=principal))


@router.patch("/stores/{code}", response_model=StoreRead, tags=["stores"])
def update_store(code: str, data: StoreUpdate, session: SessionDep, principal: Admin) -> StoreRead:
    """Change a store's name, hours, preparation time, hold days… (admin)."""
    return StoreRead.model_validate(service.update_store(session, code=code, data=data))


@router.get("/stores/{code}/exceptions", response_model=list[StoreExceptionRead], tags=["stores"])
def list_exceptions(
    code: str, session: SessionDep, principal: ApiPrincipal
) -> list[StoreExceptionRead]:
    """Holidays and extraordinary openings of a store, by day."""
    store = service.get_store(session, code=code, principal=principal)
    rows = service.list_exceptions(session, store_id=store.id)
    return [StoreExceptionRead.model_validate(r) for r in rows]


@router.put("/stores/{code}/exceptions/{day}", status_code=204, tags=["stores"])
def set_exception(
    code: str, day: Day, data: StoreExceptionIn, session: SessionDep, principal: Manager
) -> Response:
    """Set a day's hours (`{"shifts": []}` closes the store that day) (manager)."""
    service.get_store(session, code=code, principal=principal)
    service.set_exception(session, code=code, day=_day(day), data=data)
    return Response(status_code=204)


@router.delete("/stores/{code}/exceptions/{day}", status_code=204, tags=["stores"])
def delete_exception(code: str, day: Day, session: SessionDep, principal: Manager) -> Response:
    """Back to the weekly hours for that day (manager)."""
    service.get_store(session, code=code, principal=principal)
    service.delete_exception(session, code=code, day=_day(day))
    return Response(status_code=204)


# -- products and stock -------------------------------------------------------------------------


@router.post("/products", status_code=201, response_model=ProductRead, tags=["products"])
def create_product(data: ProductCreate, session: SessionDep, principal: Admin) -> ProductRead:
    """Add a product to the catalogue (admin). Earlier order lines with its sku become known."""
    return ProductRead.model_validate(service.create_product(session, data=data))


@router.get("/products", response_model=Page[ProductRead], tags=["products"])
def list_products(
    session: SessionDep,
    principal: ApiPrincipal,
    q: Annotated[str | None, Query(max_length=100, description="part of a name or sku")] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = None,
    cursor: str | None = None,
) -> Page[ProductRead]:
    """The catalogue, by sku."""
    size = clamp_limit(limit)
    after = str(decode_cursor(cursor, size=1)[0]) if cursor else None
    rows = service.list_products(session, q=q, category=category, after=after, limit=size + 1)
    page = rows[:size]
    next_cursor = encode_cursor([page[-1].sku]) if len(rows) > size and page else None
    return Page[ProductRead](items=[ProductRead.model_validate(p) for p in page], next=next_cursor)


@router.get("/products/unknown", response_model=list[UnknownSku], tags=["products"])
def list_unknown_skus(
    session: SessionDep, principal: ApiPrincipal, limit: Limit = None
) -> list[UnknownSku]:
    """Skus that arrived in orders but are not in the catalogue, most frequent first."""
    return service.unknown_skus(session, limit=clamp_limit(limit))


@router.get("/products/{sku}", response_model=ProductRead, tags=["products"])
def read_product(sku: str, session: SessionDep, principal: ApiPrincipal) -> ProductRead:
    return ProductRead.model_validate(service.get_product(session, sku=sku))


@router.patch("/products/{sku}", response_model=ProductRead, tags=["products"])
def update_product(
    sku: str, data: ProductUpdate, session: SessionDep, principal: Admin
) -> ProductRead:
    """Change a product's name, price, category or whether it is sold (admin)."""
    return ProductRead.model_validate(service.update_product(session, sku=sku, data=data))


@router.put("/stores/{code}/stock/{sku}", response_model=StockRead, tags=["stock"])
def set_stock(
    code: str, sku: str, data: StockSet, session: SessionDep, principal: Manager
) -> StockRead:
    """Set the units on hand after a count (manager; a store manager only for their store).
    Units reserved by pickups are kept."""
    store = service.get_store(session, code=code, principal=principal)
    row = service.set_stock(session, store=store, sku=sku, quantity=data.quantity)
    return service.stock_read(store, row)


@router.get("/stores/{code}/stock/{sku}", response_model=StockRead, tags=["stock"])
def read_stock(code: str, sku: str, session: SessionDep, principal: ApiPrincipal) -> StockRead:
    store = service.get_store(session, code=code, principal=principal)
    return service.stock_read(store, service.get_stock(session, store=store, sku=sku))


@router.get("/stores/{code}/stock", response_model=Page[StockRead], tags=["stock"])
def list_stock(
    code: str,
    session: SessionDep,
    principal: ApiPrincipal,
    limit: Limit = None,
    cursor: str | None = None,
) -> Page[StockRead]:
    """A store's stock, by sku."""
    store = service.get_store(session, code=code, principal=principal)
    size = clamp_limit(limit)
    after = str(decode_cursor(cursor, size=1)[0]) if cursor else None
    rows = service.list_stock(session, store=store, after=after, limit=size + 1)
    page = rows[:size]
    next_cursor = encode_cursor([page[-1].sku]) if len(rows) > size and page else None
    return Page[StockRead](items=[service.stock_read(store, r) for r in page], next=next_cursor)


# -- orders -------------------------------------------------------------------------------------


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderRead,
    tags=["orders"],
    responses={200: {"model": OrderRead, "description": "Already known: the existing order."}},
)
def create_order(
    data: OrderCreate,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    principal: ApiPrincipal,
) -> OrderRead:
    """Record an order from any channel; idempotent on `(channel, external_id)` (`200` with the
    existing order when it is already known). A pickup gets `promised_ready_at` from the store's
    hours and preparation time. A seller may record orders of their own store only."""
    if data.store:
        store = service.stores_by_code(session, [data.store]).get(data.store)
        if store is None:
            raise Invalid(f"store: no store with code {data.store!r}", field="store")
        if principal.visible_store_id not in (None, store.id):
            raise PermissionDenied("this belongs to another store")
    elif principal.visible_store_id is not None:
        raise Invalid("store: a store-scoped caller must name its store", field="store")
    saved = orders.save_orders(
        session,
        clock=clock,
        region=settings.default_region,
        origin=OrderOrigin.API,
        items=[data],
    )[0]
    if not saved.created:
        response.status_code = 200
    return _read(session, clock, principal, saved.order_id)


def _read(session: SessionDep, clock: ClockDep, principal: Principal, order_id: str) -> OrderRead:
    order = orders.get_order(session, order_id)
    service.check_store_access_or_404(principal, order.store_id, f"no order {order_id}")
    return orders.read_models(session, [order], now=clock.now())[0]


@router.get("/orders/{order_id}", response_model=OrderRead, tags=["orders"])
def read_order(
    order_id: str, session: SessionDep, clock: ClockDep, principal: ApiPrincipal
) -> OrderRead:
    """One order (a seller sees their store's orders only)."""
    return _read(session, clock, principal, order_id)


def _change(
    session: SessionDep, clock: ClockDep, principal: Principal, order_id: str, action: str
) -> OrderRead:
    order = orders.get_order(session, order_id)
    service.check_store_access_or_404(principal, order.store_id, f"no order {order_id}")
    change = {"ready": orders.mark_ready, "collected": orders.mark_collected}.get(action)
    if change is None:
        change = orders.cancel
    change(session, clock=clock, order=order)
    return orders.read_models(session, [order], now=clock.now())[0]


@router.post("/orders/{order_id}/ready", response_model=OrderRead, tags=["orders"])
def mark_ready(
    order_id: str, session: SessionDep, clock: ClockDep, principal: ApiPrincipal
) -> OrderRead:
    """The pickup is ready at the store: its promise is settled and the customer is notified
    on the best consented channel. Repeating it changes nothing."""
    return _change(session, clock, principal, order_id, "ready")


@router.post("/orders/{order_id}/collected", response_model=OrderRead, tags=["orders"])
def mark_collected(
    order_id: str, session: SessionDep, clock: ClockDep, principal: ApiPrincipal
) -> OrderRead:
    """The customer collected the pickup: reserved units leave the store's stock."""
    return _change(session, clock, principal, order_id, "collected")


@router.post("/orders/{order_id}/cancel", response_model=OrderRead, tags=["orders"])
def cancel_order(
    order_id: str, session: SessionDep, clock: ClockDep, principal: ApiPrincipal
) -> OrderRead:
    """Cancel an order not yet collected or fulfilled: reserved units are released."""
    return _change(session, clock, principal, order_id, "cancel")


@router.get("/pickups", response_model=Page[OrderRead], tags=["orders"])
def list_pickups(
    session: SessionDep,
    clock: ClockDep,
    principal: ApiPrincipal,
    store: Annotated[str | None, Query(description="store code; a seller's own by default")] = None,
    status: PickupState = PickupState.AWAITING,
    limit: Limit = None,
    cursor: str | None = None,
) -> Page[OrderRead]:
    """A store's pickup orders in one state, each in the shape of `GET /api/v1/orders/{id}`.
    Awaiting, ready and overdue ones list the most urgent first; collected and cancelled ones
    the newest first."""
    store_id = principal.visible_store_id
    if store is not None:
        store_id = service.get_store(session, code=store, principal=principal).id
    now = clock.now()
    rows, next_cursor = pickups.list_pickups(
        session, now=now, store_id=store_id, state=status, cursor=cursor, limit=clamp_limit(limit)
    )
    return Page[OrderRead](items=orders.read_models(session, rows, now=now), next=next_cursor)


@router.get("/promises/rates", response_model=list[PromiseRate], tags=["orders"])
def promise_rates(
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    principal: ApiPrincipal,
    start: Annotated[str | None, Query(alias="from", pattern=MOMENT_PATTERN)] = None,
    end: Annotated[str | None, Query(alias="to", pattern=MOMENT_PATTERN)] = None,
    store: str | None = None,
) -> list[PromiseRate]:
    """Promises kept and broken per store, channel and kind, for those due in [from, to)
    (`from`/`to`: a day, midnight in the company's time zone, or a time with its offset)."""
    store_id = principal.visible_store_id
    if store is not None:
        store_id = service.get_store(session, code=store, principal=principal).id
    return promises.kept_rates(
        session,
        now=clock.now(),
        start=parse_moment(start, field="from", timezone=settings.timezone),
        end=parse_moment(end, field="to", timezone=settings.timezone),
        store_id=store_id,
    )
