"""Store settings: the list, a new store (admin), a store's page with its weekly hours, split
shifts, preparation time and hold days (admin), and its holidays and extraordinary openings
(managers too). The page checks the configuration live: when the store next opens and when
an order placed now would be ready."""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, available_timezones

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.commerce import service
from phygital.commerce.hours import DAYS, Schedule, ready_by
from phygital.commerce.models import Store
from phygital.commerce.schemas import StoreCreate, StoreExceptionIn, StoreUpdate
from phygital.commerce.views.common import (
    Admin,
    Manager,
    day_label,
    field_errors,
    flash,
    take_notice,
    time_helpers,
)
from phygital.core.clock import Clock, is_timezone
from phygital.core.errors import Conflict, NotFound
from phygital.deps import ClockDep, CsrfProtected, SessionDep
from phygital.web import i18n
from phygital.web.templating import render, request_locale

router = APIRouter(prefix="/settings/stores", include_in_schema=False)

_TIME = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?$")
_SHIFT = re.compile(r"^(.+?)\s*[-–—]\s*(.+)$")
WEEK_DAYS = 7


class ShiftError(ValueError):
    """Shifts a person typed that do not read as opening hours; the message is for them."""


def _clock_time(text: str) -> str:
    match = _TIME.match(text.strip())
    if not match:
        raise ShiftError(i18n.gettext("“%(text)s” is not a time: write it as 09:30.", text=text))
    hours, minutes = int(match.group(1)), int(match.group(2) or 0)
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise ShiftError(i18n.gettext("“%(text)s” is not a time: write it as 09:30.", text=text))
    return f"{hours:02d}:{minutes:02d}"


def parse_shifts(text: str) -> list[tuple[str, str]]:
    """ "09:30-13:00, 15:30-19:30" as shifts; empty means closed. Accepts 9.30 and 9 for 09:30
    and 09:00, and any dash; shifts must be in order and not overlap."""
    shifts: list[tuple[str, str]] = []
    for part in re.split(r"[,;]|\s+e\s+|\s+and\s+", text.strip()):
        if not part.strip():
            continue
        match = _SHIFT.match(part.strip())
        if not match:
            raise ShiftError(
                i18n.gettext("Write each shift as opening-closing, e.g. 09:30-13:00, 15:30-19:30.")
            )
        start, end = _clock_time(match.group(1)), _clock_time(match.group(2))
        if start >= end:
            raise ShiftError(
                i18n.gettext(
                    "A shift must end after it starts (%(start)s-%(end)s).", start=start, end=end
                )
            )
        if shifts and start < shifts[-1][1]:
            raise ShiftError(i18n.gettext("The shifts overlap or are not in order."))
        shifts.append((start, end))
    return shifts


def format_shifts(shifts: Any) -> str:
    return ", ".join(f"{a}-{b}" for a, b in shifts or ())


@lru_cache(maxsize=1)
def timezones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


def check(schedule: Schedule, store: Store, clock: Clock) -> dict[str, Any]:
    """The live check of a configuration: open now or when next, when an order placed now
    would be ready, and the hours of the coming week (exceptions included)."""
    now = clock.now()
    zone = ZoneInfo(store.timezone)
    today = now.astimezone(zone).date()
    first = next(schedule.intervals(now), None)
    return {
        "open_now": first is not None and first[0] <= now,
        "open_until": first[1] if first is not None and first[0] <= now else None,
        "next_opening": first[0] if first is not None else None,
        "ready_at": ready_by(schedule, now, store.prep_minutes),
        "week": [
            {
                "day": today + timedelta(days=n),
                "shifts": format_shifts(schedule.shifts_on(today + timedelta(days=n))),
                "exception": (today + timedelta(days=n)) in schedule.exceptions,
            }
            for n in range(WEEK_DAYS)
        ],
    }


