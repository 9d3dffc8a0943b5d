"""Customer pages: search, the customer 360 (identity, consents, stats, timeline, merges) and
explicit merge and unmerge. Profiles are company-wide: every logged-in role sees them; merging
and undoing a merge need a manager or the owner."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import phonenumbers
from babel.dates import format_time
from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.core.errors import Conflict, DomainError, Invalid, NotFound
from phygital.deps import ClockDep, CsrfProtected, SessionDep, SettingsDep, WebUser, require
from phygital.identity import identifiers as ids
from phygital.identity import service, timeline
from phygital.identity.service import Customer
from phygital.journeys import views as journeys_views
from phygital.privacy import consent as consent_service
from phygital.privacy.models import ContactChannel, Purpose
from phygital.web import i18n
from phygital.web.templating import render, request_locale

router = APIRouter(include_in_schema=False)

Manager = Annotated[Principal, Depends(require(Role.MANAGER, web=True))]

PAGE_SIZE = 25
TIMELINE_SIZE = 25
NOTICE_KEY = "notice"

_REF = re.compile(r"^[a-z][a-z0-9_.-]{0,39}:\S+$", re.IGNORECASE)
_PHONE = re.compile(r"^\+?[\d\s().\-/]+$")


def search_filters(text: str) -> dict[str, str]:
    """What one search box means: an e-mail, a phone, a `kind:value` identifier, else words
    matched against names, e-mails and phones."""
    text = text.strip()
    if not text:
        return {}
    if "@" in text and " " not in text:
        return {"email": text}
    if _REF.match(text):
        return {"identifier": text}
    if _PHONE.match(text) and any(ch.isdigit() for ch in text):
        return {"phone": text}
    return {"q": text}


def flash(request: Request, text: str, href: str | None = None) -> None:
    """A one-time notice for the next page (post, redirect, get)."""
    request.session[NOTICE_KEY] = {"text": text, "href": href}


def take_notice(request: Request) -> dict[str, Any] | None:
    notice = request.session.pop(NOTICE_KEY, None)
    return notice if isinstance(notice, dict) else None


def phone_display(value: str) -> str:
    """An E.164 number as people read it (+39 333 123 4567)."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _search(
    session: Session, *, region: str, text: str, cursor: str | None
) -> tuple[list[Customer], str | None]:
    filters = search_filters(text)
    try:
        return service.search(
            session, region=region, limit=PAGE_SIZE, cursor=cursor or None, **filters
        )
    except Invalid:
        # Part of an e-mail or phone ("mario@", "333 12") is still worth a word search.
        if ("email" in filters or "phone" in filters) and len(text.strip()) >= 2:
            return service.search(
                session, region=region, limit=PAGE_SIZE, cursor=cursor or None, q=text.strip()
            )
        raise


def _search_error(field: str | None) -> str:
    if field == "q":
        return i18n.gettext("Type at least 2 characters.")
    if field == "cursor":
        return i18n.gettext("This page link is no longer valid: search again.")
    if field == "identifier":
        return i18n.gettext(
            "Not a valid identifier. Write it as kind:value, for example loyalty_card:LC-1."
        )
    return i18n.gettext("This search is not valid.")


@router.get("/customers", response_class=HTMLResponse)
def customer_list(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: WebUser,
    q: str = "",
    cursor: str | None = None,
) -> Response:
    request_locale(request)
    customers: list[Customer] = []
    next_cursor = error = None
    try:
        customers, next_cursor = _search(
            session, region=settings.default_region, text=q, cursor=cursor
        )
    except DomainError as exc:
        error = _search_error(exc.field)
    except ValueError:  # a hand-made cursor that decodes but holds no time
        error = _search_error("cursor")
    return render(
        request,
        "identity/list.html",
        {
            "q": q.strip(),
            "customers": customers,
            "next_cursor": next_cursor,
            "paged": bool(cursor),
            "error": error,
            "phone_display": phone_display,
        },
        422 if error else 200,
    )


@dataclass
class IdentifierView:
    value: str
    display: str
    href: str | None


def _identifier_groups(customer: Customer) -> list[tuple[str, list[IdentifierView]]]:
    groups: dict[str, list[IdentifierView]] = {}
    for ident in customer.identifiers:
        display, href = ident.value, None
        if ident.kind == ids.EMAIL:
            href = f"mailto:{ident.value}"
        elif ident.kind == ids.PHONE:
            href = f"tel:{ident.value}"
            display = phone_display(ident.value)
        groups.setdefault(ident.kind, []).append(IdentifierView(ident.value, display, href))
    return list(groups.items())


# Traits that carry identifiers: shown, normalised, among the identifiers instead.
IDENTIFIER_TRAITS = frozenset({"email", "phone", "loyalty_card", "loyaltyCard"})


