"""phygital.js in a real browser, on a shop served from another origin than Phygital's: the page
views, the product clicked, the e-mail given, all sent on page hide and joined to one customer."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.e2e.server import LiveServer, create_token

pytestmark = pytest.mark.e2e

PageFactory = Callable[..., Page]  # the `new_page` fixture

SKU = "BIKE-HELM-M-BLU"
EMAIL = "giulia.bianchi@example.com"

# analytics.js-style stub: calls made before phygital.js arrives are queued, then replayed.
STUB = """<script>
!function(){var p=window.phygital=window.phygital||[];if(p.VERSION)return;
["load","page","track","identify","alias","reset"].forEach(function(m){
p[m]=p[m]||function(){p.push([m].concat([].slice.call(arguments)))}})}();
</script>"""
HEAD = '<link rel="icon" href="data:,">' + STUB  # no favicon request: no 404 in the console


def home_page(phygital: str, write_key: str) -> str:
    """The one-line install (host taken from the script's own URL), plus a queued stub call."""
    return f"""<!doctype html><html><head><title>Velo shop</title>{HEAD}
<script>phygital.track("Newsletter Shown", {{"placement": "footer"}});</script>
<script src="{phygital}/js/phygital.js" data-write-key="{write_key}" async></script>
</head><body><h1>Velo shop</h1><a href="/helmet.html">Helmet</a></body></html>"""


def product_page(phygital: str, write_key: str) -> str:
    """A product page loaded by hand; a long flush interval leaves only page hide to send."""
    return f"""<!doctype html><html><head><title>Helmet M blue</title>{HEAD}
<script>phygital.load("{write_key}", {{"host": "{phygital}", "flushInterval": 600000}});</script>
<script src="{phygital}/js/phygital.js" async></script>
</head><body><main data-sku="{SKU}"><h1>Helmet M blue</h1>
<button type="button" data-track="Product Added" data-sku="{SKU}">Add to cart</button>
</main></body></html>"""


class Shop:
    """A tiny web shop on its own port: another origin than Phygital's."""

    def __init__(self, pages: dict[str, str]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Shop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def api(live_server: LiveServer) -> Iterator[httpx.Client]:
    token = create_token(live_server, "snippet-e2e", role="admin")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def write_key(api: httpx.Client) -> str:
    source = api.post("/api/v1/sources", json={"name": "Velo web shop", "channel": "web"})
    assert source.status_code == 201, source.text
    return str(source.json()["write_key"])


def customers(api: httpx.Client, wait: float = 10.0, **search: str) -> list[dict[str, Any]]:
    """The customers found by `GET /api/v1/customers?search`, waiting up to `wait` s for one."""
    deadline = time.monotonic() + wait
    while True:
        items: list[dict[str, Any]] = api.get("/api/v1/customers", params=search).json()["items"]
        if items or time.monotonic() >= deadline:
            return items
        time.sleep(0.2)


def test_shop_on_another_origin_sends_views_clicks_and_identity_to_one_customer(
    new_page: PageFactory, live_server: LiveServer, api: httpx.Client, write_key: str
) -> None:
    pages = {
        "/index.html": home_page(live_server.url, write_key),
        "/helmet.html": product_page(live_server.url, write_key),
    }
    with Shop(pages) as shop:
        assert shop.url != live_server.url
        page = new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on(
            "console",
            lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None,
        )
        loaded = "window.phygital && window.phygital.VERSION"

        page.goto(f"{shop.url}/index.html")
        page.wait_for_function(loaded)
        first_id = page.evaluate("phygital.anonymousId()")
        assert len(first_id) == 36

        page.get_by_role("link", name="Helmet").click()  # leaving: the home page's beacon
        page.wait_for_url(f"{shop.url}/helmet.html")
        page.wait_for_function(loaded)
        assert page.evaluate("phygital.anonymousId()") == first_id
        cookies = {c["name"]: c for c in page.context.cookies(shop.url)}
        assert cookies["phg_aid"]["value"] == first_id
        assert cookies["phg_aid"]["sameSite"] == "Lax"
        assert cookies["phg_aid"]["expires"] > time.time() + 360 * 24 * 3600

        page.get_by_role("button", name="Add to cart").click()
        page.evaluate(f"phygital.identify({{email: '{EMAIL}', firstName: 'Giulia'}})")
        time.sleep(0.5)
        assert customers(api, wait=0, email=EMAIL) == []  # queued until the page hides

        page.goto("about:blank")  # pagehide: sendBeacon
        found = customers(api, email=EMAIL)
        assert problems == []

    assert len(found) == 1, found
    customer_id = found[0]["id"]
    by_anonymous_id = customers(api, wait=0, identifier=f"anonymous_id:{first_id}")
    assert [c["id"] for c in by_anonymous_id] == [customer_id]

    customer = api.get(f"/api/v1/customers/{customer_id}").json()
    identifiers = {(i["kind"], i["value"]) for i in customer["identifiers"]}
    assert ("email", EMAIL) in identifiers
    assert [v for k, v in identifiers if k == "anonymous_id"] == [first_id]

    events = api.get(f"/api/v1/customers/{customer_id}/export").json()["events"]
    seen = {(e["type"], e["name"], e["sku"], e["properties"].get("path")) for e in events}
    assert seen == {
        ("page", None, None, "/index.html"),
        ("track", "Newsletter Shown", None, None),  # called before the script had loaded
        ("page", None, SKU, "/helmet.html"),
        ("track", "Product Added", SKU, None),
        ("identify", None, None, None),
    }
    assert all(e["channel"] == "web" for e in events)
    for event in events:
        context = event["context"]
        assert context["library"]["name"] == "phygital.js"
        assert context["page"]["url"].startswith(shop.url)
        assert context["userAgent"]
        assert context["locale"] == "it-IT"


# -- the snippet's own behaviour, against a stand-in collector ------------------------------------

COLLECTOR = "http://collector.test"


class Collector:
    """Answers the snippet's /v1/batch requests in the browser itself and keeps what it got."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.statuses: list[int] = []  # answers to give, in order; then 200
        page.route(f"{COLLECTOR}/v1/batch", self._answer)

    def _answer(self, route: Any) -> None:
        request = route.request
        self.requests.append((request.headers, request.post_data_json))
        status = self.statuses.pop(0) if self.statuses else 200
        route.fulfill(
            status=status,
            headers={"Access-Control-Allow-Origin": "*"},
            content_type="application/json",
            body='{"success": true}' if status == 200 else '{"detail": "busy"}',
        )

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The messages of the first `count` requests, once that many have arrived."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            self.page.wait_for_timeout(50)
        assert len(self.requests) >= count, f"{len(self.requests)} requests, wanted {count}"
        return [m for _, body in self.requests[:count] for m in body["batch"]]


def list_page(phygital: str) -> str:
    """A list of two products (not one product's page), no automatic page view."""
    return f"""<!doctype html><html><head><title>Helmets</title>{HEAD}
<script src="{phygital}/js/phygital.js" data-write-key="wk_unit" data-host="{COLLECTOR}"
  data-auto-page="false" async></script>
</head><body><ul><li data-sku="HELM-S">Helmet S</li><li data-sku="HELM-M">Helmet M</li></ul>
</body></html>"""


@pytest.fixture
def list_shop(live_server: LiveServer) -> Iterator[Shop]:
    with Shop({"/list.html": list_page(live_server.url)}) as shop:
        yield shop


@pytest.fixture
def snippet_page(new_page: PageFactory, list_shop: Shop) -> tuple[Page, Collector]:
    page = new_page()
    collector = Collector(page)
    page.goto(f"{list_shop.url}/list.html")
    page.wait_for_function("window.phygital && window.phygital.VERSION")
    return page, collector


def test_snippet_sends_text_plain_batches_of_at_most_twenty(
    snippet_page: tuple[Page, Collector],
) -> None:
    page, collector = snippet_page
    page.evaluate(
        """() => {
            for (let i = 0; i < 25; i++) phygital.track("Step " + i, {i: i});
            phygital.page("Helmets");
            phygital.flush();
        }"""
    )
    messages = collector.wait_for(2)
    first, second = (body for _, body in collector.requests[:2])
    assert [len(first["batch"]), len(second["batch"])] == [20, 6]
    for headers, body in collector.requests:
        assert headers["content-type"].startswith("text/plain")
        assert "authorization" not in headers
        assert body["writeKey"] == "wk_unit"
        assert body["sentAt"]
    # No automatic page view (data-auto-page="false"); a list of products names no sku.
    assert [m["type"] for m in messages] == ["track"] * 25 + ["page"]
    assert messages[-1]["name"] == "Helmets"
    assert "sku" not in messages[-1]["properties"]
    assert messages[-1]["properties"]["path"] == "/list.html"
    assert len({m["messageId"] for m in messages}) == 26
    assert len({m["anonymousId"] for m in messages}) == 1
    assert all(m["originalTimestamp"] and m["context"]["page"]["title"] for m in messages)


def test_snippet_sends_a_refused_batch_again_with_the_same_message_ids(
    snippet_page: tuple[Page, Collector],
) -> None:
    page, collector = snippet_page
    collector.statuses = [503]
    page.evaluate("phygital.track('Store Locator Opened'); phygital.flush()")
    refused, retried = collector.wait_for(2)
    assert refused["messageId"] == retried["messageId"]
    assert retried["event"] == "Store Locator Opened"


def test_identify_keeps_the_user_id_alias_joins_it_and_reset_forgets_the_person(
    snippet_page: tuple[Page, Collector], list_shop: Shop
) -> None:
    page, collector = snippet_page
    anonymous_id = page.evaluate("phygital.anonymousId()")
    page.evaluate("phygital.identify('u-1', {plan: 'gold'})")
    assert page.evaluate("[phygital.userId(), localStorage.getItem('phg_uid')]") == ["u-1", "u-1"]
    cookies = {c["name"]: c["value"] for c in page.context.cookies(list_shop.url)}
    assert cookies["phg_uid"] == "u-1"

    page.evaluate("phygital.alias('u-2'); phygital.reset(); phygital.track('After Logout')")
    assert page.evaluate("phygital.userId()") is None
    assert page.evaluate("phygital.anonymousId()") != anonymous_id
    assert "phg_uid" not in {c["name"] for c in page.context.cookies(list_shop.url)}

    page.evaluate("phygital.flush()")
    identify, alias, after = collector.wait_for(1)
    assert (identify["userId"], identify["anonymousId"]) == ("u-1", anonymous_id)
    assert identify["traits"] == {"plan": "gold"}
    assert (alias["type"], alias["userId"], alias["previousId"]) == ("alias", "u-2", "u-1")
    assert "userId" not in after
    assert after["anonymousId"] not in (anonymous_id, None)


def test_page_hide_without_send_beacon_sends_with_keepalive_fetch(
    new_page: PageFactory, live_server: LiveServer, api: httpx.Client, write_key: str
) -> None:
    page = new_page()
    page.add_init_script("delete Navigator.prototype.sendBeacon")
    with Shop({"/helmet.html": product_page(live_server.url, write_key)}) as shop:
        page.goto(f"{shop.url}/helmet.html")
        page.wait_for_function("window.phygital && window.phygital.VERSION")
        assert page.evaluate("typeof navigator.sendBeacon") == "undefined"
        anonymous_id = page.evaluate("phygital.anonymousId()")
        page.get_by_role("button", name="Add to cart").click()
        page.goto("about:blank")

        found = customers(api, identifier=f"anonymous_id:{anonymous_id}")
    assert len(found) == 1, "nothing arrived"
    events = api.get(f"/api/v1/customers/{found[0]['id']}/export").json()["events"]
    assert {(e["type"], e["sku"]) for e in events} == {("page", SKU), ("track", SKU)}


def test_anonymous_id_is_a_uuid_v4_without_crypto_random_uuid(
    new_page: PageFactory, list_shop: Shop
) -> None:
    # Pages served over plain http from a public host are not secure contexts: no randomUUID.
    page = new_page()
    page.add_init_script("delete Crypto.prototype.randomUUID")
    page.goto(f"{list_shop.url}/list.html")
    page.wait_for_function("window.phygital && window.phygital.VERSION")
    assert page.evaluate("typeof crypto.randomUUID") == "undefined"
    anonymous_id = page.evaluate("phygital.anonymousId()")
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", anonymous_id
    )
