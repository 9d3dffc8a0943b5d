"""Journeys pages: the manager's dashboard (charts, their numbers as tables, CSV downloads, the
detection rules), the journeys part of the customer page, and Plotly's JavaScript served from
the installed Python package (no CDN: the app must work with no internet).

The dashboard's form speaks people's language (the last 12 weeks; from one day to another,
both included); its CSV links speak the API's (`from`, `to` exclusive, `store`, `kind`), so a
download and `GET /api/v1/journeys/...` with the same query string give the same numbers.

The package, by subject: `common` (the router, who may see the pages, numbers in the request's
language), `dashboard_page` (the dashboard and the rules form), `exports` (CSV downloads),
`plotly_bundle` (Plotly's JavaScript) and `customer` (the customer page's part).
"""

from phygital.journeys.views.common import Admin, Manager, kind_names, router
from phygital.journeys.views.customer import customer_context
from phygital.journeys.views.dashboard_page import (
    KIND_COLOURS,
    MAX_EVENT_NAMES,
    NOTICE_KEY,
    STORE_COLOURS,
    journeys_dashboard,
    save_rules,
)
from phygital.journeys.views.exports import csv_text, export_csv
from phygital.journeys.views.plotly_bundle import plotly_js, plotly_version

__all__ = [
    "KIND_COLOURS",
    "MAX_EVENT_NAMES",
    "NOTICE_KEY",
    "STORE_COLOURS",
    "Admin",
    "Manager",
    "csv_text",
    "customer_context",
    "export_csv",
    "journeys_dashboard",
    "kind_names",
    "plotly_js",
    "plotly_version",
    "router",
    "save_rules",
]
