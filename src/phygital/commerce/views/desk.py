"""The pickup desk: a store's open pickups by urgency, made for a seller on a phone or at the
counter, with one-tap "ready" and "collected" that work without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from phygital.auth.service import Principal
from phygital.commerce import orders, reading
from phygital.commerce import service as store_service
from phygital.commerce.models import Order, OrderStatus, Store
from phygital.commerce.pickups import Pickup
from phygital.commerce.views.common import (
    duration,
    flash,
    money,
    safe_return,
    take_notice,
    time_helpers,
    when,
)
from phygital.core.clock import Clock
from phygital.core.errors import Conflict, DomainError, Invalid
from phygital.deps import ClockDep, CsrfProtected, SessionDep, WebUser
from phygital.identity.service import Contact
from phygital.identity.views import phone_display
from phygital.web import i18n
from phygital.web.templating import render, request_locale

router = APIRouter(include_in_schema=False)

# Cards per section: the most urgent ones (a phone shows two or three at a time, a counter PC a
# dozen); "show more" pages through the rest, and the counts say how many there are.
SECTION_SIZE = 12


@dataclass
class CardView:
    """A pickup card's texts, ready for the page: a desk shows dozens of cards, and building
    them here costs a fraction of doing it with template macros."""

    id: str
    label: str
    state: str
    state_label: str
    customer_id: str | None
    customer_name: str
    phone: str | None
    phone_text: str
    promise: str
    lines: list[tuple[int, str, str]]
    note: str | None
    can_ready: bool
    can_collect: bool
    ready_label: str
    collected_label: str
    research: list[tuple[str, str, str, bool]] = field(default_factory=list)  # href, name, …
    suggestions: list[tuple[str, str, str]] = field(default_factory=list)


def customer_label(customer: Contact | None) -> str:
    if customer is None:
        return i18n.gettext("No customer details")
    return customer.name or customer.email or customer.phone or i18n.gettext("Anonymous visitor")


# Parsing and formatting a number costs more than the rest of a card: kept per number.
@lru_cache(maxsize=4096)
def phone_text(number: str) -> str:
    return phone_display(number)


@lru_cache(maxsize=4096)
def product_href(sku: str) -> str:
    return "/products/" + quote(sku, safe="/")


def promise_text(order: Pickup, state: str, *, now: datetime, tz: str) -> str:
    """By when, or how late: what the counter needs to know first."""
    if order.status == OrderStatus.READY:
        since, by = when(order.ready_at, now=now, tz=tz), when(order.collect_by, now=now, tz=tz)
        if state == "overdue":
            return i18n.gettext("Ready since %(when)s: not collected by %(by)s", when=since, by=by)
        return i18n.gettext("Ready since %(when)s · collect by %(by)s", when=since, by=by)
    if order.promised_ready_at is None:
        return i18n.gettext("No promised time: the store has no opening hours.")
    promised = when(order.promised_ready_at, now=now, tz=tz)
    if state == "overdue":
        late = duration(order.promised_ready_at, now)
        return i18n.gettext("Promised for %(when)s: %(late)s late", when=promised, late=late)
    return i18n.gettext("Ready by %(when)s", when=promised)


class CardTexts:
    """The texts cards share (state names, "3 views · 2 days ago", "€ 39,90 · 4 in store"), made
    once per page and language: a desk shows dozens of cards with a dozen texts each."""

    def __init__(self, *, now: datetime, tz: str) -> None:
        self.now, self.tz = now, tz
        self.states = {
            "awaiting": i18n.gettext("Being prepared"),
            "ready": i18n.gettext("Ready for pickup"),
            "overdue": i18n.gettext("Overdue"),
        }
        self._seen: dict[tuple[int, str], str] = {}
        self._offer: dict[tuple[Decimal, str, int | None], str] = {}

    def seen(self, events: int, last_at: datetime) -> str:
        ago = duration(last_at, self.now)
        text = self._seen.get((events, ago))
        if text is None:
            text = self._seen[events, ago] = (
                i18n.ngettext("%(num)s view", "%(num)s views", events)
                + " · "
                + i18n.gettext("%(ago)s ago", ago=ago)
            )
        return text

    def offer(self, price: Decimal, currency: str, available: int | None) -> str:
        text = self._offer.get((price, currency, available))
        if text is None:
            stock = ""
            if available is not None:
                stock = " · " + (
                    i18n.gettext("%(num)s in store", num=available)
                    if available > 0
                    else i18n.gettext("not in store")
                )
            text = self._offer[price, currency, available] = money(price, currency) + stock
        return text


def card_view(card: reading.Card, texts: CardTexts) -> CardView:
    order, customer = card.order, card.customer
    label = label_of(order)
    return CardView(
        id=order.id,
        label=label,
        state=card.state,
        state_label=texts.states.get(card.state, card.state),
        customer_id=customer.id if customer else None,
        customer_name=customer_label(customer),
        phone=customer.phone if customer else None,
        phone_text=phone_text(customer.phone) if customer and customer.phone else "",
        promise=promise_text(order, card.state, now=texts.now, tz=texts.tz),
        lines=[(ln.quantity, ln.name or ln.sku, ln.sku) for ln in card.lines],
        note=order.note,
        can_ready=reading.can_mark_ready(order),
        can_collect=reading.can_mark_collected(order),
        ready_label=i18n.gettext("Mark %(label)s ready", label=label),
        collected_label=i18n.gettext("Mark %(label)s collected", label=label),
        research=[
            (product_href(r.sku), r.name or r.sku, texts.seen(r.events, r.last_at), r.in_order)
            for r in card.research
        ],
        suggestions=[
            (product_href(s.sku), s.name, texts.offer(s.price, s.currency, s.available))
            for s in card.suggestions
        ],
    )


def card_views(
    sections: list[reading.Section], *, now: datetime, tz: str
) -> dict[str, list[CardView]]:
    """Each section's cards (by state), ready for the page."""
    texts = CardTexts(now=now, tz=tz)
    return {section.state: [card_view(c, texts) for c in section.cards] for section in sections}


