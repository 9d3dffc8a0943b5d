"""What the journeys pages share: their router, who may see them, the kinds' names and numbers
formatted in the request's language."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from babel.dates import format_skeleton
from babel.numbers import format_decimal, format_percent
from fastapi import APIRouter, Depends

from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.deps import require
from phygital.journeys.models import JourneyKind
from phygital.web import i18n

router = APIRouter(include_in_schema=False)

Manager = Annotated[Principal, Depends(require(Role.MANAGER, web=True))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN, web=True))]


def kind_names() -> dict[str, str]:
    return {
        JourneyKind.ROPO.value: i18n.gettext("ROPO"),
        JourneyKind.SHOWROOMING.value: i18n.gettext("Showrooming"),
        JourneyKind.CLICK_AND_COLLECT.value: i18n.gettext("Click & collect"),
    }


# -- formatting (the request's language) ---------------------------------------------------------


def _number(value: int | None) -> str:
    return "—" if value is None else format_decimal(value, locale=i18n.get_locale())


def _money(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return format_decimal(value, format="#,##0.00", locale=i18n.get_locale())


def _share(value: float | None) -> str:
    if value is None:
        return "—"
    return format_percent(value, format="#,##0.0%", locale=i18n.get_locale())


def _days(value: float | None) -> str:
    if value is None:
        return "—"
    return format_decimal(value, format="#,##0.0", locale=i18n.get_locale())


def _week_label(week: date, *, with_year: bool) -> str:
    return format_skeleton("yMMMd" if with_year else "MMMd", week, locale=i18n.get_locale())
