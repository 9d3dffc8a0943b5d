"""Commerce pages: the pickup desk, orders, store settings and the catalogue, through the forms."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from phygital.commerce import orders as order_service
from phygital.commerce import service as commerce_service
from phygital.commerce import suggestions
from phygital.commerce.models import Notification, OrderOrigin, Stock, StoreException
from phygital.commerce.schemas import OrderCreate, ProductCreate
from phygital.commerce.views.stores import ShiftError, parse_shifts
from phygital.core.clock import FrozenClock
from phygital.privacy import service as privacy
from phygital.tracking import service as tracking_service
from phygital.tracking.models import Channel
from tests.conftest import Principals, counting_queries, csrf_from, login

HTML = {"Accept": "text/html"}
# START (conftest) is Friday 20 November 2026, 10:00 in Milan; the test stores open on Mondays
# 09:00-13:00 and 15:00-19:00, so a pickup placed this week is promised for Monday 23rd.
LAST_MONDAY = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)  # 08:00 in Milan, before opening


@pytest.fixture
def browser(client: TestClient) -> TestClient:
    client.headers.update(HTML)
    return client


def add_product(db: Session, sku: str, name: str, price: str = "10.00", **extra: Any) -> None:
    commerce_service.create_product(
        db, data=ProductCreate(sku=sku, name=name, price=Decimal(price), **extra)
    )


def place(
    db: Session,
    clock: FrozenClock,
    external_id: str,
    *,
    store: str | None = "A",
    skus: tuple[str, ...] = ("BIKE",),
    email: str | None = None,
    name: str | None = None,
    user_id: str | None = None,
    placed_at: datetime | None = None,
    fulfilment: str = "pickup",
    channel: str = "web",
    label: str | None = None,
    commit: bool = True,
) -> str:
    identifiers = [
        {"kind": kind, "value": value}
        for kind, value in (("email", email), ("user_id", user_id))
        if value
    ]
    order = OrderCreate.model_validate(
        {
            "external_id": external_id,
            "channel": channel,
            "placed_at": (placed_at or clock.now()).isoformat(),
            "customer": {"traits": {"name": name} if name else {}, "identifiers": identifiers},
            "fulfilment": fulfilment,
            "store": store,
            "lines": [{"sku": sku, "quantity": 1, "unit_price": "10.00"} for sku in skus],
            "label": label,
        }
    )
    saved = order_service.save_orders(
        db, clock=clock, region="IT", origin=OrderOrigin.API, items=[order]
    )
    if commit:
        db.commit()
    return saved[0].order_id


def basket_history(db: Session, clock: FrozenClock) -> None:
    """Past in-store sales that make helmets and locks go with bikes."""
    for n in range(3):
        place(
            db,
            clock,
            f"past-{n}",
            skus=("BIKE", "HELMET"),
            fulfilment="in_store",
            channel="store",
            placed_at=LAST_MONDAY - timedelta(days=20),
            commit=False,
        )
    place(
        db,
        clock,
        "past-lock",
        skus=("BIKE", "LOCK"),
        fulfilment="in_store",
        channel="store",
        placed_at=LAST_MONDAY - timedelta(days=20),
        commit=False,
    )
    db.commit()


def catalogue(db: Session) -> None:
    add_product(db, "BIKE", "E-bike Urbana")
    add_product(db, "HELMET", "Casco urbano blu")
    add_product(db, "LOCK", "Lucchetto ad arco")
    add_product(db, "LIGHTS", "Set luci USB")
    db.commit()


def product_views(client: TestClient, db: Session, user_id: str, skus: list[str]) -> None:
    source = tracking_service.create_source(db, name=f"Site {user_id}", channel=Channel.WEB)
    db.commit()
    batch = [
        {
            "type": "track",
            "event": "Product Viewed",
            "userId": user_id,
            "properties": {"sku": sku},
            "timestamp": f"2026-11-1{n}T10:00:00Z",
        }
        for n, sku in enumerate(skus)
    ]
    response = client.post(
        "/v1/batch", json={"batch": batch}, auth=(source.write_key, ""), headers={"Accept": "*/*"}
    )
    assert response.status_code == 200, response.text


def card(html: str, label: str) -> str:
    """The HTML of one pickup card on the desk."""
    match = re.search(
        rf'<li class="pickup card[^"]*"[^>]*data-order="{re.escape(label)}">'
        r'.*?</li>\s*(?=<li class="pickup|</ol>)',
        html,
        re.S,
    )
    assert match, f"no card {label}"
    return match.group(0)


def section(html: str, state: str) -> str:
    match = re.search(rf'<section class="desk-section section-{state}".*?</section>', html, re.S)
    assert match, state
    return match.group(0)


def post_form(
    client: TestClient, page: str, action: str, data: dict[str, str] | None = None, **kwargs: Any
) -> Any:
    token = csrf_from(client.get(page).text)
    return client.post(action, data={"csrf_token": token, **(data or {})}, **kwargs)


# --- the pickup desk -----------------------------------------------------------------------


def test_desk_shows_sections_with_counts_and_the_most_urgent_first(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    place(
        db,
        clock,
        "late",
        label="#1001",
        email="late@example.com",
        name="Lucia Ritardo",
        placed_at=LAST_MONDAY,
    )
    place(db, clock, "soon", label="#1002", email="soon@example.com", name="Sara Presto")
    monday_noon = datetime(2026, 11, 23, 11, 30, tzinfo=UTC)  # promised 15:30, after lunch
    later = place(db, clock, "later", label="#1003", placed_at=monday_noon)
    ready = place(db, clock, "ready", label="#1004", email="pronto@example.com")
    order_service.mark_ready(db, clock=clock, order=order_service.get_order(db, ready))
    db.commit()
    login(browser, principals.seller_a)
    page = browser.get("/pickups")
    assert page.status_code == 200
    html = page.text
    assert re.search(r'<a href="/pickups" aria-current="page">Ritiri</a>', html)
    assert "Store A" in html
    overdue, awaiting, ready_part = (section(html, s) for s in ("overdue", "awaiting", "ready"))
    assert "#1001" in overdue and "Lucia Ritardo" in overdue
    assert "Promesso per lun 16 nov, 10:00: in ritardo di 4 giorni" in overdue
    assert awaiting.index("#1002") < awaiting.index("#1003")
    assert "Pronto entro lun 23 nov, 10:00" in awaiting
    assert "Pronto entro lun 23 nov, 15:30" in awaiting
    assert "#1004" in ready_part and "Pronto da oggi, 10:00" in ready_part
    counts = re.findall(r'class="count-(\w+)"><strong>(\d+)</strong>', html)
    assert counts == [("overdue", "1"), ("awaiting", "2"), ("ready", "1")]
    # Awaiting cards have both buttons; a ready one only "collected".
    assert f'action="/pickups/{later}/ready"' in awaiting
    assert f'action="/pickups/{later}/collected"' in awaiting
    assert f'action="/pickups/{ready}/ready"' not in ready_part
    assert f'action="/pickups/{ready}/collected"' in ready_part


def test_card_shows_customer_lines_online_research_and_suggestions(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    basket_history(db, clock)
    order_id = place(
        db,
        clock,
        "web-77",
        label="#77",
        skus=("BIKE",),
        email="mario@example.com",
        name="Mario Rossi",
        user_id="u-77",
    )
    product_views(browser, db, "u-77", ["LIGHTS", "BIKE", "LIGHTS"])
    login(browser, principals.seller_a)
    html = card(browser.get("/pickups").text, "#77")
    customer = order_service.read_models(
        db, [order_service.get_order(db, order_id)], now=clock.now()
    )[0].customer_id
    assert f'href="/customers/{customer}">Mario Rossi</a>' in html
    assert '1×</span> <span class="line-name">E-bike Urbana' in html
    research = html[html.index("Visti online") : html.index("Da proporre")]
    # The newest first, each product once, with its views; what they then ordered is marked.
    assert research.index("Set luci USB") < research.index("E-bike Urbana")
    assert "2 visualizzazioni" in research and "ordinato" in research
    suggest = html[html.index("Da proporre") :]
    assert suggest.index("Casco urbano blu") < suggest.index("Lucchetto ad arco")
    assert "E-bike Urbana" not in suggest  # never what is already in the order


def test_seller_sees_only_their_store_and_other_stores_are_404(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    place(db, clock, "a-1", label="#A1")
    b_order = place(db, clock, "b-1", store="B", label="#B1")
    login(browser, principals.seller_a)
    html = browser.get("/pickups").text
    assert "#A1" in html and "#B1" not in html
    assert 'name="store"' not in html  # no store picker for a seller
    assert browser.get("/pickups", params={"store": "B"}).status_code == 404
    assert browser.get(f"/orders/{b_order}").status_code == 404
    assert "#B1" not in browser.get("/orders").text
    assert browser.get("/orders", params={"store": "B"}).status_code == 404
    response = post_form(browser, "/pickups", f"/pickups/{b_order}/ready")
    assert response.status_code == 404
    db.rollback()  # a fresh look (and no lock held on SQLite)
    assert order_service.get_order(db, b_order).status == "awaiting"


def test_manager_picks_the_store_the_first_by_default(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    place(db, clock, "a-1", label="#A1")
    place(db, clock, "b-1", store="B", label="#B1")
    login(browser, principals.manager)
    first = browser.get("/pickups").text
    assert "#A1" in first and "#B1" not in first
    assert re.search(r'<option value="A" selected>Store A</option>', first)
    other = browser.get("/pickups", params={"store": "B"}).text
    assert "#B1" in other and "#A1" not in other
    assert browser.get("/pickups", params={"store": "NOPE"}).status_code == 404


def test_ready_then_collected_through_the_desk_forms(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    order_id = place(db, clock, "web-9", label="#9", email="anna@example.com", name="Anna")
    login(browser, principals.seller_a)
    done = post_form(
        browser,
        "/pickups",
        f"/pickups/{order_id}/ready",
        {"next": "/pickups?store=A"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/pickups?store=A"
    desk = browser.get(done.headers["location"]).text
    assert "Ordine #9 pronto: il cliente viene avvisato." in desk
    assert "#9" in section(desk, "ready") and "#9" not in section(desk, "awaiting")
    db.rollback()  # a fresh look (and no lock held on SQLite)
    order = order_service.get_order(db, order_id)
    assert order.status == "ready" and order.ready_at == clock.now()
    assert db.scalar(select(Notification.kind).where(Notification.order_id == order_id))
    db.rollback()

    clock.advance(timedelta(minutes=20))
    done = post_form(browser, "/pickups", f"/pickups/{order_id}/collected", {"next": "/pickups"})
    assert done.status_code == 200
    assert "Ordine #9 ritirato." in done.text
    assert "#9" not in done.text.split("Ordine #9 ritirato.")[1]
    db.rollback()  # a fresh look (and no lock held on SQLite)
    assert order_service.get_order(db, order_id).status == "collected"
    stock = db.get(Stock, (principals.store_a_id, "BIKE"))
    assert stock is not None and (stock.on_hand, stock.reserved) == (-1, 0)
    db.rollback()
    # The same tap again changes nothing and says all is well.
    again = post_form(browser, "/pickups", f"/pickups/{order_id}/collected")
    assert again.status_code == 200 and "ritirato" in again.text


def test_a_tap_on_an_order_that_moved_on_explains_instead_of_failing(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    order_id = place(db, clock, "web-5", label="#5")
    order_service.cancel(db, clock=clock, order=order_service.get_order(db, order_id))
    db.commit()
    login(browser, principals.seller_a)
    page = post_form(browser, "/pickups", f"/pickups/{order_id}/ready")
    assert page.status_code == 200
    assert "Ordine #5 non modificato: è annullato." in page.text
    assert 'class="alert" role="alert"' in page.text


def test_state_changes_need_the_csrf_token_and_a_login(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    order_id = place(db, clock, "web-1")
    anonymous = browser.post(f"/pickups/{order_id}/ready", follow_redirects=False)
    assert anonymous.status_code in (303, 403)
    login(browser, principals.seller_a)
    assert browser.post(f"/pickups/{order_id}/ready", data={"csrf_token": "x"}).status_code == 403
    # A return address elsewhere is ignored: back to the desk.
    out = post_form(
        browser,
        "/pickups",
        f"/pickups/{order_id}/ready",
        {"next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert out.headers["location"] == "/pickups?store=A"
    db.rollback()  # a fresh look (and no lock held on SQLite)
    assert order_service.get_order(db, order_id).status == "ready"


def test_show_more_pages_through_a_long_section(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    for n in range(33):
        place(
            db,
            clock,
            f"w-{n:02d}",
            label=f"#W{n:02d}",
            # Monday from 09:00 on, a minute apart: promised 10:00, 10:01, …
            placed_at=datetime(2026, 11, 23, 8, n, tzinfo=UTC),
            commit=False,
        )
    db.commit()
    login(browser, principals.seller_a)
    html = browser.get("/pickups").text
    awaiting = section(html, "awaiting")
    assert awaiting.count('class="pickup card') == 12
    assert '<span class="section-count">33</span>' in awaiting
    more = re.search(r'<a href="([^"]+)" rel="next">', awaiting)
    assert more
    rest = browser.get(more.group(1).replace("&amp;", "&")).text
    assert rest.count('class="pickup card') == 12
    assert "#W12" in rest and "#W23" in rest and "#W11" not in rest
    assert 'id="overdue"' not in rest  # one section at a time
    more = re.search(r'<a href="([^"]+)" rel="next">', rest)
    assert more
    rest = browser.get(more.group(1).replace("&amp;", "&")).text
    assert rest.count('class="pickup card') == 9
    assert "#W24" in rest and "#W32" in rest
    assert 'rel="next"' not in rest
    assert "L'intero banco" in rest
    broken = browser.get("/pickups", params={"state": "awaiting", "cursor": "garbage"})
    assert broken.status_code == 200 and "non è più valido" in broken.text


def test_desk_runs_the_same_queries_for_5_and_40_pickups(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock, engine: Engine
) -> None:
    catalogue(db)
    basket_history(db, clock)
    login(browser, principals.seller_a)

    def add(start: int, stop: int) -> None:
        """Pickups in every section, each customer with online research and a basket that
        has suggestions."""
        for n in range(start, stop):
            order_id = place(
                db,
                clock,
                f"o-{n}",
                label=f"#{n}",
                skus=("BIKE", "LOCK") if n % 2 else ("BIKE",),
                email=f"c{n}@example.com",
                name=f"Cliente {n}",
                user_id=f"u-{n}",
                placed_at=LAST_MONDAY if n % 3 == 0 else clock.now(),
            )
            if n % 3 == 1:
                order_service.mark_ready(
                    db, clock=clock, order=order_service.get_order(db, order_id)
                )
                db.commit()
            product_views(browser, db, f"u-{n}", ["LIGHTS", "HELMET"])

    def queries() -> int:
        with counting_queries(engine) as statements:
            page = browser.get("/pickups")
        assert page.status_code == 200
        return len(statements)

    add(0, 5)
    few = queries()
    add(5, 40)
    many = queries()
    html = browser.get("/pickups").text
    # Twelve cards per section (the most urgent), each with its research and suggestions.
    assert html.count('class="pickup card') == 36
    assert html.count("<h3>Visti online</h3>") == 36
    assert html.count("<h3>Da proporre al banco</h3>") == 36
    assert few == many, (few, many)
    # User, stores, counts, the three sections (one statement), lines, customers, research,
    # suggestions, product names (+ SQLite's BEGIN).
    assert many <= 10, many


def test_desk_speaks_english_too(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    place(db, clock, "w-1", label="#1", placed_at=LAST_MONDAY)
    place(db, clock, "w-2", label="#2")
    browser.cookies.set("lang", "en")
    login(browser, principals.seller_a)
    html = browser.get("/pickups").text
    assert "Promised for Mon, Nov 16, 10:00\u202fAM: 4 days late" in html
    assert "Ready by Mon, Nov 23, 10:00\u202fAM" in html
    assert "✓ Ready</button>" in html and "Collected</button>" in html


# --- orders --------------------------------------------------------------------------------


def test_order_list_filters_and_pages(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    for n in range(55):
        place(
            db,
            clock,
            f"s-{n:02d}",
            label=f"#S{n:02d}",
            fulfilment="in_store",
            channel="store",
            placed_at=LAST_MONDAY + timedelta(minutes=n),
            commit=False,
        )
    place(db, clock, "web-late", label="#LATE", placed_at=LAST_MONDAY, commit=False)
    place(db, clock, "deliv", label="#DEL", store=None, fulfilment="delivery", commit=False)
    db.commit()
    login(browser, principals.owner)
    first = browser.get("/orders").text
    assert first.count('class="order-row"') == 50
    assert first.index("#DEL") < first.index("#S54")  # newest first
    nxt = re.search(r'<a href="([^"]+)" rel="next"', first)
    assert nxt
    second = browser.get(nxt.group(1).replace("&amp;", "&")).text
    assert second.count('class="order-row"') == 7
    overdue = browser.get("/orders", params={"status": "overdue"}).text
    assert overdue.count('class="order-row"') == 1 and "#LATE" in overdue
    web = browser.get("/orders", params={"channel": "web"}).text
    assert web.count('class="order-row"') == 2
    store_b = browser.get("/orders", params={"store": "B"}).text
    assert store_b.count('class="order-row"') == 0 and "Nessun ordine" in store_b
    assert browser.get("/orders", params={"cursor": "nonsense"}).status_code == 200


def test_order_list_runs_the_same_queries_for_3_and_40_customers(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock, engine: Engine
) -> None:
    catalogue(db)
    login(browser, principals.owner)

    def add(start: int, stop: int) -> None:
        for n in range(start, stop):
            place(db, clock, f"c-{n}", label=f"#C{n}", email=f"c{n}@example.com",
                  name=f"Cliente {n}", commit=False)  # fmt: skip
        db.commit()

    def queries() -> tuple[int, str]:
        with counting_queries(engine) as statements:
            page = browser.get("/orders")
        assert page.status_code == 200
        return len(statements), page.text

    add(0, 3)
    few, _ = queries()
    add(3, 40)
    many, html = queries()
    assert html.count('class="order-row"') == 40
    assert "Cliente 39" in html and "Cliente 0" in html
    assert few == many, (few, many)
    # User, stores, the page of orders, their customers in one statement (+ SQLite's BEGIN).
    assert many <= 5, many


def test_order_page_says_whether_a_sale_was_anonymous_or_its_customer_forgotten(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    anonymous = place(db, clock, "anon", fulfilment="in_store", channel="store")
    named = place(db, clock, "named", email="dimentica@example.com", name="Da Dimenticare")
    customer_id = order_service.get_order(db, named).profile_id
    assert customer_id is not None
    privacy.erase_customer(db, clock=clock, customer_id=customer_id, actor="test")
    db.commit()
    login(browser, principals.owner)
    assert "una vendita anonima" in browser.get(f"/orders/{anonymous}").text
    page = browser.get(f"/orders/{named}").text
    assert "ha chiesto di essere dimenticato" in page
    assert "Da Dimenticare" not in page and "dimentica@example.com" not in page


def test_order_page_tells_the_story_of_a_pickup(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    order_id = place(
        db,
        clock,
        "web-42",
        label="#42",
        placed_at=LAST_MONDAY,
        email="g@example.com",
        name="Giorgia",
    )
    login(browser, principals.seller_a)
    page = browser.get(f"/orders/{order_id}").text
    assert "Ordine #42" in page and "In ritardo" in page
    assert "Promessa non mantenuta" in page
    assert 'href="/customers/' in page and "Giorgia" in page
    assert f'action="/pickups/{order_id}/ready"' in page
    assert f'action="/orders/{order_id}/cancel"' in page
    done = post_form(
        browser,
        f"/orders/{order_id}",
        f"/pickups/{order_id}/ready",
        {"next": f"/orders/{order_id}"},
    )
    assert done.status_code == 200
    assert "Pronto per il ritiro" in done.text
    assert "Cliente avvisato" in done.text
    assert f'action="/pickups/{order_id}/ready"' not in done.text
    cancelled = post_form(browser, f"/orders/{order_id}", f"/orders/{order_id}/cancel")
    assert "Ordine #42 annullato" in cancelled.text
    assert f'action="/orders/{order_id}/cancel"' not in cancelled.text
    db.rollback()  # a fresh look (and no lock held on SQLite)
    assert order_service.get_order(db, order_id).status == "cancelled"


def test_kept_promise_and_unknown_order(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    order_id = place(db, clock, "web-43", label="#43")
    order_service.mark_ready(db, clock=clock, order=order_service.get_order(db, order_id))
    db.commit()
    login(browser, principals.manager)
    page = browser.get(f"/orders/{order_id}").text
    assert "Promessa mantenuta" in page
    assert browser.get("/orders/nope").status_code == 404


# --- stores --------------------------------------------------------------------------------


def test_store_settings_are_for_managers_and_the_owner(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    login(browser, principals.seller_a)
    assert browser.get("/settings/stores").status_code == 403
    assert browser.get("/settings/stores/A").status_code == 403
    token = csrf_from(browser.get("/pickups").text)
    assert browser.post("/settings/stores/A", data={"csrf_token": token}).status_code == 403
    browser.cookies.clear()
    login(browser, principals.manager)
    listing = browser.get("/settings/stores").text
    assert "Store A" in listing and "Store B" in listing
    assert 'action="/settings/stores"' not in listing  # only the owner creates stores
    page = browser.get("/settings/stores/A").text
    assert 'name="hours_mon"' not in page and "Solo il titolare" in page
    assert (
        post_form(browser, "/settings/stores/A", "/settings/stores/A", {"name": "X"}).status_code
        == 403
    )


def test_owner_edits_hours_with_split_shifts_and_the_check_follows(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    login(browser, principals.owner)
    page = browser.get("/settings/stores/A").text
    assert 'value="09:00-13:00, 15:00-19:00"' in page
    assert "lun 23 nov, 10:00" in page  # an order placed now (Friday) is ready on Monday
    form = {
        "name": "Milano Navigli",
        "address": "Ripa 41",
        "timezone": "Europe/Rome",
        "prep_minutes": "30",
        "hold_days": "5",
        "hours_mon": "",
        "hours_tue": "9.30-13, 15:30-19:30",
        "hours_wed": "",
        "hours_thu": "",
        "hours_fri": "09:30 - 13:00 e 15:30-19:30",
        "hours_sat": "10-19",
        "hours_sun": "",
    }
    saved = post_form(browser, "/settings/stores/A", "/settings/stores/A", form)
    assert saved.status_code == 200
    assert "Negozio A salvato." in saved.text
    db.rollback()
    store = commerce_service.get_store(db, code="A")
    assert store.opening_hours == {
        "tue": [["09:30", "13:00"], ["15:30", "19:30"]],
        "fri": [["09:30", "13:00"], ["15:30", "19:30"]],
        "sat": [["10:00", "19:00"]],
    }
    assert (store.name, store.prep_minutes, store.hold_days) == ("Milano Navigli", 30, 5)
    # Friday 10:00 is inside the morning shift: open now, ready 30 minutes later.
    assert "Aperto" in saved.text and "oggi, 10:30" in saved.text


def test_store_form_errors_are_shown_next_to_the_fields_and_input_is_kept(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    login(browser, principals.owner)
    form = {
        "name": "",
        "address": "",
        "timezone": "Mars/Olympus",
        "prep_minutes": "soon",
        "hold_days": "0",
        "hours_mon": "13:00-09:00",
        "hours_tue": "9-13, 12-19",
        "hours_wed": "tutto il giorno",
        "hours_thu": "",
        "hours_fri": "",
        "hours_sat": "25:00-26:00",
        "hours_sun": "",
    }
    page = post_form(browser, "/settings/stores/A", "/settings/stores/A", form)
    assert page.status_code == 422
    html = page.text
    assert 'id="err-hours_mon">Un turno deve finire dopo l&#39;inizio (13:00-09:00).' in html
    assert 'id="err-hours_tue">I turni si sovrappongono' in html
    assert 'id="err-hours_wed">' in html and 'id="err-hours_sat">' in html
    assert 'id="err-timezone">' in html and 'id="err-prep_minutes">' in html
    assert 'value="tutto il giorno"' in html and 'value="Mars/Olympus"' in html
    # Now only the model's checks fail (empty name, hold days out of range).
    form.update(
        timezone="Europe/Rome",
        prep_minutes="60",
        hours_mon="",
        hours_tue="",
        hours_wed="",
        hours_sat="",
    )
    page = post_form(browser, "/settings/stores/A", "/settings/stores/A", form)
    assert page.status_code == 422
    assert 'id="err-name">' in page.text and 'id="err-hold_days">' in page.text
    db.rollback()  # a fresh look (and no lock held on SQLite)
    assert commerce_service.get_store(db, code="A").name == "Store A"


def test_owner_creates_a_store_and_codes_are_unique(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    login(browser, principals.owner)
    created = post_form(
        browser,
        "/settings/stores",
        "/settings/stores",
        {"code": "TO", "name": "Torino", "address": "", "timezone": "Europe/Rome"},
        follow_redirects=False,
    )
    assert created.status_code == 303
    assert created.headers["location"] == "/settings/stores/TO#hours"
    page = browser.get("/settings/stores/TO").text
    assert "imposta gli orari" in page and "mai: imposta prima gli orari" in page
    again = post_form(
        browser,
        "/settings/stores",
        "/settings/stores",
        {"code": "TO", "name": "Torino 2", "timezone": "Europe/Rome"},
    )
    assert again.status_code == 409
    assert 'id="err-code">Esiste già un negozio con questo codice.' in again.text
    assert 'value="Torino 2"' in again.text
    bad = post_form(
        browser,
        "/settings/stores",
        "/settings/stores",
        {"code": "no spaces", "name": "", "timezone": "Europe/Rome"},
    )
    assert bad.status_code == 422
    assert 'id="err-code">' in bad.text and 'id="err-name">' in bad.text


def test_manager_adds_and_removes_holidays_and_special_openings(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    login(browser, principals.manager)
    closed = post_form(
        browser,
        "/settings/stores/A",
        "/settings/stores/A/exceptions",
        {"day": "2026-11-23", "shifts": "", "note": "Inventario"},
    )
    assert closed.status_code == 200
    assert "lun 23 nov 2026 salvato come giorno di chiusura." in closed.text
    # Closed on Monday: the next opening is a week later.
    assert "lun 30 nov, 10:00" in closed.text
    special = post_form(
        browser,
        "/settings/stores/A",
        "/settings/stores/A/exceptions",
        {"day": "2026-11-22", "shifts": "10:00-13:00", "note": "Domenica di Natale"},
    )
    assert "Apertura straordinaria di dom 22 nov 2026 salvata." in special.text
    assert "dom 22 nov, 11:00" in special.text
    rows = db.scalars(select(StoreException).order_by(StoreException.day)).all()
    saved = [(r.day.isoformat(), r.shifts, r.note) for r in rows]
    db.rollback()
    assert saved == [
        ("2026-11-22", [["10:00", "13:00"]], "Domenica di Natale"),
        ("2026-11-23", [], "Inventario"),
    ]
    bad = post_form(
        browser,
        "/settings/stores/A",
        "/settings/stores/A/exceptions",
        {"day": "", "shifts": "10-9", "note": "x"},
    )
    assert bad.status_code == 422
    assert 'id="err-day">' in bad.text and 'id="err-shifts">' in bad.text
    removed = post_form(
        browser, "/settings/stores/A", "/settings/stores/A/exceptions/2026-11-23/delete"
    )
    assert "segue di nuovo l&#39;orario settimanale" in removed.text
    assert (
        post_form(
            browser, "/settings/stores/A", "/settings/stores/A/exceptions/2026-11-24/delete"
        ).status_code
        == 404
    )


def test_shifts_are_read_the_way_people_write_them() -> None:
    assert parse_shifts("") == []
    assert parse_shifts("9-13") == [("09:00", "13:00")]
    assert parse_shifts("9.30–13; 15:30 - 24:00") == [("09:30", "13:00"), ("15:30", "24:00")]
    for text in ("13-9", "9-13, 12-15", "9", "ab-cd", "24:30-25:00"):
        with pytest.raises(ShiftError):
            parse_shifts(text)


# --- the catalogue -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "manager", "seller_a"])
def test_everyone_sees_the_catalogue(
    browser: TestClient, principals: Principals, db: Session, who: str
) -> None:
    catalogue(db)
    login(browser, getattr(principals, who))
    page = browser.get("/products").text
    assert "E-bike Urbana" in page and "Casco urbano blu" in page
    assert ('method="post" action="/products"' in page) == (who == "owner")
    assert browser.get("/products/BIKE").status_code == 200
    assert browser.get("/products/NOPE").status_code == 404
    stale = browser.get("/products", params={"cursor": "not-a-cursor"})
    assert stale.status_code == 200 and "E-bike Urbana" in stale.text


def test_seller_cannot_change_the_catalogue_or_the_stock(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    catalogue(db)
    login(browser, principals.seller_a)
    page = browser.get("/products/BIKE").text
    assert 'name="quantity"' not in page and 'name="price"' not in page
    for action, data in (
        ("/products", {"sku": "X", "name": "X", "price": "1"}),
        ("/products/BIKE", {"name": "X", "price": "1", "currency": "EUR"}),
        ("/products/BIKE/stock/A", {"quantity": "5"}),
    ):
        assert post_form(browser, "/products", action, data).status_code == 403


def test_owner_adds_an_unknown_sku_to_the_catalogue_from_the_prefilled_form(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    place(db, clock, "pos-1", skus=("BIKE", "BELL-01"), fulfilment="in_store", channel="store")
    login(browser, principals.owner)
    listing = browser.get("/products").text
    assert "Visti negli ordini, non nel catalogo" in listing and "BELL-01" in listing
    link = re.search(r'href="(/products\?new=BELL-01[^"]*)"', listing)
    assert link
    prefilled = browser.get(link.group(1).replace("&amp;", "&")).text
    assert 'name="sku" value="BELL-01"' in prefilled
    bad = post_form(
        browser,
        "/products",
        "/products",
        {"sku": "BELL-01", "name": "Campanello", "price": "-3", "currency": "euro"},
    )
    assert bad.status_code == 422
    assert 'id="err-price">' in bad.text and 'id="err-currency">' in bad.text
    assert 'value="Campanello"' in bad.text
    done = post_form(
        browser,
        "/products",
        "/products",
        {
            "sku": "BELL-01",
            "name": "Campanello",
            "price": "12,50",
            "currency": "eur",
            "category": "accessori",
            "active": "1",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/products/BELL-01"
    product = commerce_service.get_product(db, sku="BELL-01")
    assert (product.price, product.currency, product.active) == (Decimal("12.50"), "EUR", True)
    db.rollback()
    assert "Visti negli ordini" not in browser.get("/products").text  # nothing unknown left
    dup = post_form(
        browser,
        "/products",
        "/products",
        {"sku": "BELL-01", "name": "Altro", "price": "1", "currency": "EUR"},
    )
    assert dup.status_code == 409 and 'id="err-sku">' in dup.text


def test_owner_edits_a_product_and_errors_keep_the_input(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    catalogue(db)
    login(browser, principals.owner)
    bad = post_form(
        browser,
        "/products/BIKE",
        "/products/BIKE",
        {"name": "", "price": "abc", "currency": "EUR", "category": "e-bike"},
    )
    assert bad.status_code == 422
    assert 'id="err-name">' in bad.text and 'id="err-price">' in bad.text
    assert 'value="abc"' in bad.text
    ok = post_form(
        browser,
        "/products/BIKE",
        "/products/BIKE",
        {"name": "E-bike Urbana 500", "price": "2290", "currency": "EUR", "category": "e-bike"},
    )
    assert "Prodotto BIKE salvato." in ok.text and "Non in vendita" in ok.text
    db.rollback()  # a fresh look (and no lock held on SQLite)
    product = commerce_service.get_product(db, sku="BIKE")
    assert (product.name, product.price, product.active) == (
        "E-bike Urbana 500",
        Decimal("2290.00"),
        False,
    )


def test_manager_counts_stock_and_the_page_shows_reserved_and_available(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    catalogue(db)
    place(db, clock, "web-1", skus=("BIKE",))
    login(browser, principals.manager)
    done = post_form(browser, "/products/BIKE", "/products/BIKE/stock/A", {"quantity": "4"})
    assert done.status_code == 200
    row = re.search(r'<tr id="stock-A">(.*?)</tr>', done.text, re.S)
    assert row and re.findall(r'<td class="num">(?:<strong>)?(-?\d+)', row.group(1)) == [
        "4",
        "1",
        "3",
    ]
    bad = post_form(browser, "/products/BIKE", "/products/BIKE/stock/A", {"quantity": "-2"})
    assert bad.status_code == 422 and 'id="err-stock-A">' in bad.text
    assert (
        post_form(
            browser, "/products/BIKE", "/products/BIKE/stock/ZZ", {"quantity": "1"}
        ).status_code
        == 404
    )


# --- the read models -----------------------------------------------------------------------


def test_suggestions_sum_partners_over_the_basket_and_prefer_what_is_in_store() -> None:
    def partner(sku: str, orders: int, available: int | None = None) -> suggestions.Partner:
        return suggestions.Partner(sku, sku.title(), Decimal(1), "EUR", orders, available)

    found = {
        "bike": [partner("helmet", 5, 0), partner("lock", 3, 2), partner("pump", 1)],
        "bell": [partner("lock", 4, 2), partner("bike", 9)],
    }
    result = suggestions.suggest({"bike", "bell"}, found, limit=3)
    assert [(s.sku, s.score) for s in result] == [("lock", 7), ("pump", 1), ("helmet", 5)]


def test_recent_product_views_merge_member_profiles_in_one_query(
    browser: TestClient, db: Session, clock: FrozenClock, engine: Engine
) -> None:
    product_views(browser, db, "u-1", ["A", "B", "A"])
    product_views(browser, db, "u-2", ["C"])
    from phygital.tracking.models import Event

    profiles = {e.properties["sku"]: e.profile_id for e in db.scalars(select(Event))}
    with counting_queries(engine) as statements:
        found = tracking_service.recent_product_views(
            db,
            member_ids_by_customer={"x": [profiles["A"], profiles["C"]], "nobody": []},
            since=clock.now() - timedelta(days=30),
            per_customer=3,
        )
    assert len(statements) == 1
    # Both member profiles' products, the most recently seen first.
    assert [(p.sku, p.events) for p in found["x"]] == [("A", 2), ("B", 1), ("C", 1)]
    assert found["nobody"] == []


def test_open_pickup_reads_agree_with_each_order_s_own_state(
    db: Session, principals: Principals, clock: FrozenClock
) -> None:
    """Counts, pages and cursors read from the index ranges, and the desk's one statement for
    every section, say what each order's own state says, the most urgent first (pickups
    without a promise last)."""
    from phygital.commerce import pickups, reading
    from phygital.commerce.models import Order
    from phygital.commerce.pickups import PickupState

    catalogue(db)
    for n in range(16):  # promised Monday 16th: overdue by now unless ready
        order_id = place(
            db,
            clock,
            f"x-{n}",
            placed_at=LAST_MONDAY + timedelta(minutes=5 * (n % 4)),
            commit=False,
        )
        if n % 2 == 0:  # ready: four today at 10:00, four at 11:00
            order_service.mark_ready(db, clock=clock, order=order_service.get_order(db, order_id))
        if n == 7:
            clock.advance(timedelta(hours=1))
    next_week = clock.now() + timedelta(days=7)
    for n in range(5):  # placed next Friday, promised the Monday after: awaiting
        place(db, clock, f"fresh-{n}", placed_at=next_week + timedelta(minutes=n), commit=False)
    db.flush()
    # Pickups of a store that had no opening hours then: nothing was promised.
    unpromised = ("x-1", "x-3", "fresh-2")
    for order_id in db.scalars(select(Order.id).where(Order.external_id.in_(unpromised))):
        order_service.get_order(db, order_id).promised_ready_at = None
    place(db, clock, "other-store", store="B", placed_at=LAST_MONDAY, commit=False)
    db.commit()
    # A week after the first were ready (their collection time passed), not the later ones.
    clock.advance(timedelta(days=7) - timedelta(minutes=30))
    now, store = clock.now(), principals.store_a_id

    def moment(order: Order) -> datetime | None:
        return order.promised_ready_at if order.status == "awaiting" else order.collect_by

    everything = list(db.scalars(select(Order).where(Order.store_id == store)))
    expected = {
        state: [
            o.id
            for o in sorted(
                (o for o in everything if order_service.effective_status(o, now) == state),
                key=lambda o: (moment(o) is None, moment(o) or now, o.id),
            )
        ]
        for state in ("overdue", "awaiting", "ready")
    }
    # Overdue: six late promises and four ready a week ago; awaiting: four promised for
    # Monday and three without a promise; ready: four.
    assert {state: len(ids) for state, ids in expected.items()} == {
        "overdue": 10,
        "awaiting": 7,
        "ready": 4,
    }
    assert pickups.counts(db, now=now, store_id=store) == {
        state: len(ids) for state, ids in expected.items()
    }
    for state in (PickupState.OVERDUE, PickupState.AWAITING, PickupState.READY):
        listed: list[str] = []
        cursor = None
        for _ in range(10):
            page, cursor = pickups.list_pickups(
                db, now=now, store_id=store, state=state, cursor=cursor, limit=3
            )
            listed += [o.id for o in page]
            if cursor is None:
                break
        assert listed == expected[state.value], state
    sections = reading.desk(db, store=commerce_service.get_store(db, code="A"), now=now, limit=3)
    assert [(s.state, s.count) for s in sections] == [
        (state, len(ids)) for state, ids in expected.items()
    ]
    for s in sections:
        assert [c.order.id for c in s.cards] == expected[s.state][:3]
        rest = reading.desk(
            db,
            store=commerce_service.get_store(db, code="A"),
            now=now,
            limit=3,
            only=PickupState(s.state),
            cursor=s.next_cursor,
        )
        assert [c.order.id for c in rest[0].cards] == expected[s.state][3:6]
