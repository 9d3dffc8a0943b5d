"""Orders from every channel: the list (newest first, by store, channel and status) and the
order page with its timeline and the changes its state allows. Sellers see their store's."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from phygital.commerce import orders, reading
from phygital.commerce import service as store_service
from phygital.commerce.models import Store
from phygital.commerce.schemas import OrderChannel
from phygital.commerce.views.common import take_notice, time_helpers
from phygital.commerce.views.desk import change_state, desk_path, label_of, status_word
from phygital.core.errors import Invalid
from phygital.deps import ClockDep, CsrfProtected, SessionDep, WebUser
from phygital.identity.views import phone_display
from phygital.web import i18n
from phygital.web.templating import render, request_locale

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
CHANNELS: tuple[str, ...] = OrderChannel.__args__  # type: ignore[attr-defined]


@router.get("/orders", response_class=HTMLResponse)
def order_list(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    user: WebUser,
    store: str = "",
    channel: str = "",
    status: str = "",
    cursor: str = "",
) -> Response:
    request_locale(request)
    stores = store_service.list_stores(session, principal=user)
    chosen: Store | None = None
    if store:
        chosen = store_service.get_store(session, code=store, principal=user)
    store_id = chosen.id if chosen else user.visible_store_id
    channel = channel if channel in CHANNELS else ""
    status = status if status in reading.ORDER_STATUSES else ""
    now = clock.now()
    error = None
    try:
        rows, next_cursor = reading.list_orders(
            session,
            now=now,
            store_id=store_id,
            channel=channel or None,
            status=status or None,
            cursor=cursor or None,
            limit=PAGE_SIZE,
        )
    except (Invalid, ValueError):
        error = i18n.gettext("This page link is no longer valid: showing the newest orders.")
        cursor = ""
        rows, next_cursor = reading.list_orders(
            session,
            now=now,
            store_id=store_id,
            channel=channel or None,
            status=status or None,
            limit=PAGE_SIZE,
        )
    filters = {"store": store, "channel": channel, "status": status}
    kept = {k: v for k, v in filters.items() if v}
    return render(
        request,
        "commerce/orders.html",
        {
            "orders": rows,
            "customers": reading.customers_of(session, rows),
            "store_of": {s.id: s for s in stores},
            "statuses": {o.id: orders.effective_status(o, now) for o in rows},
            "stores": stores,
            "can_pick_store": user.visible_store_id is None and len(stores) > 1,
            "channels": CHANNELS,
            "status_choices": reading.ORDER_STATUSES,
            "filters": filters,
            "first_page": "/orders" + (f"?{urlencode(kept)}" if kept else ""),
            "next_page": (
                "/orders?" + urlencode({**kept, "cursor": next_cursor}) if next_cursor else None
            ),
            "paged": bool(cursor),
            "error": error,
            "label_of": label_of,
            "status_word": status_word,
            **time_helpers(now),
        },
    )


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(
    request: Request, order_id: str, session: SessionDep, clock: ClockDep, user: WebUser
) -> Response:
    request_locale(request)
    order = orders.get_order(session, order_id)
    store_service.check_store_access_or_404(user, order.store_id, f"no order {order_id}")
    now = clock.now()
    store = session.get(Store, order.store_id) if order.store_id else None
    tz = store.timezone if store else request.app.state.settings.timezone
    customer = reading.customers_of(session, [order]).get(order.id)
    return render(
        request,
        "commerce/order.html",
        {
            "order": order,
            "label": label_of(order),
            "status": orders.effective_status(order, now),
            "store": store,
            "tz": tz,
            "customer": customer,
            "lines": orders.lines_of(session, [order.id])[order.id],
            "history": reading.order_history(session, order=order, now=now),
            "can_ready": reading.can_mark_ready(order),
            "can_collect": reading.can_mark_collected(order),
            "can_cancel": reading.can_cancel(order),
            "desk": desk_path(store) if order.fulfilment == "pickup" else None,
            "notice": take_notice(request),
            "status_word": status_word,
            "phone_display": phone_display,
            **time_helpers(now),
        },
    )


@router.post("/orders/{order_id}/cancel", dependencies=[CsrfProtected])
def cancel_order(
    request: Request,
    order_id: str,
    session: SessionDep,
    clock: ClockDep,
    user: WebUser,
    next: Annotated[str, Form()] = "",
) -> Response:
    return change_state(
        request, session, clock, user, order_id, action="cancel", back=next or f"/orders/{order_id}"
    )
