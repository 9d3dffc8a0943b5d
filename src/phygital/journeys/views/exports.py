"""The dashboard's CSV downloads: the API's query parameters and values, cells safe to open in
a spreadsheet."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response

from phygital.core.errors import NotFound
from phygital.core.schemas import MOMENT_PATTERN
from phygital.deps import SessionDep, SettingsDep
from phygital.journeys import api, dashboard
from phygital.journeys.models import JourneyKind
from phygital.journeys.views.common import Manager, router

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