def desk_store(
    session: Session, user: Principal, code: str | None
) -> tuple[Store | None, list[Store]]:
    """The store whose desk to show and the stores the user may pick from: a seller's own store
    (another is a 404), else the one asked for, else the first."""
    stores = store_service.list_stores(session, principal=user)
    if code:
        return store_service.get_store(session, code=code, principal=user), stores
    return (stores[0] if stores else None), stores


def desk_path(store: Store | None, **params: str) -> str:
    query = {"store": store.code} if store is not None else {}
    query.update({k: v for k, v in params.items() if v})
    return "/pickups" + (f"?{urlencode(query)}" if query else "")


@router.get("/pickups", response_class=HTMLResponse)
def pickup_desk(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    user: WebUser,
    store: str = "",
    state: str = "",
    cursor: str = "",
) -> Response:
    request_locale(request)
    chosen, stores = desk_store(session, user, store.strip() or None)
    only = next((s for s in reading.DESK_STATES if s.value == state), None)
    now = clock.now()
    sections: list[reading.Section] = []
    error = None
    if chosen is not None:
        try:
            sections = reading.desk(
                session,
                store=chosen,
                now=now,
                limit=SECTION_SIZE,
                only=only,
                cursor=cursor or None,
            )
        except (Invalid, ValueError):
            error = i18n.gettext("This page link is no longer valid: showing the whole desk.")
            only = None
            sections = reading.desk(session, store=chosen, now=now, limit=SECTION_SIZE)
    return render(
        request,
        "commerce/desk.html",
        {
            "store": chosen,
            "stores": stores,
            "can_pick_store": user.visible_store_id is None and len(stores) > 1,
            "sections": sections,
            "cards": card_views(sections, now=now, tz=chosen.timezone) if chosen else {},
            "only": only.value if only else None,
            "paged": bool(cursor) and only is not None,
            "desk_path": desk_path,
            "notice": take_notice(request),
            "error": error,
            **time_helpers(now),
        },
    )


def _order_for(session: Session, user: Principal, order_id: str) -> Order:
    order = orders.get_order(session, order_id)
    store_service.check_store_access_or_404(user, order.store_id, f"no order {order_id}")
    return order


def label_of(order: Order | Pickup) -> str:
    return order.label or order.external_id


def change_state(
    request: Request,
    session: Session,
    clock: Clock,
    user: Principal,
    order_id: str,
    *,
    action: str,
    back: str,
) -> Response:
    """Apply a state change from a form and go back where the person was, with a notice."""
    request_locale(request)
    order = _order_for(session, user, order_id)
    store = session.get(Store, order.store_id) if order.store_id else None
    default = desk_path(store) if order.fulfilment == "pickup" else f"/orders/{order.id}"
    target = safe_return(back, default)
    label = label_of(order)
    try:
        if action == "ready":
            orders.mark_ready(session, clock=clock, order=order)
            text = i18n.gettext(
                "Order %(label)s is ready: the customer is being told.", label=label
            )
        elif action == "collected":
            orders.mark_collected(session, clock=clock, order=order)
            text = i18n.gettext("Order %(label)s collected.", label=label)
        else:
            orders.cancel(session, clock=clock, order=order)
            text = i18n.gettext(
                "Order %(label)s cancelled: reserved items are available again.", label=label
            )
    except DomainError as exc:
        session.rollback()
        if not isinstance(exc, Conflict):
            raise
        fresh = orders.get_order(session, order_id)
        flash(
            request,
            i18n.gettext(
                "Order %(label)s was not changed: it is %(status)s.",
                label=label,
                status=status_word(orders.effective_status(fresh, clock.now())),
            ),
            href=f"/orders/{order_id}",
            alert=True,
        )
        return RedirectResponse(target, status_code=303)
    flash(request, text, href=f"/orders/{order.id}")
    return RedirectResponse(target, status_code=303)


def status_word(status: str) -> str:
    words = {
        "placed": i18n.gettext("placed"),
        "fulfilled": i18n.gettext("fulfilled"),
        "awaiting": i18n.gettext("being prepared"),
        "ready": i18n.gettext("ready"),
        "overdue": i18n.gettext("overdue"),
        "collected": i18n.gettext("collected"),
        "cancelled": i18n.gettext("cancelled"),
    }
    return words.get(status, status)


@router.post("/pickups/{order_id}/ready", dependencies=[CsrfProtected])
def mark_ready(
    request: Request,
    order_id: str,
    session: SessionDep,
    clock: ClockDep,
    user: WebUser,
    next: Annotated[str, Form()] = "",
) -> Response:
    return change_state(request, session, clock, user, order_id, action="ready", back=next)


@router.post("/pickups/{order_id}/collected", dependencies=[CsrfProtected])
def mark_collected(
    request: Request,
    order_id: str,
    session: SessionDep,
    clock: ClockDep,
    user: WebUser,
    next: Annotated[str, Form()] = "",
) -> Response:
    return change_state(request, session, clock, user, order_id, action="collected", back=next)
