"""What the commerce pages share: roles, one-time notices, safe return paths, times told the
way a person at a counter reads them, and form errors next to their fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time, format_timedelta
from babel.numbers import format_currency
from fastapi import Depends, Request
from pydantic import ValidationError

from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.deps import require
from phygital.web import i18n

Manager = Annotated[Principal, Depends(require(Role.MANAGER, web=True))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN, web=True))]

NOTICE_KEY = "notice"
# Where a form may send the browser back to after a change (never another site).
RETURN_PREFIXES = ("/pickups", "/orders")


def flash(request: Request, text: str, *, href: str | None = None, alert: bool = False) -> None:
    """A one-time notice for the next page (post, redirect, get)."""
    request.session[NOTICE_KEY] = {"text": text, "href": href, "alert": alert}


def take_notice(request: Request) -> dict[str, Any] | None:
    notice = request.session.pop(NOTICE_KEY, None)
    return notice if isinstance(notice, dict) else None


def safe_return(value: str, default: str) -> str:
    """A local path of the commerce pages to go back to, else `default`."""
    if (
        value.startswith(RETURN_PREFIXES)
        and not value.startswith("//")
        and "\\" not in value
        and all(ch.isprintable() and not ch.isspace() for ch in value)
    ):
        return value
    return default


def when(at: datetime | None, *, now: datetime, tz: str) -> str:
    """A moment in the store's time, as near days say it: "today, 15:30", "tomorrow, 09:30",
    "Tue 24 Nov, 09:30"."""
    if at is None:
        return ""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    return _when(at.replace(second=0, microsecond=0), today, tz, i18n.get_locale())


# A desk shows hundreds of times, amounts and durations; Babel takes a fraction of a millisecond
# for each, so the results are kept (they depend only on the values and the language).
@lru_cache(maxsize=8192)
def _when(at: datetime, today: date, tz: str, locale: str) -> str:
    local = at.astimezone(ZoneInfo(tz))
    clock_time = format_time(local, format="short", locale=locale)
    days = (local.date() - today).days
    if days == 0:
        return i18n.gettext("today, %(time)s", time=clock_time)
    if days == 1:
        return i18n.gettext("tomorrow, %(time)s", time=clock_time)
    if days == -1:
        return i18n.gettext("yesterday, %(time)s", time=clock_time)
    skeleton = "MMMEd" if local.year == today.year else "yMMMEd"
    day = format_skeleton(skeleton, local, locale=locale)
    return i18n.gettext("%(day)s, %(time)s", day=day, time=clock_time)


def duration(start: datetime | None, end: datetime) -> str:
    """How long from `start` to `end`, roughly ("45 minutes", "2 hours", "3 days")."""
    if start is None:
        return ""
    seconds = int(abs((end - start).total_seconds()))
    # Rounded as Babel would show it anyway: seconds under two minutes, else whole minutes.
    return _duration(seconds if seconds < 120 else seconds - seconds % 60, i18n.get_locale())


@lru_cache(maxsize=4096)
def _duration(seconds: int, locale: str) -> str:
    return format_timedelta(timedelta(seconds=seconds), locale=locale)


def day_label(day: date) -> str:
    """A calendar day, short: "mar 24 nov 2026", "Tue, Nov 24, 2026"."""
    return format_skeleton("yMMMEd", day, locale=i18n.get_locale())


def money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return ""
    return _money(amount, currency, i18n.get_locale())


@lru_cache(maxsize=4096)
def _money(amount: Decimal, currency: str, locale: str) -> str:
    return format_currency(amount, currency, locale=locale)


def time_helpers(now: datetime) -> dict[str, Callable[..., str]]:
    """The formatting functions templates call, bound to the request's time."""
    return {
        "when": lambda at, tz: when(at, now=now, tz=tz),
        "ago": lambda at: duration(at, now),
        "money": money,
        "day_label": day_label,
    }


def field_errors(exc: ValidationError, messages: Mapping[str, str]) -> dict[str, str]:
    """A message for each form field that Pydantic refused, in the person's language."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = error.get("loc") or ("",)
        name = str(loc[0])
        errors.setdefault(name, messages.get(name, i18n.gettext("This value is not valid.")))
    return errors
