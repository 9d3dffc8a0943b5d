"""The manager's dashboard page: charts of the period, their numbers as tables, links to the CSV
downloads, and the detection rules with the form that changes them (admins)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal
from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.commerce import service as commerce
from phygital.config import Settings
from phygital.core.errors import DomainError, Invalid
from phygital.deps import ClockDep, CsrfProtected, SessionDep, SettingsDep
from phygital.journeys import api, dashboard, service
from phygital.journeys.models import JourneyKind
from phygital.journeys.views.common import (
    Admin,
    Manager,
    _days,
    _money,
    _number,
    _share,
    _week_label,
    kind_names,
    router,
)
from phygital.journeys.views.plotly_bundle import plotly_version
from phygital.web import i18n
from phygital.web.templating import render, request_locale

NOTICE_KEY = "notice"
KIND_COLOURS = {"ropo": "#0f6e5f", "showrooming": "#f4b942", "click_and_collect": "#1f5fa8"}
STORE_COLOURS = ("#0f6e5f", "#b4441f", "#1f5fa8", "#8a5a14", "#6b3fa0", "#0f7a8a", "#4b5a63")
MAX_EVENT_NAMES = 50


def _period_error(field: str | None) -> str:
    if field == "from":
        return i18n.gettext("Choose a first day (not after the last one).")
    return i18n.gettext("Choose a last day, at most three years after the first one.")


def _rules_view(session: Session) -> dict[str, Any]:
    rules = service.get_rules(session)
    return {
        "window_days": rules.window.days,
        "online_events": sorted(rules.online_events),
        "offline_events": sorted(rules.offline_events),
    }


def _export_links(query: dict[str, str], kind: str) -> dict[str, str]:
    links = {}
    for name in dashboard.DATASETS:
        params = dict(query)
        if kind and name in dashboard.KIND_DATASETS:
            params["kind"] = kind
        links[name] = f"/journeys/export/{name}.csv?{urlencode(params)}"
    return links


def _tables_and_charts(
    found: dashboard.Figures, period: dashboard.Period, store_names: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The figures as rows of formatted cells (the tables) and as series (the charts)."""
    weeks = period.weeks()
    with_year = weeks[0].year != weeks[-1].year
    labels = [_week_label(w, with_year=with_year) for w in weeks]
    index = {w: n for n, w in enumerate(weeks)}
    names = kind_names()

    counts = {k: [0] * len(weeks) for k in names}
    for row in found.weekly:
        if row.week in index and row.kind in counts:
            counts[row.kind][index[row.week]] += row.journeys
    weekly_rows = [
        {
            "week": labels[n],
            "cells": [_number(counts[k][n]) for k in names],
            "total": _number(sum(counts[k][n] for k in names)),
        }
        for n in range(len(weeks))
    ]

    share_by_store: dict[str, list[float | None]] = {}
    share_rows = []
    for a in found.attribution:
        code = a.store or "—"
        if a.week is None or a.week not in index:
            continue
        share_by_store.setdefault(code, [None] * len(weeks))[index[a.week]] = a.share
        share_rows.append(
            {
                "week": labels[index[a.week]],
                "store": store_names.get(code, code),
                "ropo": _money(a.ropo_revenue),
                "sales": _money(a.store_revenue),
                "share": _share(a.share),
            }
        )

    online, offline = [0] * len(weeks), [0] * len(weeks)
    online_share: list[float | None] = [None] * len(weeks)
    for m in found.mix:
        if m.week in index:
            n = index[m.week]
            online[n], offline[n], online_share[n] = m.online, m.offline, m.online_share
    mix_rows = [
        {
            "week": labels[n],
            "online": _number(online[n]),
            "offline": _number(offline[n]),
            "share": _share(online_share[n]),
        }
        for n in range(len(weeks))
    ]

    def top(rows: list[Any]) -> list[dict[str, str]]:
        return [
            {
                "sku": t.sku,
                "name": t.name or t.sku,
                "journeys": _number(t.journeys),
                "revenue": _money(t.revenue),
            }
            for t in rows
        ]

    tables = {
        "kinds": list(names.values()),
        "weekly": weekly_rows,
        "share": share_rows,
        "mix": mix_rows,
        "top_ropo": top(found.top_ropo),
        "top_showrooming": top(found.top_showrooming),
    }
    charts = {
        "separators": format_decimal(1.5, locale=i18n.get_locale())[1]
        + format_decimal(1000, locale=i18n.get_locale())[1],
        "weekly": {
            "x": labels,
            "yTitle": i18n.gettext("Journeys"),
            "series": [{"name": names[k], "y": counts[k], "color": KIND_COLOURS[k]} for k in names],
        },
        "share": {
            "x": labels,
            "yTitle": i18n.gettext("ROPO share of store sales"),
            "series": [
                {
                    "name": store_names.get(code, code),
                    "y": values,
                    "color": STORE_COLOURS[n % len(STORE_COLOURS)],
                }
                for n, (code, values) in enumerate(sorted(share_by_store.items()))
            ],
        },
        "mix": {
            "x": labels,
            "yTitle": i18n.gettext("Interactions"),
            "y2Title": i18n.gettext("Online share"),
            "online": {"name": i18n.gettext("Online"), "y": online, "color": "#1f5fa8"},
            "offline": {"name": i18n.gettext("Offline"), "y": offline, "color": "#0f6e5f"},
            "share": {"name": i18n.gettext("Online share"), "y": online_share, "color": "#b4441f"},
        },
    }
    return tables, charts


