"""The journeys dashboard in a real browser on the demo company: Plotly (served from the
installed package) draws the three charts, the tables are there, a CSV download holds the
API's numbers, and the page switches language."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from phygital.core.clock import SystemClock
from phygital.db import make_engine, make_session_factory, transaction
from phygital.journeys import service as journeys_service
from tests.e2e.server import LiveServer, create_token
from tests.e2e.test_shell import log_in_as_owner

pytestmark = pytest.mark.e2e

PageFactory = Callable[..., Page]
CHARTS = ("weekly", "share", "mix")


@pytest.fixture(scope="module")
def demo(live_server: LiveServer) -> LiveServer:
    """The demo company with its journeys. Detection runs when orders are saved; a rebuild
    over the whole history gives the same journeys, so it is harmless when they exist."""
    engine = make_engine(live_server.database_url)
    try:
        with transaction(make_session_factory(engine, SystemClock())) as session:
            journeys_service.rebuild(session)
    finally:
        engine.dispose()
    return live_server


def charts_drawn(page: Page) -> None:
    expect(page.locator(".js-plotly-plot")).to_have_count(len(CHARTS), timeout=15_000)
    for name in CHARTS:
        expect(page.locator(f"#chart-{name}.js-plotly-plot .main-svg").first).to_be_visible()
    expect(page.locator("#chart-weekly .barlayer .point").first).to_be_attached()
    expect(page.locator("#chart-mix .scatterlayer .trace").first).to_be_attached()


def test_the_owner_sees_the_charts_the_tables_and_the_csv_in_both_languages(
    page: Page, demo: LiveServer
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in_as_owner(page, demo)
    page.goto("/journeys")
    expect(page.locator("html")).to_have_attribute("lang", "it")
    expect(page.locator("h1")).to_have_text("Percorsi")
    charts_drawn(page)
    expect(page.locator("#chart-mix .legendtext", has_text="Quota online")).to_have_count(1)
    expect(page.locator("#chart-weekly .legendtext", has_text="Click & collect")).to_have_count(1)

    # The numbers of every chart are in tables too (inside "I numeri"), and the top lists.
    for table in ("weekly", "share", "mix"):
        expect(page.locator(f"#table-{table}")).to_be_attached()
    page.locator("#weekly summary").click()
    expect(page.locator("#table-weekly tbody tr")).to_have_count(12)
    expect(page.locator("#table-top-ropo tbody tr").first).to_be_visible()
    expect(page.locator("#table-top-showrooming tbody tr").first).to_be_visible()
    expect(page.locator("[data-figure=ropo-count]")).not_to_have_text("0")

    # A CSV download holds the API's numbers for the same filters.
    with page.expect_download() as download_info:
        page.locator("#share a.jr-csv").click()
    download = download_info.value
    rows = list(csv.reader(io.StringIO(download.path().read_text(encoding="utf-8-sig"))))
    href = page.locator("#share a.jr-csv").get_attribute("href") or ""
    query = dict(parse_qsl(urlsplit(href).query))
    token = create_token(demo, "e2e-journeys")
    api = httpx.get(
        f"{demo.url}/api/v1/journeys/attribution",
        params=query,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 200, api.text
    header = rows[0]
    assert header == ["week", "store", "category", "ropo_revenue", "store_revenue", "share"]
    expected = [["" if r[k] is None else str(r[k]) for k in header] for r in api.json()]
    assert rows[1:] == expected
    assert len(expected) > 1

    # The same page in English: labels of the page and of the charts.
    page.get_by_role("button", name="EN", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(f"{demo.url}/journeys")
    expect(page.locator("h1")).to_have_text("Journeys")
    charts_drawn(page)
    expect(page.locator("#chart-mix .legendtext", has_text="Online share")).to_have_count(1)
    expect(page.locator("#weekly h2")).to_have_text("Journeys per week")
    assert errors == []


def test_a_store_filter_redraws_the_charts_for_that_store(page: Page, demo: LiveServer) -> None:
    log_in_as_owner(page, demo)
    page.goto("/journeys")
    charts_drawn(page)
    store = page.locator("select[name=store] option").nth(1)
    name = store.text_content() or ""
    page.locator("select[name=store]").select_option(index=1)
    page.locator("#jr-filters select[name=period]").select_option("4w")
    page.locator("#jr-filters button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"period=4w.*store=\w"))
    charts_drawn(page)
    expect(page.locator("#table-weekly tbody tr")).to_have_count(4)
    expect(page.locator("#chart-share .legendtext").first).to_have_text(name.strip())


def test_plotly_comes_from_this_server_not_a_cdn(page: Page, demo: LiveServer) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    log_in_as_owner(page, demo)
    page.goto("/journeys")
    charts_drawn(page)
    assert all(url.startswith(demo.url) for url in requested), requested
    assert any("/static/vendor/plotly.min.js" in url for url in requested)
