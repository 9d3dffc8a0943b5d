"""Customer pages: search, the customer 360, merge and unmerge through the forms."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from phygital.core.clock import FrozenClock
from phygital.core.pagination import encode_cursor
from phygital.identity import service as identity_service
from phygital.identity.models import MergeRecord
from phygital.identity.views import search_filters
from phygital.privacy.models import AuditEntry
from phygital.tracking import service as tracking_service
from phygital.tracking.models import Channel
from tests.conftest import Principals, counting_queries, csrf_from, login

HTML = {"Accept": "text/html"}


@pytest.fixture
def browser(client: TestClient) -> TestClient:
    """The test client as a browser: pages, not JSON, for errors too."""
    client.headers.update(HTML)
    return client


def add_customer(
    db: Session,
    clock: FrozenClock,
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    user_id: str | None = None,
) -> str:
    pairs = [(k, v) for k, v in (("email", email), ("phone", phone), ("user_id", user_id)) if v]
    traits = {"name": name} if name else {}
    result = identity_service.create_customer(
        db, clock=clock, region="IT", traits=traits, identifiers=pairs
    )
    db.commit()
    clock.advance(timedelta(minutes=1))
    return result.customer_id


def write_key(db: Session, name: str = "Web shop", channel: Channel = Channel.WEB) -> str:
    source = tracking_service.create_source(db, name=name, channel=channel)
    db.commit()
    return source.write_key


def send(client: TestClient, key: str, batch: list[dict[str, Any]]) -> None:
    response = client.post(
        "/v1/batch", json={"batch": batch}, auth=(key, ""), headers={"Accept": "*/*"}
    )
    assert response.status_code == 200, response.text


def page_views(user_id: str, count: int, *, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "type": "page",
            "userId": user_id,
            "name": f"Page {n:03d}",
            "timestamp": f"2026-11-{1 + n // 24:02d}T{n % 24:02d}:30:00Z",
        }
        for n in range(start, start + count)
    ]


def customer_id_of(client: TestClient, email: str) -> str:
    page = client.get("/customers", params={"q": email})
    ids = re.findall(r'href="/customers/(\w+)"', page.text)
    assert len(ids) == 1, page.text
    return ids[0]


# --- the search box ----------------------------------------------------------------------


def test_one_search_box_understands_emails_phones_identifiers_and_words() -> None:
    assert search_filters("  ") == {}
    assert search_filters("Mario.Rossi@Example.com") == {"email": "Mario.Rossi@Example.com"}
    assert search_filters("+39 333 123 4567") == {"phone": "+39 333 123 4567"}
    assert search_filters("333-1234567") == {"phone": "333-1234567"}
    assert search_filters("loyalty_card:LC-1") == {"identifier": "loyalty_card:LC-1"}
    assert search_filters("shopify:12345") == {"identifier": "shopify:12345"}
    assert search_filters("Mario Rossi") == {"q": "Mario Rossi"}
    assert search_filters("Rossi: Mario") == {"q": "Rossi: Mario"}


# --- who sees the pages ------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "manager", "seller_a", "seller_b"])
def test_every_logged_in_role_sees_the_customers(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock, who: str
) -> None:
    customer = add_customer(db, clock, name="Mario Rossi", email="mario@example.com")
    login(browser, getattr(principals, who))
    listing = browser.get("/customers")
    assert listing.status_code == 200
    assert "Mario Rossi" in listing.text
    assert re.search(r'<a href="/customers" aria-current="page">Clienti</a>', listing.text)
    assert browser.get(f"/customers/{customer}").status_code == 200


def test_visitors_who_are_not_logged_in_are_sent_to_login(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    customer = add_customer(db, clock, email="mario@example.com")
    for path in ("/customers", f"/customers/{customer}"):
        response = browser.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    # The outsider is deactivated: the login form refuses them, so they stay outside.
    token = csrf_from(browser.get("/login").text)
    refused = browser.post(
        "/login",
        data={
            "email": principals.outsider.email,
            "password": principals.outsider.password,
            "csrf_token": token,
        },
    )
    assert refused.status_code == 401
    assert browser.get("/customers", follow_redirects=False).status_code == 303


def test_the_navigation_offers_sources_only_to_managers(
    browser: TestClient, principals: Principals
) -> None:
    login(browser, principals.seller_a)
    home = browser.get("/").text
    assert 'href="/customers"' in home
    assert 'href="/settings/sources"' not in home
    login(browser, principals.manager)
    assert 'href="/settings/sources"' in browser.get("/").text


# --- search ------------------------------------------------------------------------------


def test_search_finds_customers_by_email_phone_name_and_identifier(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    add_customer(db, clock, name="Mario Rossi", email="mario@example.com", phone="3331234567")
    add_customer(db, clock, name="Giulia Bianchi", email="giulia@example.com", phone="3339876543")
    add_customer(db, clock, name="Luca Verdi", email="luca@example.com", user_id="C-42")
    login(browser, principals.seller_a)

    def names(query: str) -> list[str]:
        page = browser.get("/customers", params={"q": query})
        assert page.status_code == 200, page.text
        return re.findall(r'<span class="cr-name">([^<]+)</span>', page.text)

    assert names("") == ["Luca Verdi", "Giulia Bianchi", "Mario Rossi"]  # newest first
    assert names("MARIO@example.com") == ["Mario Rossi"]
    assert names("+39 333 987 6543") == ["Giulia Bianchi"]
    assert names("333 987 6543") == ["Giulia Bianchi"]
    assert names("bianchi") == ["Giulia Bianchi"]
    assert names("user_id:C-42") == ["Luca Verdi"]
    assert names("giulia@") == ["Giulia Bianchi"]  # part of an e-mail: a word search
    assert names("nobody@example.com") == []

    listing = browser.get("/customers", params={"q": "mario"}).text
    assert "mario@example.com" in listing
    assert "+39 333 123 4567" in listing


def test_search_explains_empty_results_and_invalid_queries(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    login(browser, principals.seller_a)
    assert "Nessun cliente per ora" in browser.get("/customers").text
    add_customer(db, clock, name="Mario Rossi", email="mario@example.com")
    empty = browser.get("/customers", params={"q": "Zanetti"})
    assert empty.status_code == 200
    assert "Nessun cliente corrisponde a “Zanetti”" in empty.text
    short = browser.get("/customers", params={"q": "z"})
    assert short.status_code == 422
    assert "almeno 2 caratteri" in short.text
    bad_cursor = browser.get("/customers", params={"cursor": "not-a-cursor"})
    assert bad_cursor.status_code == 422
    assert "non è più valido" in bad_cursor.text
    hand_made = browser.get("/customers", params={"cursor": encode_cursor(["not a time", "x"])})
    assert hand_made.status_code == 422


def test_search_results_come_in_pages_with_a_next_link(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    for n in range(30):
        add_customer(db, clock, name=f"Cliente {n:02d}", email=f"c{n:02d}@example.com")
    login(browser, principals.seller_a)
    first = browser.get("/customers", params={"q": "cliente"}).text
    assert first.count('class="customer-row"') == 25
    assert "Cliente 29" in first
    assert "Cliente 04" not in first
    next_link = re.search(r'href="(/customers\?q=cliente&amp;cursor=[^"]+)" rel="next"', first)
    assert next_link, first
    second = browser.get(next_link.group(1).replace("&amp;", "&")).text
    assert second.count('class="customer-row"') == 5
    assert "Cliente 04" in second and "Cliente 00" in second
    assert 'rel="next"' not in second
    assert "Prima pagina" in second


def test_customer_list_runs_the_same_queries_for_5_and_20_customers(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock, engine: Engine
) -> None:
    login(browser, principals.seller_a)
    key = write_key(db)

    def queries_for_listing() -> int:
        with counting_queries(engine) as statements:
            page = browser.get("/customers")
        assert page.status_code == 200
        return len(statements)

    for n in range(5):
        add_customer(db, clock, name=f"Cliente {n}", email=f"c{n}@example.com")
        send(browser, key, page_views(f"web-{n}", 2))
    five = queries_for_listing()
    for n in range(5, 20):
        add_customer(db, clock, name=f"Cliente {n}", email=f"c{n}@example.com")
        send(browser, key, page_views(f"web-{n}", 2))
    twenty = queries_for_listing()
    assert browser.get("/customers").text.count('class="customer-row"') == 25
    assert five == twenty
    assert twenty <= 6, twenty  # user, customers page, members, identifiers (+ SQLite pragmas)


# --- the customer 360 --------------------------------------------------------------------


def test_customer_page_shows_identifiers_consents_stats_and_timeline(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    key = write_key(db)
    send(
        browser,
        key,
        [
            {
                "type": "identify",
                "userId": "C-7",
                "anonymousId": "device-7",
                "traits": {
                    "name": "Anna Neri",
                    "email": "Anna.Neri@Example.com",
                    "phone": "347 555 0101",
                    "loyalty_card": "lc 777",
                    "city": "Bologna",
                },
                "context": {"consent": {"marketing": {"email": True, "sms": False}}},
                "timestamp": "2026-11-18T15:00:00Z",
            },
            {
                "type": "track",
                "userId": "C-7",
                "event": "Product Viewed",
                "properties": {"sku": "BIKE-1"},
                "timestamp": "2026-11-19T08:00:00Z",
            },
            {
                "type": "track",
                "userId": "C-7",
                "event": "Product Tried",
                "properties": {"sku": "BIKE-1"},
                "context": {"channel": "store"},
                "timestamp": "2026-11-19T16:15:00Z",
            },
        ],
    )
    login(browser, principals.seller_a)
    customer = customer_id_of(browser, "anna.neri@example.com")
    page = browser.get(f"/customers/{customer}")
    assert page.status_code == 200
    html = page.text
    # Identity card: identifiers grouped by kind, traits.
    assert "<h1" in html and "Anna Neri" in html
    for text in (
        "Codice cliente",
        "C-7",
        "Dispositivo",
        "device-7",
        "anna.neri@example.com",
        "+39 347 555 0101",
        'href="tel:+393475550101"',
        "Carta fedeltà",
        "LC777",
        "Bologna",
    ):
        assert text in html, text
    # Consents: purpose by channel, with the date and the source.
    assert "✓ Concesso" in html
    assert "✗ Negato" in html
    assert "tracking:Web shop" in html
    # Stats and timeline, newest first, in the company's time zone (Milan: UTC+1).
    assert "Product Tried · BIKE-1" in html
    assert html.index("Product Tried · BIKE-1") < html.index("Product Viewed · BIKE-1")
    assert "17:15" in html
    assert "giovedì 19 novembre 2026" in html
    assert "chan-store" in html and "chan-web" in html
    assert "Eventi" in html
    # Sellers read; they do not merge.
    assert "/merge" not in html


def test_timeline_loads_older_items_with_a_cursor(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    key = write_key(db)
    send(browser, key, page_views("C-1", 30))
    login(browser, principals.seller_a)
    customer = identity_service.search(db, region="IT", user_id="C-1")[0][0].id
    db.rollback()  # SQLite: a reading session holds the write lock until it ends
    first = browser.get(f"/customers/{customer}").text
    assert first.count('class="tl-item"') == 25
    assert "Page 029" in first and "Page 004" not in first
    more = re.search(r'href="(/customers/\w+\?before=[^"#]+)#timeline" rel="next"', first)
    assert more, first
    older = browser.get(more.group(1)).text
    assert older.count('class="tl-item"') == 5
    assert "Page 004" in older and "Page 000" in older and "Page 005" not in older
    assert 'rel="next"' not in older
    broken = browser.get(f"/customers/{customer}", params={"before": "garbage"})
    assert broken.status_code == 200
    assert broken.text.count('class="tl-item"') == 25


def test_customer_page_runs_the_same_queries_for_few_and_many_events(
    browser: TestClient, principals: Principals, db: Session, engine: Engine
) -> None:
    key = write_key(db)
    send(
        browser,
        key,
        [
            {
                "type": "identify",
                "userId": "C-1",
                "traits": {"email": "a@example.com", "phone": "3331112222"},
                "context": {"consent": {"marketing": {"email": True}}},
            },
            *page_views("C-1", 4),
        ],
    )
    login(browser, principals.manager)
    customer = customer_id_of(browser, "a@example.com")

    def queries_for_page() -> int:
        with counting_queries(engine) as statements:
            page = browser.get(f"/customers/{customer}")
        assert page.status_code == 200
        return len(statements)

    few = queries_for_page()
    send(browser, key, page_views("C-1", 60, start=4))
    many = queries_for_page()
    assert few == many
    assert many <= 13, many  # identity, consents, timeline (3 providers), merges, journeys


def test_unknown_customer_is_the_404_page(browser: TestClient, principals: Principals) -> None:
    login(browser, principals.seller_a)
    page = browser.get("/customers/nosuchcustomer")
    assert page.status_code == 404
    assert "Pagina non trovata" in page.text


# --- merge and unmerge -------------------------------------------------------------------


def test_manager_merges_two_customers_and_undoes_it_through_the_forms(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    older = add_customer(db, clock, name="Marco Gialli", email="marco@example.com")
    newer = add_customer(db, clock, email="m.gialli@work.example", phone="3470000001")
    login(browser, principals.manager)
    page = browser.get(f"/customers/{older}").text
    assert "Unisci con…" in page
    merged = browser.post(
        f"/customers/{older}/merge",
        data={"other": "M.Gialli@work.example", "csrf_token": csrf_from(page)},
        follow_redirects=False,
    )
    assert merged.status_code == 303
    assert merged.headers["location"] == f"/customers/{older}#merges"

    after = browser.get(f"/customers/{older}").text
    assert "Clienti uniti" in after  # the notice, once
    assert "m.gialli@work.example" in after and "marco@example.com" in after
    assert "Annulla" in after and 'name="other_id" value="' + newer in after
    assert "Clienti uniti" not in browser.get(f"/customers/{older}").text
    # The merged-away id leads to the survivor.
    moved = browser.get(f"/customers/{newer}", follow_redirects=False)
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/customers/{older}"
    assert db.scalar(select(AuditEntry.action).where(AuditEntry.subject == older)) == "merge"
    db.rollback()  # SQLite: a reading session holds the write lock until it ends

    undone = browser.post(
        f"/customers/{older}/unmerge",
        data={"other_id": newer, "csrf_token": csrf_from(after)},
        follow_redirects=False,
    )
    assert undone.status_code == 303
    assert undone.headers["location"] == f"/customers/{older}#merges"
    back = browser.get(f"/customers/{older}").text
    assert "Unione annullata" in back
    assert f'href="/customers/{newer}"' in back
    assert "m.gialli@work.example" not in back
    assert browser.get(f"/customers/{newer}", follow_redirects=False).status_code == 200
    record = db.scalars(select(MergeRecord)).one()
    assert record.undone_at is not None and record.undone_by == "Manager"


def test_merge_by_customer_id_works_for_the_owner(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    older = add_customer(db, clock, email="one@example.com")
    newer = add_customer(db, clock, email="two@example.com")
    login(browser, principals.owner)
    token = csrf_from(browser.get(f"/customers/{newer}").text)
    response = browser.post(f"/customers/{newer}/merge", data={"other": older, "csrf_token": token})
    assert response.status_code == 200
    assert str(response.url).endswith(f"/customers/{older}#merges")  # the older one survives
    assert "two@example.com" in response.text


def test_merge_and_unmerge_are_refused_without_the_csrf_token(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    older = add_customer(db, clock, email="one@example.com")
    newer = add_customer(db, clock, email="two@example.com")
    login(browser, principals.manager)
    refused = browser.post(f"/customers/{older}/merge", data={"other": newer})
    assert refused.status_code == 403
    assert "Il modulo è scaduto" in refused.text
    forged = browser.post(
        f"/customers/{older}/merge", data={"other": newer, "csrf_token": "forged"}
    )
    assert forged.status_code == 403
    identity_service.merge(db, clock=clock, customer_id=older, other_id=newer, by="test")
    db.commit()
    assert browser.post(f"/customers/{older}/unmerge", data={"other_id": newer}).status_code == 403
    db.expire_all()
    assert identity_service.root_id(db, newer) == older
    assert db.scalars(select(MergeRecord)).one().undone_at is None


def test_sellers_neither_see_nor_use_the_merge_forms(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    older = add_customer(db, clock, email="one@example.com")
    newer = add_customer(db, clock, email="two@example.com")
    identity_service.merge(db, clock=clock, customer_id=older, other_id=newer, by="Manager")
    db.commit()
    login(browser, principals.seller_a)
    page = browser.get(f"/customers/{older}").text
    assert "Cronologia unioni" in page  # the history is visible to everyone
    assert "/unmerge" not in page and "/merge" not in page
    token = csrf_from(page)
    denied = browser.post(
        f"/customers/{older}/unmerge", data={"other_id": newer, "csrf_token": token}
    )
    assert denied.status_code == 403
    denied = browser.post(f"/customers/{older}/merge", data={"other": newer, "csrf_token": token})
    assert denied.status_code == 403
    db.expire_all()
    assert identity_service.root_id(db, newer) == older


def test_refused_merges_are_explained_on_the_customer_page(
    browser: TestClient, principals: Principals, db: Session, clock: FrozenClock
) -> None:
    first = add_customer(db, clock, email="one@example.com", user_id="U-1")
    second = add_customer(db, clock, email="two@example.com", user_id="U-2")
    login(browser, principals.manager)
    token = csrf_from(browser.get(f"/customers/{first}").text)

    conflict = browser.post(
        f"/customers/{first}/merge", data={"other": second, "csrf_token": token}
    )
    assert conflict.status_code == 409
    assert "Questi clienti non si possono unire" in conflict.text
    assert 'value="' + second + '"' in conflict.text  # what was typed stays in the field
    assert "one@example.com" in conflict.text  # the page itself is still there

    unknown = browser.post(
        f"/customers/{first}/merge", data={"other": "nobody@example.com", "csrf_token": token}
    )
    assert unknown.status_code == 404
    assert "Nessun cliente ha questo codice o e-mail" in unknown.text
    assert "one@example.com" in unknown.text

    itself = browser.post(f"/customers/{first}/merge", data={"other": first, "csrf_token": token})
    assert itself.status_code == 422
    assert "È lo stesso cliente" in itself.text

    not_merged = browser.post(
        f"/customers/{first}/unmerge", data={"other_id": second, "csrf_token": token}
    )
    assert not_merged.status_code == 404
    assert "non si può annullare" in not_merged.text
    db.expire_all()
    assert identity_service.root_id(db, second) == second