def _summary_cards(found: dashboard.Figures) -> list[dict[str, Any]]:
    names = kind_names()
    s = found.summary
    return [
        {
            "kind": kind,
            "name": names[kind],
            "count": _number(k.count),
            "orders": _number(k.orders),
            "revenue": _money(k.revenue),
            "median": _days(s.median_days.get(kind)) if kind in s.median_days else None,
        }
        for kind, k in s.by_kind.items()
        if kind in names
    ]


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    today: date,
    user: Principal,
    *,
    period: str = "",
    since: str = "",
    until: str = "",
    store: str = "",
    kind: str = "",
    rules_error: str | None = None,
    rules_form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    request_locale(request)
    error = None
    try:
        chosen = dashboard.resolve_period(period, since, until, today=today)
    except Invalid as exc:
        error = _period_error(exc.field)
        status = 422
        chosen = dashboard.resolve_period(dashboard.DEFAULT_PERIOD, "", "", today=today)
    kind = kind if kind in {k.value for k in JourneyKind} else ""
    stores = commerce.list_stores(session, principal=user)
    store = store if any(s.code == store for s in stores) else ""
    query = chosen.query()
    if store:
        query["store"] = store
    filters = api.filters_from(
        session,
        settings,
        user,
        kind=JourneyKind(kind) if kind else None,
        start=query["from"],
        end=query["to"],
        store=store or None,
    )
    found = dashboard.figures(session, filters=filters)
    store_names = {s.code: s.name for s in stores}
    tables, charts = _tables_and_charts(found, chosen, store_names)
    notice = request.session.pop(NOTICE_KEY, None)
    return render(
        request,
        "journeys/dashboard.html",
        {
            "form": {
                "period": chosen.key,
                "from": chosen.first_day.isoformat(),
                "until": chosen.last_day.isoformat(),
                "store": store,
                "kind": kind,
            },
            "period": chosen,
            "period_first": format_date(
                chosen.first_day, format="medium", locale=i18n.get_locale()
            ),
            "period_last": format_date(chosen.last_day, format="medium", locale=i18n.get_locale()),
            "periods": list(dashboard.PERIODS),
            "stores": stores,
            "kinds": kind_names(),
            "summary": found.summary,
            "cards": _summary_cards(found),
            "store_revenue": _money(found.summary.store_revenue),
            "ropo_share": _share(found.summary.ropo_share),
            "tables": tables,
            "charts": charts,
            "exports": _export_links(query, kind),
            "rules": _rules_view(session),
            "rules_form": rules_form,
            "rules_error": rules_error,
            "can_edit_rules": user.has_role(Role.ADMIN),
            "notice": notice if isinstance(notice, dict) else None,
            "error": error,
            "plotly_version": plotly_version(),
        },
        status,
    )


def _today(clock_now: datetime, settings: Settings) -> date:
    return clock_now.astimezone(ZoneInfo(settings.timezone)).date()


@router.get("/journeys", response_class=HTMLResponse)
def journeys_dashboard(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    user: Manager,
    period: str = "",
    since: Annotated[str, Query(alias="from", max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
    store: Annotated[str, Query(max_length=32)] = "",
    kind: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """Journeys per week, ROPO share of store sales, channel mix and top products."""
    return _page(
        request,
        session,
        settings,
        _today(clock.now(), settings),
        user,
        period=period,
        since=since,
        until=until,
        store=store,
        kind=kind,
    )


def _event_names(text: str) -> list[str]:
    return [name.strip() for name in re.split(r"[\n,]", text) if name.strip()]


@router.post("/journeys/rules", dependencies=[CsrfProtected])
def save_rules(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    user: Admin,
    window_days: Annotated[str, Form()] = "",
    online_events: Annotated[str, Form()] = "",
    offline_events: Annotated[str, Form()] = "",
) -> Response:
    """Change the detection rules (admin); the past keeps the old ones until a rebuild."""
    request_locale(request)
    form = {
        "window_days": window_days,
        "online_events": online_events,
        "offline_events": offline_events,
    }
    online, offline = _event_names(online_events), _event_names(offline_events)
    message = None
    if len(online) > MAX_EVENT_NAMES or len(offline) > MAX_EVENT_NAMES:
        message = i18n.gettext("At most %(max)s events per side.", max=MAX_EVENT_NAMES)
    elif any(len(name) > 200 for name in online + offline):
        message = i18n.gettext("An event name can be at most 200 characters.")
    else:
        try:
            service.set_rules(
                session,
                window_days=int(window_days.strip()),
                online_events=online,
                offline_events=offline,
            )
        except (ValueError, DomainError):
            session.rollback()
            message = i18n.gettext("The window is a number of days from 1 to 365.")
    if message is not None:
        return _page(
            request,
            session,
            settings,
            _today(clock.now(), settings),
            user,
            rules_error=message,
            rules_form=form,
            status=422,
        )
    request.session[NOTICE_KEY] = {
        "text": i18n.gettext(
            "Rules saved: new purchases follow them now. "
            "Run “phygital journeys rebuild” to apply them to the past."
        ),
        "href": None,
    }
    return RedirectResponse("/journeys#rules", status_code=303)
