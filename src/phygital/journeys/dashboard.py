"""The manager's journeys dashboard: the period people choose, the figures it shows, and the
same figures as CSV rows.

Every dataset is built from the functions behind the JSON API (`service`, `analytics`) and
serialised through the API's own schemas, so a CSV download and the API answer for the same
filters are the same numbers, written the same way. Weeks are those of `analytics` (Monday,
UTC days).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from phygital.core.errors import Invalid
from phygital.journeys import analytics, service
from phygital.journeys.analytics import AttributionRow, MixRow, TopProduct, week_of
from phygital.journeys.models import Journey, JourneyKind
from phygital.journeys.schemas import (
    AttributionOut,
    JourneyOut,
    KindSummaryOut,
    MixOut,
    SummaryOut,
    TopProductOut,
)
from phygital.journeys.service import Filters, Summary

PERIODS = {"4w": 4, "12w": 12, "26w": 26}
DEFAULT_PERIOD = "12w"
CUSTOM = "custom"
MAX_DAYS = 3 * 366
TOP = 10  # the API's default for /top-products
EXPORT_PAGE = 1000

DATASETS = (
    "summary",
    "weekly",
    "journeys",
    "attribution",
    "channel-mix",
    "top-ropo",
    "top-showrooming",
)
# The datasets the kind filter applies to; the others are of one kind by definition
# (attribution: ROPO) or about every interaction (channel mix).
KIND_DATASETS = frozenset({"summary", "weekly", "journeys"})


@dataclass(frozen=True)
class Period:
    """Purchases from `first_day` to `last_day`, both included, in the company's time zone."""

    key: str
    first_day: date
    last_day: date

    def query(self) -> dict[str, str]:
        """The period as the API's `from` and `to` (`to` is the day after: exclusive)."""
        return {
            "from": self.first_day.isoformat(),
            "to": (self.last_day + timedelta(days=1)).isoformat(),
        }

    def weeks(self) -> list[date]:
        """The Mondays of every week the period touches."""
        week, last = week_of(self.first_day), week_of(self.last_day)
        result = []
        while week <= last:
            result.append(week)
            week += timedelta(days=7)
        return result


def resolve_period(key: str, since: str, until: str, *, today: date) -> Period:
    """The period of the dashboard's form: the last 4, 12 or 26 weeks (this week and the ones
    before it, up to today), or two days. `Invalid` says which field is wrong."""
    if key not in PERIODS and key != CUSTOM:
        key = CUSTOM if (since or until) else DEFAULT_PERIOD
    if key in PERIODS:
        first = week_of(today) - timedelta(weeks=PERIODS[key] - 1)
        return Period(key, first, today)
    last = _day(until, "until") if until else today
    first = _day(since, "from") if since else week_of(last) - timedelta(weeks=11)
    if first > last:
        raise Invalid("the first day comes after the last one", field="from")
    if (last - first).days > MAX_DAYS:
        raise Invalid(f"at most {MAX_DAYS} days", field="until")
    return Period(CUSTOM, first, last)


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{field}: not a day (2026-11-01)", field=field) from None


# -- figures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekCount:
    week: date
    kind: str
    journeys: int
    revenue: Decimal


def weekly(session: Session, *, filters: Filters) -> list[WeekCount]:
    """Journeys and their revenue per week of purchase and kind."""
    stmt = filters.apply(
        select(
            func.date(Journey.purchased_at), Journey.kind, func.count(), func.sum(Journey.revenue)
        ).group_by(func.date(Journey.purchased_at), Journey.kind)
    )
    counts: dict[tuple[date, str], int] = defaultdict(int)
    revenue: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for day, kind, count, total in session.execute(stmt):
        key = (week_of(_as_date(day)), str(kind))
        counts[key] += count
        revenue[key] += Decimal(total or 0)
    return [
        WeekCount(week, kind, counts[(week, kind)], revenue[(week, kind)])
        for week, kind in sorted(counts)
    ]


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class Figures:
    """Everything the dashboard shows for one choice of filters."""

    summary: Summary
    weekly: list[WeekCount]
    attribution: list[AttributionRow]
    mix: list[MixRow]
    top_ropo: list[TopProduct]
    top_showrooming: list[TopProduct]


