"""Journeys pages: the manager's dashboard (charts, their numbers as tables, CSV downloads, the
detection rules), the journeys part of the customer page, and Plotly's JavaScript served from
the installed Python package (no CDN: the app must work with no internet).

The dashboard's form speaks people's language (the last 12 weeks; from one day to another,
both included); its CSV links speak the API's (`from`, `to` exclusive, `store`, `kind`), so a
download and `GET /api/v1/journeys/...` with the same query string give the same numbers.
"""

from __future__ import annotations

import csv
import gzip
import importlib.metadata
import importlib.util
import io
import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton, format_timedelta
from babel.numbers import format_decimal, format_percent
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.commerce import service as commerce
from phygital.config import Settings
from phygital.core.errors import DomainError, Invalid, NotFound
from phygital.core.schemas import MOMENT_PATTERN
from phygital.deps import ClockDep, CsrfProtected, SessionDep, SettingsDep, require
from phygital.journeys import api, dashboard, research, service
from phygital.journeys.models import JourneyKind
from phygital.web import i18n
from phygital.web.templating import render, request_locale

router = APIRouter(include_in_schema=False)

Manager = Annotated[Principal, Depends(require(Role.MANAGER, web=True))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN, web=True))]

NOTICE_KEY = "notice"
KIND_COLOURS = {"ropo": "#0f6e5f", "showrooming": "#f4b942", "click_and_collect": "#1f5fa8"}
STORE_COLOURS = ("#0f6e5f", "#b4441f", "#1f5fa8", "#8a5a14", "#6b3fa0", "#0f7a8a", "#4b5a63")
MAX_EVENT_NAMES = 50


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


def _day(day: date) -> str:
    return format_date(day, format="medium", locale=i18n.get_locale())


def _week_label(week: date, *, with_year: bool) -> str:
    return format_skeleton("yMMMd" if with_year else "MMMd", week, locale=i18n.get_locale())


# -- the dashboard -------------------------------------------------------------------------------


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


# -- CSV downloads -------------------------------------------------------------------------------

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A CSV cell: null is empty; text a spreadsheet would run as a formula gets a quote."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA):
        try:
            Decimal(text)
        except ArithmeticError:
            return "'" + text
    return text


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return "\ufeff" + buffer.getvalue()  # the BOM tells Excel it is UTF-8


@router.get("/journeys/export/{name}.csv")
def export_csv(
    name: str,
    session: SessionDep,
    settings: SettingsDep,
    user: Manager,
    kind: JourneyKind | None = None,
    start: Annotated[str | None, Query(alias="from", pattern=MOMENT_PATTERN)] = None,
    end: Annotated[str | None, Query(alias="to", pattern=MOMENT_PATTERN)] = None,
    store: Annotated[str | None, Query(max_length=32)] = None,
    sku: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """A dataset of the dashboard as CSV, with the API's query parameters and values."""
    if name not in dashboard.DATASETS:
        raise NotFound(f"no dataset {name!r}")
    filters = api.filters_from(
        session, settings, user, kind=kind, start=start, end=end, store=store, sku=sku
    )
    header, rows = dashboard.dataset(session, name, filters=filters)
    parts = [name, start or "", end or "", store or ""]
    filename = "journeys-" + "-".join(re.sub(r"[^\w-]", "", p) for p in parts if p) + ".csv"
    return Response(
        csv_text(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- Plotly, from the installed package ----------------------------------------------------------


@lru_cache(maxsize=1)
def plotly_version() -> str:
    try:
        return importlib.metadata.version("plotly")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def _plotly_path() -> Path | None:
    # find_spec locates the package without importing it (plotly's import is slow).
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


@lru_cache(maxsize=1)
def _plotly_bytes() -> tuple[bytes, bytes]:
    """The bundle and its gzip (4.8 MB become 1.4 MB), compressed once per process."""
    path = _plotly_path()
    if path is None:
        raise NotFound("plotly is not installed")
    body = path.read_bytes()
    return body, gzip.compress(body, compresslevel=6, mtime=0)


@router.get("/static/vendor/plotly.min.js")
def plotly_js(request: Request) -> Response:
    """Plotly's JavaScript bundle from the installed `plotly` package. Pages ask for it with
    `?v=<version>`, so it can be cached for a year: an upgrade changes the address."""
    body, compressed = _plotly_bytes()
    etag = f'"plotly-{plotly_version()}"'
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable",
        "ETag": etag,
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        body = compressed
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


# -- the customer page's part --------------------------------------------------------------------


def customer_context(
    session: Session, *, customer_id: str, member_ids: list[str], now: datetime
) -> dict[str, Any]:
    """What the customer page shows of journeys: the online research a seller should mention
    (not bought yet) and the customer's journeys. Call after `request_locale`."""
    found = research.recent_research(session, {customer_id: member_ids}, now=now)
    lines = []
    for r in found.get(customer_id, []):
        # threshold 1.5: "10 days ago" rather than "1 week ago", "2 days" from 36 hours on
        ago = format_timedelta(
            r.at - now, threshold=1.5, add_direction=True, locale=i18n.get_locale()
        )
        lines.append(
            {
                "text": i18n.gettext(
                    "Looked at %(product)s online %(ago)s", product=r.name or r.sku, ago=ago
                ),
                "sku": r.sku,
                "at": r.at,
                "channel": r.channel,
            }
        )
    return {
        "research": lines,
        "journeys": research.customer_journeys(session, member_ids=member_ids),
    }
