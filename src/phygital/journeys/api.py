"""Journeys JSON routes: the journeys with their summary, attribution, channel mix, top
products and the detection rules. Managers and the owner see every store; a seller sees their
store's journeys only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.commerce import service as commerce
from phygital.core.errors import Invalid
from phygital.core.pagination import clamp_limit, decode_cursor, encode_cursor
from phygital.core.schemas import MOMENT_PATTERN, parse_moment
from phygital.deps import ApiPrincipal, SessionDep, SettingsDep, require
from phygital.journeys import analytics, service
from phygital.journeys.models import JourneyKind
from phygital.journeys.schemas import (
    AttributionOut,
    JourneyOut,
    JourneyPage,
    KindSummaryOut,
    MixOut,
    RulesIn,
    RulesOut,
    SummaryOut,
    TopProductOut,
)
from phygital.journeys.service import Filters

router = APIRouter(prefix="/api/v1/journeys", tags=["journeys"])

Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Limit = Annotated[int | None, Query(ge=1, le=500)]


def filters_from(
    session: SessionDep,
    settings: SettingsDep,
    principal: ApiPrincipal,
    kind: JourneyKind | None = None,
    start: Annotated[
        str | None, Query(alias="from", pattern=MOMENT_PATTERN, description="purchases from")
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", pattern=MOMENT_PATTERN, description="purchases before")
    ] = None,
    store: Annotated[str | None, Query(description="store code (of the offline side)")] = None,
    sku: Annotated[str | None, Query(max_length=100)] = None,
) -> Filters:
    store_id = principal.visible_store_id
    if store is not None:
        store_id = commerce.get_store(session, code=store, principal=principal).id
    return Filters(
        kind=kind,
        start=parse_moment(start, field="from", timezone=settings.timezone),
        end=parse_moment(end, field="to", timezone=settings.timezone),
        store_id=store_id,
        sku=sku,
    )


FiltersDep = Annotated[Filters, Depends(filters_from)]


@router.get("", response_model=JourneyPage)
def list_journeys(
    session: SessionDep, filters: FiltersDep, limit: Limit = None, cursor: str | None = None
) -> JourneyPage:
    """Journeys, newest purchase first, and a `summary` of all journeys matching the filters:
    count, orders and revenue per kind, ROPO revenue as a share of in-store sales, median days
    from research to purchase. `from`/`to` bound the purchase time (a day is midnight in the
    company's time zone)."""
    size = clamp_limit(limit)
    before = None
    if cursor:
        at, last_id = decode_cursor(cursor, size=2)
        try:
            before = (datetime.fromisoformat(str(at)), int(last_id))
        except (TypeError, ValueError):
            raise Invalid("malformed cursor", field="cursor") from None
    rows = service.list_journeys(session, filters=filters, before=before, limit=size + 1)
    page = rows[:size]
    next_cursor = None
    if len(rows) > size and page:
        last = page[-1][0]
        next_cursor = encode_cursor([last.purchased_at.isoformat(), last.id])
    found = service.summary(session, filters=filters)
    return JourneyPage(
        items=[
            JourneyOut(
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
            for j, code in page
        ],
        next=next_cursor,
        summary=SummaryOut(
            by_kind={
                k: KindSummaryOut(count=v.count, orders=v.orders, revenue=v.revenue)
                for k, v in found.by_kind.items()
            },
            store_revenue=found.store_revenue,
            ropo_share=found.ropo_share,
            median_days=found.median_days,
        ),
    )


@router.get("/attribution", response_model=list[AttributionOut])
def attribution(
    session: SessionDep,
    filters: FiltersDep,
    by: Annotated[
        list[Literal["store", "category", "week"]] | None,
        Query(description="group by any of store, category, week (default store and week)"),
    ] = None,
) -> list[AttributionOut]:
    """Store revenue influenced by online research (ROPO), with the share of in-store sales."""
    rows = analytics.attribution(session, filters=filters, by=tuple(by or ("store", "week")))
    return [AttributionOut(**r.__dict__) for r in rows]


@router.get("/channel-mix", response_model=list[MixOut])
def channel_mix(session: SessionDep, filters: FiltersDep) -> list[MixOut]:
    """Customers' interactions per week (product and page events, orders), online vs offline;
    with `store`, those of the store's customers."""
    rows = analytics.channel_mix(
        session, start=filters.start, end=filters.end, store_id=filters.store_id
    )
    return [
        MixOut(week=r.week, online=r.online, offline=r.offline, online_share=r.online_share)
        for r in rows
    ]


@router.get("/top-products", response_model=list[TopProductOut])
def top_products(
    session: SessionDep, filters: FiltersDep, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> list[TopProductOut]:
    """The products most often in journeys of the chosen kind (default ROPO)."""
    kind = filters.kind or JourneyKind.ROPO
    rows = analytics.top_products(session, filters=filters, kind=kind, limit=limit)
    return [TopProductOut(**r.__dict__) for r in rows]


@router.get("/rules", response_model=RulesOut)
def read_rules(session: SessionDep, principal: ApiPrincipal) -> RulesOut:
    """The detection rules: window in days and the events that count on each side."""
    rules = service.get_rules(session)
    return RulesOut(
        window_days=rules.window.days,
        online_events=sorted(rules.online_events),
        offline_events=sorted(rules.offline_events),
    )


@router.put("/rules", response_model=RulesOut)
def change_rules(data: RulesIn, session: SessionDep, principal: Admin) -> RulesOut:
    """Change the rules (admin). New journeys follow them at once; run `phygital journeys
    rebuild` to apply them to the past."""
    rules = service.set_rules(
        session,
        window_days=data.window_days,
        online_events=data.online_events,
        offline_events=data.offline_events,
    )
    return RulesOut(
        window_days=rules.window.days,
        online_events=sorted(rules.online_events),
        offline_events=sorted(rules.offline_events),
    )