def _trait_rows(traits: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for name in sorted(traits):
        value = traits[name]
        if value is None or value == "" or name in IDENTIFIER_TRAITS:
            continue
        if isinstance(value, dict | list):
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        else:
            text = str(value)
        rows.append((name, text))
    return rows


def _consent_rows(state: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per contact channel, one cell per purpose: the newest statement or None."""
    rows = []
    for channel in ContactChannel:
        cells = []
        for purpose in Purpose:
            entry = state.get(purpose.value, {}).get(channel.value)
            if entry is not None:
                entry = {**entry, "at": datetime.fromisoformat(entry["at"])}
            cells.append({"purpose": purpose.value, "entry": entry})
        rows.append({"channel": channel.value, "cells": cells})
    return rows


def _timeline_days(
    items: list[timeline.TimelineItem], tz: str, locale: str
) -> list[dict[str, Any]]:
    """Items grouped by day in the company's time zone, each with its local time of day."""
    zone = ZoneInfo(tz)
    days: list[dict[str, Any]] = []
    for item in items:
        local = item.at.astimezone(zone)
        if not days or days[-1]["day"] != local.date():
            days.append({"day": local.date(), "at": item.at, "items": []})
        days[-1]["items"].append(
            {"item": item, "time": format_time(local, format="short", locale=locale)}
        )
    return days


def _customer_page(
    request: Request,
    session: Session,
    user: Principal,
    customer: Customer,
    *,
    before: str | None = None,
    error: str | None = None,
    error_detail: str | None = None,
    merge_value: str = "",
    status: int = 200,
) -> Response:
    locale = request_locale(request)
    tz = request.app.state.settings.timezone
    timeline_error = None
    try:
        items, next_cursor = timeline.read(
            session, member_ids=customer.member_ids, cursor=before, limit=TIMELINE_SIZE
        )
    except (Invalid, ValueError):
        timeline_error = i18n.gettext("This link is no longer valid: showing the newest items.")
        before = None
        items, next_cursor = timeline.read(
            session, member_ids=customer.member_ids, cursor=None, limit=TIMELINE_SIZE
        )
    consents = consent_service.current(session, member_ids=customer.member_ids)
    merges = service.merge_history(session, customer_id=customer.id)
    journeys = journeys_views.customer_context(
        session,
        customer_id=customer.id,
        member_ids=customer.member_ids,
        now=request.app.state.clock.now(),
    )
    return render(
        request,
        "identity/customer.html",
        {
            "customer": customer,
            "identifier_groups": _identifier_groups(customer),
            "traits": _trait_rows(customer.traits),
            "revenue": format_decimal(customer.revenue, format="#,##0.00", locale=locale),
            "consent_rows": _consent_rows(consents),
            "consent_purposes": [p.value for p in Purpose],
            "timeline_days": _timeline_days(items, tz, locale),
            "timeline_next": next_cursor,
            "timeline_paged": bool(before),
            "timeline_error": timeline_error,
            "merges": merges,
            "members": set(customer.member_ids),
            "can_merge": user.has_role(Role.MANAGER),
            "notice": take_notice(request),
            "error": error,
            "error_detail": error_detail,
            "merge_value": merge_value,
            **journeys,
        },
        status,
    )


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(
    request: Request,
    customer_id: str,
    session: SessionDep,
    user: WebUser,
    before: str | None = None,
) -> Response:
    customer = service.get_customer(session, customer_id)
    if customer.id != customer_id:
        # A merged-away id stays valid: it leads to the customer it became part of.
        return RedirectResponse(f"/customers/{customer.id}", status_code=303)
    return _customer_page(request, session, user, customer, before=before or None)


def _other_customer(session: Session, *, region: str, value: str) -> str:
    """The customer a person typed in the merge form: an id, a page address or an e-mail."""
    if not value:
        raise Invalid("type the other customer's id or e-mail", field="other")
    if "@" in value:
        found, _ = service.search(session, region=region, email=value, limit=1)
        if not found:
            raise NotFound(f"no customer with e-mail {value}", field="other")
        return found[0].id
    return service.root_id(session, value.rstrip("/").rsplit("/", 1)[-1])


@router.post("/customers/{customer_id}/merge", dependencies=[CsrfProtected])
def merge_form(
    request: Request,
    customer_id: str,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    user: Manager,
    other: Annotated[str, Form()] = "",
) -> Response:
    request_locale(request)
    customer = service.get_customer(session, customer_id)
    value = other.strip()
    try:
        other_id = _other_customer(session, region=settings.default_region, value=value)
        if other_id == customer.id:
            raise Invalid("the same customer", field="same")
        survivor = service.merge(
            session, clock=clock, customer_id=customer.id, other_id=other_id, by=user.name
        )
    except DomainError as exc:
        session.rollback()
        detail = None
        if isinstance(exc, Conflict):
            message = i18n.gettext(
                "These customers cannot be merged: they have different customer ids, "
                "or together they would hold too many identifiers of one kind."
            )
            detail = exc.message
        elif isinstance(exc, NotFound):
            message = i18n.gettext("No customer has this id or e-mail.")
        elif exc.field == "same":
            message = i18n.gettext("That is this same customer.")
        else:
            message = i18n.gettext("Type the other customer's id or e-mail.")
        return _customer_page(
            request,
            session,
            user,
            service.get_customer(session, customer.id),
            error=message,
            error_detail=detail,
            merge_value=value,
            status=exc.status_code,
        )
    flash(request, i18n.gettext("Customers merged. You can undo it from the merge history."))
    return RedirectResponse(f"/customers/{survivor}#merges", status_code=303)


@router.post("/customers/{customer_id}/unmerge", dependencies=[CsrfProtected])
def unmerge_form(
    request: Request,
    customer_id: str,
    session: SessionDep,
    clock: ClockDep,
    user: Manager,
    other_id: Annotated[str, Form()] = "",
) -> Response:
    request_locale(request)
    customer = service.get_customer(session, customer_id)
    try:
        restored = service.unmerge(
            session, clock=clock, customer_id=customer.id, other_id=other_id, by=user.name
        )
    except DomainError as exc:
        session.rollback()
        return _customer_page(
            request,
            session,
            user,
            service.get_customer(session, customer.id),
            error=i18n.gettext(
                "This merge cannot be undone: it is no longer part of this customer."
            ),
            error_detail=exc.message,
            status=exc.status_code,
        )
    flash(
        request,
        i18n.gettext("Merge undone: the other profile is a customer of its own again."),
        href=f"/customers/{restored}",
    )
    return RedirectResponse(f"/customers/{customer.id}#merges", status_code=303)
