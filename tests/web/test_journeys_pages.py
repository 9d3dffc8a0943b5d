"""The journeys dashboard, its CSV downloads, the rules panel and the journeys part of the
customer page, on a small known history:

- Giulia looks at a helmet on the web three days before buying it in the Milan store (ROPO),
  and at a bottle two days ago that she has not bought (the seller's line);
- Marco tries a light in the Turin store and buys it on the web the day after (showrooming);
- Anna buys gloves on the web and collects them in Milan, last week (click & collect);
- Luca buys a bottle in the Milan store with no research before (store sales, no journey).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from phygital.db import transaction
from phygital.identity import service as identity_service
from phygital.identity.service import Customer
from phygital.journeys import research
from phygital.journeys import service as journeys_service
from phygital.tracking import service as tracking_service
from phygital.tracking.models import Channel
from tests.commerce.conftest import shop  # noqa: F401  (the stores and products fixture)
from tests.conftest import START, Principals, counting_queries, csrf_from, login
from tests.journeys.conftest import basic

HTML = {"Accept": "text/html"}
DAY = timedelta(days=1)
DATASETS = (
    "summary",
    "weekly",
    "journeys",
    "attribution",
    "channel-mix",
    "top-ropo",
    "top-showrooming",
)


@dataclass
class Story:
    giulia: str  # customer ids
    marco: str
    anna: str
    ropo_order: str
    pickup_order: str


def send(client: TestClient, key: str, *messages: dict[str, Any]) -> None:
    response = client.post("/v1/batch", json={"batch": list(messages)}, headers=basic(key))
    assert response.status_code == 200, response.text


def order(
    client: TestClient,
    principals: Principals,
    external_id: str,
    email: str,
    at: datetime,
    sku: str,
    price: str,
    *,
    channel: str,
    fulfilment: str | None = None,
    store: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": external_id,
        "channel": channel,
        "placed_at": at.isoformat(),
        "currency": "EUR",
        "customer": {"identifiers": [{"kind": "email", "value": email}]},
        "lines": [{"sku": sku, "quantity": 1, "unit_price": price}],
    }
    if fulfilment:
        body["fulfilment"] = fulfilment
    if store:
        body["store"] = store
    response = client.post("/api/v1/orders", json=body, headers=principals.owner.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def track(who: str, name: str, at: datetime, sku: str, **props: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": who,
        "event": name,
        "properties": {"sku": sku, **props},
        "timestamp": at.isoformat(),
    }


def identify(who: str, email: str, at: datetime) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": who,
        "traits": {"email": email},
        "timestamp": at.isoformat(),
    }


def tell_the_story(
    client: TestClient, principals: Principals, session_factory: sessionmaker[Session]
) -> Story:
    with transaction(session_factory) as session:
        web = tracking_service.create_source(session, name="Sito", channel=Channel.WEB).write_key
        till = tracking_service.create_source(
            session, name="Casse", channel=Channel.STORE
        ).write_key
    send(
        client,
        web,
        identify("u-giulia", "giulia@example.it", START - 40 * DAY),
        track("u-giulia", "Product Viewed", START - 3 * DAY, "BIKE-HELM-M-BLU"),
        track("u-giulia", "Product Viewed", START - 2 * DAY, "BOTTLE-TERM-750"),
    )
    send(
        client,
        till,
        identify("u-marco", "marco@example.it", START - 10 * DAY),
        track("u-marco", "Product Tried", START - 5 * DAY, "BIKE-LIGHT-USB", store="TO-CENTRO"),
    )
    ropo = order(
        client, principals, "S-1", "giulia@example.it", START, "BIKE-HELM-M-BLU", "89.90",
        channel="store", store="MI-BRERA",
    )  # fmt: skip
    shown = order(
        client, principals, "W-1", "marco@example.it", START - DAY, "BIKE-LIGHT-USB", "40.00",
        channel="web", fulfilment="delivery",
    )  # fmt: skip
    pickup = order(
        client, principals, "W-2", "anna@example.it", START - 7 * DAY, "BIKE-GLOVE-L", "24.50",
        channel="web", fulfilment="pickup", store="MI-BRERA",
    )  # fmt: skip
    order(
        client, principals, "S-2", "luca@example.it", START - DAY, "BOTTLE-TERM-750", "27.00",
        channel="store", store="MI-BRERA",
    )  # fmt: skip
    # The lead wires journeys to "orders.saved"; until then (and harmlessly after) rebuild.
    with transaction(session_factory) as session:
        journeys_service.rebuild(session)
    return Story(
        giulia=ropo["customer_id"],
        marco=shown["customer_id"],
        anna=pickup["customer_id"],
        ropo_order=ropo["id"],
        pickup_order=pickup["id"],
    )


@pytest.fixture
def story(
    client: TestClient,
    principals: Principals,
    shop: dict[str, Any],  # noqa: F811
    session_factory: sessionmaker[Session],
) -> Story:
    return tell_the_story(client, principals, session_factory)


@pytest.fixture
def browser(client: TestClient) -> TestClient:
    client.headers.update(HTML)
    return client


def figure(page: str, name: str) -> str:
    found = re.search(rf'data-figure="{re.escape(name)}">([^<]*)<', page)
    assert found, f"no figure {name}"
    return html.unescape(found.group(1)).strip()


def charts_of(page: str) -> dict[str, Any]:
    found = re.search(
        r'<script type="application/json" id="journeys-charts"[^>]*>(.*?)</script>', page, re.S
    )
    assert found
    return dict(json.loads(found.group(1)))


def export_links(page: str) -> dict[str, str]:
    links = {}
    for href in re.findall(r'href="(/journeys/export/[^"]+)"', page):
        href = html.unescape(href)
        links[urlsplit(href).path.rsplit("/", 1)[-1].removesuffix(".csv")] = href
    return links


def read_csv(client: TestClient, href: str) -> list[list[str]]:
    response = client.get(href)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


# -- who may see it ------------------------------------------------------------------------------


def test_managers_and_the_owner_see_the_dashboard_sellers_do_not(
    browser: TestClient, principals: Principals
) -> None:
    response = browser.get("/journeys", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")

    login(browser, principals.seller_a)
    assert browser.get("/journeys").status_code == 403
    assert browser.get("/journeys/export/summary.csv").status_code == 403
    browser.post("/logout", data={"csrf_token": csrf_from(browser.get("/").text)})

    login(browser, principals.manager)
    page = browser.get("/journeys")
    assert page.status_code == 200
    assert 'action="/journeys/rules"' not in page.text  # the rules are the owner's
    token = csrf_from(page.text)
    denied = browser.post("/journeys/rules", data={"window_days": "10", "csrf_token": token})
    assert denied.status_code == 403
    assert browser.get("/journeys/export/summary.csv").status_code == 200
    browser.post("/logout", data={"csrf_token": token})

    login(browser, principals.owner)
    assert 'action="/journeys/rules"' in browser.get("/journeys").text


# -- what it shows -------------------------------------------------------------------------------


def test_the_dashboard_shows_the_known_numbers_in_italian_and_english(
    browser: TestClient, principals: Principals, story: Story
) -> None:
    login(browser, principals.manager)
    page = browser.get("/journeys").text
    assert '<html lang="it">' in page
    assert figure(page, "ropo-count") == "1"
    assert figure(page, "ropo-revenue") == "89,90"
    assert figure(page, "ropo-days") == "3,0"
    assert figure(page, "showrooming-count") == "1"
    assert figure(page, "showrooming-revenue") == "40,00"
    assert figure(page, "showrooming-days") == "4,0"
    assert figure(page, "click_and_collect-count") == "1"
    assert figure(page, "click_and_collect-revenue") == "24,50"
    assert figure(page, "store-revenue") == "116,90"  # both in-store sales
    assert figure(page, "ropo-share") == "76,9%"  # 89.90 of 116.90
    assert "Casco urbano blu M" in page.split('id="table-top-ropo"')[1].split("</table>")[0]
    assert (
        "Luce USB ricaricabile" in page.split('id="table-top-showrooming"')[1].split("</table>")[0]
    )
    assert "Percorsi per settimana" in page
    assert 'data-plotly-src="/static/vendor/plotly.min.js?v=' in page
    assert "onclick" not in page and "onload" not in page  # no inline event handlers

    charts = charts_of(page)
    assert charts["separators"] == ",."
    weekly = {s["name"]: s["y"] for s in charts["weekly"]["series"]}
    assert sum(weekly["ROPO"]) == 1 and sum(weekly["Showrooming"]) == 1
    assert weekly["Click & collect"][-2:] == [1, 0]  # last week, not this one
    assert len(charts["weekly"]["x"]) == 12
    [milan] = charts["share"]["series"]
    assert milan["name"] == "Milano Brera"
    assert milan["y"][-1] == pytest.approx(0.769, abs=0.001)

    browser.post("/lang", data={"lang": "en", "next": "/journeys", "csrf_token": csrf_from(page)})
    english = browser.get("/journeys").text
    assert '<html lang="en">' in english
    assert figure(english, "ropo-revenue") == "89.90"
    assert figure(english, "ropo-share") == "76.9%"
    assert "Journeys per week" in english
    assert charts_of(english)["separators"] == ".,"


def test_filters_narrow_the_figures_and_bad_days_are_explained(
    browser: TestClient, principals: Principals, story: Story
) -> None:
    login(browser, principals.owner)
    turin = browser.get("/journeys", params={"store": "TO-CENTRO"}).text
    assert figure(turin, "showrooming-count") == "1"  # tried in Turin
    assert figure(turin, "ropo-count") == "0"
    assert figure(turin, "ropo-share") == "—"  # no store sales in Turin

    only_ropo = browser.get("/journeys", params={"kind": "ropo"}).text
    assert figure(only_ropo, "ropo-count") == "1"
    assert figure(only_ropo, "showrooming-count") == "0"

    this_week = browser.get(
        "/journeys", params={"period": "custom", "from": "2026-11-16", "until": "2026-11-20"}
    ).text
    assert figure(this_week, "click_and_collect-count") == "0"  # collected order was last week
    assert figure(this_week, "ropo-count") == "1"
    assert len(charts_of(this_week)["weekly"]["x"]) == 1

    bad = browser.get(
        "/journeys", params={"period": "custom", "from": "2026-11-30", "until": "2026-11-01"}
    )
    assert bad.status_code == 422
    assert 'role="alert"' in bad.text
    garbage = browser.get("/journeys", params={"from": "yesterday"})
    assert garbage.status_code == 422


def test_the_dashboard_runs_the_same_queries_for_little_and_more_data(
    browser: TestClient,
    principals: Principals,
    story: Story,
    engine: Engine,
    session_factory: sessionmaker[Session],
) -> None:
    login(browser, principals.manager)

    def queries() -> int:
        with counting_queries(engine) as statements:
            assert browser.get("/journeys").status_code == 200
        return len(statements)

    little = queries()
    for n in range(5):
        order(
            browser, principals, f"W-{10 + n}", f"p{n}@example.it", START - n * 9 * DAY,
            "BIKE-GLOVE-L", "24.50", channel="web", fulfilment="pickup", store="TO-CENTRO",
        )  # fmt: skip
    with transaction(session_factory) as session:
        journeys_service.rebuild(session)
    more = queries()
    assert more == little
    assert more <= 15, more  # SQLite counts its BEGIN too


# -- CSV downloads are the API's numbers ----------------------------------------------------------


def _api(client: TestClient, principals: Principals, path: str, query: dict[str, str]) -> Any:
    response = client.get(path, params=query, headers=principals.owner.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _flatten(prefix: str, value: Any) -> Iterator[list[str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else key, inner)
    else:
        yield [prefix, _cell(value)]


def _api_items(
    client: TestClient, principals: Principals, query: dict[str, str]
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = _api(
            client,
            principals,
            "/api/v1/journeys",
            {**query, "limit": "1", **({"cursor": cursor} if cursor else {})},
        )
        items.extend(page["items"])
        cursor = page["next"]
        if not cursor:
            return items


def expected_csv(
    client: TestClient, principals: Principals, dataset: str, query: dict[str, str]
) -> list[list[str]]:
    """What the API says for the same query string, as CSV rows."""
    if dataset == "summary":
        summary = _api(client, principals, "/api/v1/journeys", {**query, "limit": "1"})["summary"]
        return [["metric", "value"], *_flatten("", summary)]
    if dataset == "journeys":
        items = _api_items(client, principals, query)
        header = [
            "kind",
            "customer_id",
            "sku",
            "online_at",
            "offline_at",
            "store",
            "order_id",
            "revenue",
            "currency",
        ]
        return [header, *([_cell(i[k]) for k in header] for i in items)]
    if dataset == "weekly":
        counts: dict[tuple[str, str], int] = defaultdict(int)
        revenue: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for i in _api_items(client, principals, query):
            bought = i["offline_at"] if i["kind"] == "ropo" else i["online_at"]
            day = datetime.fromisoformat(bought.replace("Z", "+00:00")).astimezone(UTC).date()
            key = ((day - timedelta(days=day.weekday())).isoformat(), i["kind"])
            counts[key] += 1
            revenue[key] += Decimal(i["revenue"])
        return [
            ["week", "kind", "journeys", "revenue"],
            *([w, k, str(counts[(w, k)]), str(revenue[(w, k)])] for w, k in sorted(counts)),
        ]
    path, extra = {
        "attribution": ("/api/v1/journeys/attribution", {}),
        "channel-mix": ("/api/v1/journeys/channel-mix", {}),
        "top-ropo": ("/api/v1/journeys/top-products", {"kind": "ropo"}),
        "top-showrooming": ("/api/v1/journeys/top-products", {"kind": "showrooming"}),
    }[dataset]
    rows = _api(client, principals, path, {**query, **extra})
    header = {
        "attribution": ["week", "store", "category", "ropo_revenue", "store_revenue", "share"],
        "channel-mix": ["week", "online", "offline", "online_share"],
    }.get(dataset, ["sku", "name", "journeys", "revenue"])
    return [header, *([_cell(r[k]) for k in header] for r in rows)]


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"store": "MI-BRERA"},
        {"kind": "showrooming"},
        {"period": "4w"},
        {"store": "TO-CENTRO", "period": "26w"},
    ],
    ids=["default", "milan", "showrooming", "4-weeks", "turin-26-weeks"],
)
def test_every_csv_download_equals_the_api_for_the_same_filters(
    browser: TestClient, principals: Principals, story: Story, filters: dict[str, str]
) -> None:
    login(browser, principals.manager)
    links = export_links(browser.get("/journeys", params=filters).text)
    assert set(links) == set(DATASETS)
    for dataset, href in links.items():
        query = dict(parse_qsl(urlsplit(href).query))
        assert query["from"] <= "2026-11-16" and query["to"] == "2026-11-21", query
        assert query.get("store") == filters.get("store"), query
        got = read_csv(browser, href)
        assert got == expected_csv(browser, principals, dataset, query), dataset
        if not filters:
            assert len(got) > 1, f"{dataset} has no rows: the comparison proves little"


def test_the_csv_has_the_known_rows(
    browser: TestClient, principals: Principals, story: Story
) -> None:
    login(browser, principals.owner)
    query = "?from=2026-11-01&to=2026-11-21"
    top = read_csv(browser, f"/journeys/export/top-ropo.csv{query}")
    assert top == [
        ["sku", "name", "journeys", "revenue"],
        ["BIKE-HELM-M-BLU", "Casco urbano blu M", "1", "89.90"],
    ]
    journeys = read_csv(browser, f"/journeys/export/journeys.csv{query}&kind=click_and_collect")
    assert [row[0] for row in journeys[1:]] == ["click_and_collect"]
    assert journeys[1][6] == story.pickup_order
    summary = dict(read_csv(browser, f"/journeys/export/summary.csv{query}")[1:])
    assert summary["by_kind.ropo.revenue"] == "89.90"
    assert summary["store_revenue"] == "116.90"
    assert browser.get(f"/journeys/export/nothing.csv{query}").status_code == 404
    assert browser.get("/journeys/export/summary.csv?from=yesterday").status_code == 422
    assert browser.get("/journeys/export/summary.csv?store=NOWHERE").status_code == 404


def test_a_text_cell_that_looks_like_a_formula_is_quoted() -> None:
    from phygital.journeys.views import csv_text

    text = csv_text(["sku", "revenue"], [["=HYPERLINK(1)", "-5.00"], ["@x", None]])
    assert text.splitlines() == ["\ufeffsku,revenue", "'=HYPERLINK(1),-5.00", "'@x,"]


# -- the rules panel -----------------------------------------------------------------------------


def test_the_owner_changes_the_rules_through_the_form(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    login(browser, principals.owner)
    page = browser.get("/journeys").text
    assert "30 giorni tra ricerca e acquisto" in page
    token = csrf_from(page)
    saved = browser.post(
        "/journeys/rules",
        data={
            "window_days": "45",
            "online_events": "Product Viewed\nProduct Added",
            "offline_events": "",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/journeys#rules"
    after = browser.get("/journeys").text
    assert "45 giorni tra ricerca e acquisto" in after
    assert "phygital journeys rebuild" in after
    assert "Product Added, Product Viewed" in after
    rules = journeys_service.get_rules(db)
    db.rollback()  # SQLite: do not hold the database while the app writes
    assert rules.window.days == 45 and rules.online_events == {"Product Viewed", "Product Added"}

    wrong = browser.post("/journeys/rules", data={"window_days": "0", "csrf_token": token})
    assert wrong.status_code == 422
    assert "numero di giorni da 1 a 365" in wrong.text
    assert browser.post("/journeys/rules", data={"window_days": "20"}).status_code == 403  # no CSRF
    assert journeys_service.get_rules(db).window.days == 45


# -- Plotly, served from the installed package ----------------------------------------------------


def test_plotly_is_served_from_the_package_with_long_caching(client: TestClient) -> None:
    plain = client.get("/static/vendor/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/javascript")
    assert "immutable" in plain.headers["cache-control"]
    assert "max-age=31536000" in plain.headers["cache-control"]
    assert len(plain.content) > 1_000_000
    assert b"plotly" in plain.content[:2000].lower()
    zipped = client.get("/static/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # the client unzips it
    again = client.get(
        "/static/vendor/plotly.min.js", headers={"If-None-Match": plain.headers["etag"]}
    )
    assert again.status_code == 304


# -- the customer page ---------------------------------------------------------------------------


def test_the_customer_page_shows_the_journeys_and_what_was_looked_at_online(
    browser: TestClient, principals: Principals, story: Story
) -> None:
    login(browser, principals.seller_a)  # a seller at the counter
    page = browser.get(f"/customers/{story.giulia}").text
    research_part = page.split('id="research"')[1].split("</section>")[0]
    assert "Ha guardato Borraccia termica 750 ml online 2 giorni fa" in html.unescape(research_part)
    assert "Casco" not in research_part  # bought since: nothing to mention
    journeys_part = page.split('id="journeys"')[1].split("</section>")[0]
    assert "ROPO" in journeys_part and "Casco urbano blu M" in journeys_part
    assert f'href="/orders/{story.ropo_order}"' in journeys_part
    assert "Milano Brera" in journeys_part

    anna = browser.get(f"/customers/{story.anna}").text
    assert 'id="research"' not in anna
    assert f'href="/orders/{story.pickup_order}"' in anna
    anna_journeys = html.unescape(anna.split('id="journeys"')[1].split("</section>")[0])
    assert "Click & collect" in anna_journeys and "Guanti L" in anna_journeys

    browser.post("/lang", data={"lang": "en", "next": "/", "csrf_token": csrf_from(page)})
    english = html.unescape(browser.get(f"/customers/{story.giulia}").text)
    assert "Looked at Borraccia termica 750 ml online 2 days ago" in english


# -- the research query --------------------------------------------------------------------------


def customer_of(session: Session, who: str) -> Customer:
    user_id = who if who.startswith("a-") else f"u-{who}"
    [found], _ = identity_service.search(session, region="IT", user_id=user_id)
    return found


def test_recent_research_is_one_query_for_many_customers(
    client: TestClient,
    principals: Principals,
    shop: dict[str, Any],  # noqa: F811
    session_factory: sessionmaker[Session],
    engine: Engine,
) -> None:
    with transaction(session_factory) as session:
        web = tracking_service.create_source(session, name="Sito", channel=Channel.WEB).write_key
        app = tracking_service.create_source(session, name="App", channel=Channel.APP).write_key
        till = tracking_service.create_source(
            session, name="Casse", channel=Channel.STORE
        ).write_key
    skus = ["BIKE-HELM-M-BLU", "BIKE-LIGHT-USB", "BIKE-GLOVE-L", "BOTTLE-TERM-750"]
    # Ada looked at four products (the oldest twice) on the web and at one of them again in the
    # app, as another profile; Bea looked at one 40 days ago (too old) and one she bought on the
    # web since; Cleo met one in a store only (not online); Dora looked at the gloves.
    send(
        client,
        web,
        *(
            track("u-ada", "Product Viewed", START - (n + 1) * DAY, sku)
            for n, sku in enumerate(skus)
        ),
        track("u-ada", "Product Viewed", START - 9 * DAY, skus[3]),
        track("u-bea", "Product Viewed", START - 40 * DAY, skus[0]),
        track("u-bea", "Product Viewed", START - 5 * DAY, skus[1]),
        track("u-dora", "Product Viewed", START - 5 * DAY, skus[2]),
        track("u-ada", "Product Viewed", START + DAY, skus[0]),  # a clock ahead: not yet
    )
    send(client, app, track("a-ada", "Product Viewed", START - DAY / 2, skus[2]))
    send(client, till, track("u-cleo", "Product Tried", START - DAY, skus[0], store="MI-BRERA"))
    send(client, web, identify("u-bea", "bea@example.it", START - 50 * DAY))
    order(
        client,
        principals,
        "W-9",
        "bea@example.it",
        START - 4 * DAY,
        skus[1],
        "40.00",
        channel="web",
    )

    with session_factory() as session:
        customers = {
            who: customer_of(session, who) for who in ("ada", "a-ada", "bea", "cleo", "dora")
        }
        ada, bea, cleo, dora = (customers[who].id for who in ("ada", "bea", "cleo", "dora"))
        members = {c.id: c.member_ids for who, c in customers.items() if who != "a-ada"}
        # Ada's app profile counted as hers: the caller says who belongs to whom.
        members[ada] = [*members[ada], *customers["a-ada"].member_ids]
        with counting_queries(engine) as statements:
            found = research.recent_research(session, members, now=START)
        assert research.recent_research(session, {}, now=START) == {}
    assert len(statements) == 1
    assert [(r.sku, r.channel) for r in found[ada]] == [
        ("BIKE-GLOVE-L", "app"),  # seen in the app half a day ago, on the web 3 days ago
        ("BIKE-HELM-M-BLU", "web"),
        ("BIKE-LIGHT-USB", "web"),
    ]
    assert found[ada][0].name == "Guanti L"
    assert found[ada][0].at == START - DAY / 2
    assert found[bea] == []  # too old, and bought since
    assert found[cleo] == []  # in a store: not online research
    assert [r.sku for r in found[dora]] == ["BIKE-GLOVE-L"]  # nobody else's purchase hides it


def test_research_bought_by_another_customer_still_counts(
    client: TestClient,
    principals: Principals,
    shop: dict[str, Any],  # noqa: F811
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        web = tracking_service.create_source(session, name="Sito", channel=Channel.WEB).write_key
    send(
        client,
        web,
        identify("u-eva", "eva@example.it", START - 9 * DAY),
        track("u-eva", "Product Viewed", START - 3 * DAY, "BIKE-HELM-M-BLU"),
        track("u-fede", "Product Viewed", START - 3 * DAY, "BIKE-HELM-M-BLU"),
    )
    order(
        client,
        principals,
        "S-9",
        "eva@example.it",
        START - DAY,
        "BIKE-HELM-M-BLU",
        "89.90",
        channel="store",
        store="MI-BRERA",
    )
    with session_factory() as session:
        roots = {who: customer_of(session, who).id for who in ("eva", "fede")}
        members = identity_service.member_ids_of(session, roots.values())
        found = research.recent_research(session, members, now=START)
        alone = research.recent_research(
            session, {roots["fede"]: members[roots["fede"]]}, now=START
        )
    assert found[roots["eva"]] == []
    assert [r.sku for r in found[roots["fede"]]] == ["BIKE-HELM-M-BLU"]
    assert [r.sku for r in alone[roots["fede"]]] == ["BIKE-HELM-M-BLU"]


def test_week_labels_span_years_with_the_year() -> None:
    from phygital.journeys.dashboard import resolve_period

    period = resolve_period("custom", "2025-12-20", "2026-01-10", today=date(2026, 11, 20))
    assert period.weeks()[0] == date(2025, 12, 15)
    assert period.query() == {"from": "2025-12-20", "to": "2026-01-11"}
    assert resolve_period("4w", "", "", today=date(2026, 11, 20)).query() == {
        "from": "2026-10-26",
        "to": "2026-11-21",
    }