def _store_messages() -> dict[str, str]:
    return {
        "code": i18n.gettext("Use letters, digits, dots, dashes or underscores (at most 32)."),
        "name": i18n.gettext("Give the store a name (at most 200 characters)."),
        "address": i18n.gettext("The address can be at most 1,000 characters."),
        "timezone": i18n.gettext("Choose a time zone from the list, e.g. Europe/Rome."),
        "prep_minutes": i18n.gettext("Minutes from 0 to 10,080 (a week)."),
        "hold_days": i18n.gettext("Days from 1 to 90."),
        "note": i18n.gettext("The note can be at most 200 characters."),
    }


# -- the list and a new store -------------------------------------------------------------------


def _list_page(
    request: Request,
    session: Session,
    clock: Clock,
    user: Principal,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    stores = service.list_stores(session, principal=user)
    schedules = service.schedules(session, stores)
    return render(
        request,
        "commerce/stores.html",
        {
            "stores": stores,
            "checks": {s.id: check(schedules[s.id], s, clock) for s in stores},
            "can_create": user.has_role(Role.ADMIN),
            "form": form
            or {
                "code": "",
                "name": "",
                "address": "",
                "timezone": request.app.state.settings.timezone,
            },
            "errors": errors or {},
            "timezones": timezones(),
            "notice": take_notice(request),
            **time_helpers(clock.now()),
        },
        status,
    )


@router.get("", response_class=HTMLResponse)
def store_list(request: Request, session: SessionDep, clock: ClockDep, user: Manager) -> Response:
    request_locale(request)
    return _list_page(request, session, clock, user)


@router.post("", dependencies=[CsrfProtected])
def create_store(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    user: Admin,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
) -> Response:
    request_locale(request)
    form = {
        "code": code.strip(),
        "name": name.strip(),
        "address": address.strip(),
        "timezone": timezone.strip(),
    }
    try:
        data = StoreCreate(
            code=form["code"],
            name=form["name"],
            address=form["address"] or None,
            timezone=form["timezone"],
        )
        store = service.create_store(session, data=data)
    except ValidationError as exc:
        errors = field_errors(exc, _store_messages())
        return _list_page(request, session, clock, user, form=form, errors=errors, status=422)
    except Conflict:
        session.rollback()
        errors = {"code": i18n.gettext("A store with this code already exists.")}
        return _list_page(request, session, clock, user, form=form, errors=errors, status=409)
    flash(
        request, i18n.gettext("Store %(code)s created. Now set its opening hours.", code=store.code)
    )
    return RedirectResponse(f"/settings/stores/{store.code}#hours", status_code=303)


# -- one store ----------------------------------------------------------------------------------


def _store_form(store: Store) -> dict[str, Any]:
    hours = store.opening_hours or {}
    return {
        "name": store.name,
        "address": store.address or "",
        "timezone": store.timezone,
        "prep_minutes": str(store.prep_minutes),
        "hold_days": str(store.hold_days),
        **{f"hours_{day}": format_shifts(hours.get(day)) for day in DAYS},
    }


def _store_page(
    request: Request,
    session: Session,
    clock: Clock,
    user: Principal,
    store: Store,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    exception_form: dict[str, str] | None = None,
    exception_errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    schedule = service.schedules(session, [store])[store.id]
    today = clock.now().astimezone(ZoneInfo(store.timezone)).date()
    return render(
        request,
        "commerce/store.html",
        {
            "store": store,
            "check": check(schedule, store, clock),
            "exceptions": service.list_exceptions(session, store_id=store.id, since=today),
            "can_edit": user.has_role(Role.ADMIN),
            "form": form or _store_form(store),
            "errors": errors or {},
            "exception_form": exception_form or {"day": "", "shifts": "", "note": ""},
            "exception_errors": exception_errors or {},
            "days": DAYS,
            "timezones": timezones(),
            "format_shifts": format_shifts,
            "today": today,
            "notice": take_notice(request),
            **time_helpers(clock.now()),
        },
        status,
    )


@router.get("/{code}", response_class=HTMLResponse)
def store_page(
    request: Request, code: str, session: SessionDep, clock: ClockDep, user: Manager
) -> Response:
    request_locale(request)
    store = service.get_store(session, code=code, principal=user)
    return _store_page(request, session, clock, user, store)


@router.post("/{code}", dependencies=[CsrfProtected])
async def update_store(
    request: Request, code: str, session: SessionDep, clock: ClockDep, user: Admin
) -> Response:
    request_locale(request)
    store = service.get_store(session, code=code, principal=user)
    posted = await request.form()
    form = {key: str(posted.get(key, "")).strip() for key in _store_form(store)}
    errors: dict[str, str] = {}
    hours: dict[str, list[tuple[str, str]]] = {}
    for day in DAYS:
        try:
            hours[day] = parse_shifts(form[f"hours_{day}"])
        except ShiftError as exc:
            errors[f"hours_{day}"] = str(exc)
    numbers: dict[str, int] = {}
    for name in ("prep_minutes", "hold_days"):
        try:
            numbers[name] = int(form[name])
        except ValueError:
            errors[name] = _store_messages()[name]
    if form["timezone"] and not is_timezone(form["timezone"]):
        errors["timezone"] = _store_messages()["timezone"]
    data: StoreUpdate | None = None
    if not errors:
        try:
            data = StoreUpdate(
                name=form["name"],
                address=form["address"] or None,
                timezone=form["timezone"],
                opening_hours={day: shifts for day, shifts in hours.items() if shifts},
                **numbers,
            )
        except ValidationError as exc:
            errors = field_errors(exc, _store_messages())
    if errors or data is None:
        return _store_page(
            request, session, clock, user, store, form=form, errors=errors, status=422
        )
    service.update_store(session, code=store.code, data=data)
    flash(request, i18n.gettext("Store %(code)s saved.", code=store.code))
    return RedirectResponse(f"/settings/stores/{store.code}", status_code=303)


@router.post("/{code}/exceptions", dependencies=[CsrfProtected])
def add_exception(
    request: Request,
    code: str,
    session: SessionDep,
    clock: ClockDep,
    user: Manager,
    day: Annotated[str, Form()] = "",
    shifts: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    request_locale(request)
    store = service.get_store(session, code=code, principal=user)
    form = {"day": day.strip(), "shifts": shifts.strip(), "note": note.strip()}
    errors: dict[str, str] = {}
    when: date | None = None
    try:
        when = date.fromisoformat(form["day"])
    except ValueError:
        errors["day"] = i18n.gettext("Choose a day.")
    parsed: list[tuple[str, str]] = []
    try:
        parsed = parse_shifts(form["shifts"])
    except ShiftError as exc:
        errors["shifts"] = str(exc)
    data: StoreExceptionIn | None = None
    if not errors:
        try:
            data = StoreExceptionIn(shifts=[list(s) for s in parsed], note=form["note"])
        except ValidationError as exc:
            messages = {**_store_messages(), "shifts": i18n.gettext("At most 6 shifts in a day.")}
            errors = field_errors(exc, messages)
    if errors or data is None or when is None:
        return _store_page(
            request,
            session,
            clock,
            user,
            store,
            exception_form=form,
            exception_errors=errors,
            status=422,
        )
    service.set_exception(session, code=store.code, day=when, data=data)
    if parsed:
        text = i18n.gettext("Special opening on %(day)s saved.", day=day_label(when))
    else:
        text = i18n.gettext("%(day)s saved as a closing day.", day=day_label(when))
    flash(request, text)
    return RedirectResponse(f"/settings/stores/{store.code}#exceptions", status_code=303)


@router.post("/{code}/exceptions/{day}/delete", dependencies=[CsrfProtected])
def delete_exception(
    request: Request, code: str, day: str, session: SessionDep, user: Manager
) -> Response:
    request_locale(request)
    store = service.get_store(session, code=code, principal=user)
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise NotFound(f"store {code} has no exception on {day}") from None
    service.delete_exception(session, code=store.code, day=when)
    flash(request, i18n.gettext("%(day)s follows the weekly hours again.", day=day_label(when)))
    return RedirectResponse(f"/settings/stores/{store.code}#exceptions", status_code=303)