def figures(session: Session, *, filters: Filters) -> Figures:
    """The dashboard's figures. The kind filter narrows the summary and the weekly journeys;
    attribution is ROPO by definition, the top lists are one kind each, the channel mix is
    about every interaction."""
    anykind = replace(filters, kind=None)
    return Figures(
        summary=service.summary(session, filters=filters),
        weekly=weekly(session, filters=filters),
        attribution=analytics.attribution(session, filters=anykind, by=("store", "week")),
        mix=analytics.channel_mix(
            session, start=filters.start, end=filters.end, store_id=filters.store_id
        ),
        top_ropo=analytics.top_products(session, filters=anykind, kind=JourneyKind.ROPO, limit=TOP),
        top_showrooming=analytics.top_products(
            session, filters=anykind, kind=JourneyKind.SHOWROOMING, limit=TOP
        ),
    )


# -- CSV rows -----------------------------------------------------------------------------------


def summary_out(found: Summary) -> SummaryOut:
    return SummaryOut(
        by_kind={
            k: KindSummaryOut(count=v.count, orders=v.orders, revenue=v.revenue)
            for k, v in found.by_kind.items()
        },
        store_revenue=found.store_revenue,
        ropo_share=found.ropo_share,
        median_days=found.median_days,
    )


def _flatten(prefix: str, value: Any) -> Iterator[list[Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else key, inner)
    else:
        yield [prefix, value]


def _rows(items: list[BaseModel]) -> Iterator[list[Any]]:
    for item in items:
        yield list(item.model_dump(mode="json").values())


def dataset(session: Session, name: str, *, filters: Filters) -> tuple[list[str], list[list[Any]]]:
    """A dataset's header and rows, each value as the API writes it in JSON (None for null).

    - `summary`: `metric, value` rows, the API summary flattened (`by_kind.ropo.revenue`);
    - `weekly`: journeys and revenue per week and kind;
    - `journeys`: every journey, as the items of `GET /api/v1/journeys`;
    - `attribution`, `channel-mix`: as their API routes (attribution by store and week);
    - `top-ropo`, `top-showrooming`: `GET /api/v1/journeys/top-products?kind=…` (top 10).
    """
    if name == "summary":
        found = summary_out(service.summary(session, filters=filters))
        return ["metric", "value"], list(_flatten("", found.model_dump(mode="json")))
    if name == "weekly":
        return ["week", "kind", "journeys", "revenue"], [
            [w.week.isoformat(), w.kind, w.journeys, str(w.revenue)]
            for w in weekly(session, filters=filters)
        ]
    if name == "journeys":
        return list(JourneyOut.model_fields), list(_rows(list(_journeys(session, filters))))
    if name == "attribution":
        rows = analytics.attribution(session, filters=filters, by=("store", "week"))
        return list(AttributionOut.model_fields), list(
            _rows([AttributionOut(**r.__dict__) for r in rows])
        )
    if name == "channel-mix":
        mix = analytics.channel_mix(
            session, start=filters.start, end=filters.end, store_id=filters.store_id
        )
        return list(MixOut.model_fields), list(
            _rows(
                [
                    MixOut(
                        week=r.week, online=r.online, offline=r.offline, online_share=r.online_share
                    )
                    for r in mix
                ]
            )
        )
    if name in ("top-ropo", "top-showrooming"):
        kind = JourneyKind.ROPO if name == "top-ropo" else JourneyKind.SHOWROOMING
        top = analytics.top_products(
            session, filters=replace(filters, kind=kind), kind=kind, limit=TOP
        )
        return list(TopProductOut.model_fields), list(
            _rows([TopProductOut(**t.__dict__) for t in top])
        )
    raise Invalid(f"no dataset {name!r}", field="dataset")


def _journeys(session: Session, filters: Filters) -> Iterator[JourneyOut]:
    before: tuple[datetime, int] | None = None
    while True:
        page = service.list_journeys(session, filters=filters, before=before, limit=EXPORT_PAGE)
        for j, code in page:
            yield JourneyOut(
                kind=str(j.kind),
                customer_id=j.customer_id,
                sku=j.sku,
                online_at=j.online_at,
                offline_at=j.offline_at,
                store=code,
                order_id=j.order_id,
                revenue=j.revenue,
                currency=j.currency,
            )
        if len(page) < EXPORT_PAGE:
            return
        last = page[-1][0]
        before = (last.purchased_at, last.id)
