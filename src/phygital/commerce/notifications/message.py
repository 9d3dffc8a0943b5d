"""Writing the message: the mail templates in the customer's language, with the order's lines,
the store's address and its opening hours until the last day to collect."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select
from sqlalchemy.orm import Session

from phygital.commerce import service as store_service
from phygital.commerce.models import Order, OrderLine, Store
from phygital.commerce.notifications.constants import HOURS_DAYS, PICKUP_READY, TEMPLATE_DIR
from phygital.core import app_settings
from phygital.identity.service import Customer


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=False,  # noqa: S701  (plain text; the HTML version escapes it in core.mail)
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=StrictUndefined,
    )


def render(kind: str, locale: str, context: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of `mail/<kind>.<locale>.txt` (its `subject` and `body` blocks)."""
    template = _templates().get_template(f"{kind}.{locale}.txt")
    ctx = template.new_context(context)
    subject = " ".join("".join(template.blocks["subject"](ctx)).split())
    body = "".join(template.blocks["body"](ctx)).strip() + "\n"
    return subject, body


def render_pickup_ready(
    session: Session, *, order: Order, customer: Customer, locale: str, now: datetime
) -> tuple[str, str]:
    store = session.get(Store, order.store_id) if order.store_id else None
    lines = session.scalars(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)
    ).all()
    zone = ZoneInfo(store.timezone if store else "Europe/Rome")
    collect_by = order.collect_by.astimezone(zone).date() if order.collect_by else None
    first_name = customer.traits.get("first_name") or customer.traits.get("firstName")
    context = {
        "name": str(first_name) if first_name else customer.name,
        "label": order.label or order.external_id,
        "store": store,
        "hours": _hours(session, store, now=now, until=collect_by, locale=locale),
        "collect_by": format_date(collect_by, "EEEE d MMMM", locale=locale) if collect_by else "",
        "lines": [
            {
                "quantity": ln.quantity,
                "name": ln.name or ln.sku,
                "amount": _money(ln.unit_price * ln.quantity, order.currency, locale),
            }
            for ln in lines
        ],
        "total": _money(order.total, order.currency, locale),
        "company": app_settings.get_value(session, app_settings.COMPANY_NAME),
    }
    return render(PICKUP_READY, locale, context)


def _money(amount: Decimal, currency: str, locale: str) -> str:
    return format_currency(amount, currency, locale=locale)


def _hours(
    session: Session, store: Store | None, *, now: datetime, until: date | None, locale: str
) -> list[dict[str, str]]:
    """The store's hours from today to the last day to collect (at most `HOURS_DAYS` days):
    `[{"day": "venerdì 20 novembre", "shifts": "09:00–13:00, 15:00–19:00"}]`, shifts empty on
    a closed day. Empty when the store has no hours at all."""
    if store is None or not store.opening_hours:
        return []
    schedule = store_service.schedules(session, [store])[store.id]
    today = now.astimezone(schedule.zone).date()
    count = HOURS_DAYS if until is None else min(max((until - today).days + 1, 1), HOURS_DAYS)
    days = []
    for offset in range(count):
        day = today + timedelta(days=offset)
        shifts = ", ".join(
            f"{_clock_time(a, locale)}–{_clock_time(b, locale)}" for a, b in schedule.shifts_on(day)
        )
        days.append({"day": format_date(day, "EEEE d MMMM", locale=locale), "shifts": shifts})
    return days


def _clock_time(value: str, locale: str) -> str:
    if value == "24:00":
        return value
    hours, minutes = value.split(":")
    return format_time(time(int(hours), int(minutes)), "short", locale=locale)
