"""The outbox page: who sees it, the list and its filters, forwarding by hand and sending a
failed message again, in Italian and English."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from phygital.auth.models import Role
from phygital.commerce.models import NotificationStatus
from phygital.config import Settings
from phygital.core.clock import FrozenClock
from tests.commerce.test_mail import Inbox, SmtpServer
from tests.commerce.test_notifications import (
    note_of,
    place_pickup,
    ready,
    refuse_service_email,
    run_jobs,
    send_jobs,
    with_smtp,
)
from tests.conftest import Principals, counting_queries, csrf_from, login
from tests.factories import make_principal

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

HTML = {"Accept": "text/html"}


@pytest.fixture
def browser(client: TestClient) -> TestClient:
    client.headers.update(HTML)
    return client


def in_outbox(
    db: Session,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
    number: str,
    *,
    store: str = "A",
    email: str | None = None,
) -> str:
    """A ready pickup whose message waits in the outbox (no SMTP server); returns the order."""
    order_id = place_pickup(db, clock, number=number, store=store, email=email or f"c{number}@x.it")
    ready(db, clock, order_id)
    run_jobs(session_factory, clock, None)
    clock.advance(timedelta(minutes=1))
    return order_id


def card(html: str, note_id: str) -> str:
    start = html.index(f'id="n-{note_id}"')
    end = html.find("</li>", start)
    return html[start:end]


# -- who sees it --------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [("owner", 200), ("manager", 200), ("seller_a", 403)])
def test_managers_see_the_outbox_sellers_do_not(
    browser: TestClient, principals: Principals, who: str, status: int
) -> None:
    login(browser, getattr(principals, who))
    page = browser.get("/outbox")
    assert page.status_code == status
    if status == 200:
        assert '<a href="/outbox" aria-current="page">Posta in uscita</a>' in page.text


def test_sellers_cannot_act_on_messages(
    browser: TestClient,
    principals: Principals,
    db: Session,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
) -> None:
    note = note_of(session_factory, in_outbox(db, clock, session_factory, "1"))
    login(browser, principals.seller_a)
    token = csrf_from(browser.get("/").text)
    for action in ("sent", "retry"):
        answer = browser.post(f"/outbox/{note.id}/{action}", data={"csrf_token": token})
        assert answer.status_code == 403
    assert note_of(session_factory, note.order_id or "").status == NotificationStatus.OUTBOX


def test_logged_out_visitors_are_sent_to_the_login(browser: TestClient) -> None:
    answer = browser.get("/outbox", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")


def test_a_store_manager_sees_only_their_stores_messages(
    browser: TestClient,
    principals: Principals,
    db: Session,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
) -> None:
    mine = note_of(session_factory, in_outbox(db, clock, session_factory, "1", store="A"))
    theirs = note_of(session_factory, in_outbox(db, clock, session_factory, "2", store="B"))
    store_manager = make_principal(db, "manager_a", Role.MANAGER, "A")
    db.commit()
    login(browser, store_manager)
    page = browser.get("/outbox")
    assert f'id="n-{mine.id}"' in page.text
    assert f'id="n-{theirs.id}"' not in page.text
    token = csrf_from(page.text)
    answer = browser.post(f"/outbox/{theirs.id}/sent", data={"csrf_token": token})
    assert answer.status_code == 404


# -- the list -----------------------------------------------------------------------------------


def test_messages_are_listed_newest_first_with_what_a_person_needs(
    browser: TestClient,
    principals: Principals,
    db: Session,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
) -> None:
    older = note_of(session_factory, in_outbox(db, clock, session_factory, "1", email="a@x.it"))
    newer_order = in_outbox(db, clock, session_factory, "2", email="b@x.it")
    newer = note_of(session_factory, newer_order)
    login(browser, principals.manager)
    page = browser.get("/outbox")
    assert page.status_code == 200
    html = page.text
    assert html.index(f'id="n-{newer.id}"') < html.index(f'id="n-{older.id}"')
    shown = card(html, newer.id)
    assert "b@x.it" in shown
    assert "Il tuo ordine #2 è pronto per il ritiro da Store A" in shown
    assert f'<a href="/orders/{newer_order}">#2</a>' in shown
    assert "Store A" in shown
    assert "<details" in shown and "Ciao Maria Bianchi," in shown  # the body, expandable
    assert "Da inoltrare" in shown
    assert 'action="/outbox/' in shown and "Segna come inviato a mano" in shown


def test_the_page_speaks_english_too(
    browser: TestClient,
    principals: Principals,
    db: Session,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
) -> None:
    in_outbox(db, clock, session_factory, "1")
    login(browser, principals.manager)
    page = browser.get("/outbox", headers={"Accept-Language": "en"})
    assert '<html lang="en">' in page.text
    assert "To forward" in page.text
    assert "Mark as sent by hand" in page.text


def test_filters_show_one_status_with_counts(
    browser: TestClient,
    principals: Principals,
    db: Session,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
) -> None:
    waiting = note_of(session_factory, in_outbox(db, clock, session_factory, "1"))
    refused_order = place_pickup(db, clock, number="2", store="A", email="no@x.it")
    refuse_service_email(db, clock, refused_order)
    ready(db, clock, refused_order)
    skipped = note_of(session_factory, refused_order)
    login(browser, principals.manager)

    everything = browser.get("/outbox").text
    assert f'id="n-{waiting.id}"' in everything and f'id="n-{skipped.id}"' in everything

    outbox = browser.get("/outbox", params={"status": "outbox"}).text
    assert f'id="n-{waiting.id}"' in outbox and f'id="n-{skipped.id}"' not in outbox
    assert re.search(r'href="/outbox\?status=outbox" class="chan" aria-current="page"', outbox)

    not_sent = browser.get("/outbox", params={"status": "skipped"}).text
    assert f'id="n-{skipped.id}"' in not_sent and f'id="n-{waiting.id}"' not in not_sent
    assert "Il cliente ha rifiutato i messaggi di servizio via e-mail." in not_sent
    assert re.search(r"Non inviato <strong>1</strong>", not_sent)

    empty = browser.get("/outbox", params={"status": "failed"}).text
    assert "Nessun messaggio in questo stato." in empty
    assert browser.get("/outbox", params={"status": "lost"}).status_code == 422


def test_list_costs_the_same_queries_for_few_or_many_messages(
    browser: TestClient,
    principals: Principals,
    db: Session,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
    engine: Engine,
) -> None:
    in_outbox(db, clock, session_factory, "1")
    login(browser, principals.manager)
    with counting_queries(engine) as few:
        assert browser.get("/outbox").status_code == 200
    for number in range(2, 8):
        in_outbox(db, clock, session_factory, str(number))
    with counting_queries(engine) as many:
        assert browser.get("/outbox").status_code == 200
    assert len(many) == len(few)


def test_pages_go_back_in_time_with_a_cursor(
    browser: TestClient,
    principals: Principals,
    db: Session,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from phygital.commerce import outbox_views

    monkeypatch.setattr(outbox_views, "PAGE_SIZE", 2)
    notes = [
        note_of(session_factory, in_outbox(db, clock, session_factory, str(n))) for n in range(3)
    ]
    login(browser, principals.manager)
    first = browser.get("/outbox").text
    assert f'id="n-{notes[0].id}"' not in first
    cursor = re.search(r'cursor=([^"&]+)', first)
    assert cursor is not None
    second = browser.get(f"/outbox?cursor={cursor.group(1)}").text
    assert f'id="n-{notes[0].id}"' in second
    broken = browser.get("/outbox", params={"cursor": "nonsense"})
    assert broken.status_code == 200
    assert "Questo link non è più valido" in broken.text or "no longer valid" in broken.text


# -- actions ------------------------------------------------------------------------------------


def test_an_outbox_message_forwarded_by_hand_is_marked_sent(
    browser: TestClient,
    principals: Principals,
    db: Session,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
) -> None:
    order_id = in_outbox(db, clock, session_factory, "1", email="maria@x.it")
    note = note_of(session_factory, order_id)
    login(browser, principals.manager)
    page = browser.get("/outbox", params={"status": "outbox"})
    answer = browser.post(
        f"/outbox/{note.id}/sent",
        data={"csrf_token": csrf_from(page.text), "back": "outbox"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/outbox?status=outbox"
    done = note_of(session_factory, order_id)
    assert (done.status, done.sent_at) == (NotificationStatus.SENT, clock.now())
    after = browser.get(answer.headers["location"]).text
    assert "Segnato come inviato a maria@x.it." in after
    assert f'id="n-{note.id}"' not in after

    again = browser.post(
        f"/outbox/{note.id}/sent", data={"csrf_token": csrf_from(after)}, follow_redirects=True
    )
    assert "non è più in attesa di essere inoltrato" in again.text


def test_forms_need_the_csrf_token(
    browser: TestClient,
    principals: Principals,
    db: Session,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
) -> None:
    note = note_of(session_factory, in_outbox(db, clock, session_factory, "1"))
    login(browser, principals.manager)
    answer = browser.post(f"/outbox/{note.id}/sent", data={"csrf_token": "forged"})
    assert answer.status_code == 403
    assert note_of(session_factory, note.order_id or "").status == NotificationStatus.OUTBOX


def test_the_redirect_after_an_action_never_leaves_the_outbox(
    browser: TestClient,
    principals: Principals,
    db: Session,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
) -> None:
    note = note_of(session_factory, in_outbox(db, clock, session_factory, "1"))
    login(browser, principals.manager)
    token = csrf_from(browser.get("/outbox").text)
    answer = browser.post(
        f"/outbox/{note.id}/sent",
        data={"csrf_token": token, "back": "https://evil.example/"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/outbox"


def test_a_failed_message_is_sent_again_from_the_page(
    browser: TestClient,
    principals: Principals,
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    order_id = place_pickup(db, clock, number="1", store="A", email="maria@x.it")
    ready(db, clock, order_id)
    inbox = Inbox(refuse_rcpt="550 5.1.1 mailbox unavailable")
    with SmtpServer(inbox=inbox) as server:
        smtp = with_smtp(settings, server.url())
        run_jobs(session_factory, clock, smtp)
        note = note_of(session_factory, order_id)
        assert note.status == NotificationStatus.FAILED

        login(browser, principals.owner)
        page = browser.get("/outbox", params={"status": "failed"}).text
        shown = card(page, note.id)
        assert "550 5.1.1" in shown and "Invia di nuovo" in shown
        answer = browser.post(
            f"/outbox/{note.id}/retry",
            data={"csrf_token": csrf_from(page), "back": "failed"},
            follow_redirects=True,
        )
        assert "Di nuovo in coda" in answer.text
        assert note_of(session_factory, order_id).status == NotificationStatus.QUEUED

        inbox.refuse_rcpt = None
        run_jobs(session_factory, clock, smtp)
    assert len(server.messages) == 1
    assert note_of(session_factory, order_id).status == NotificationStatus.SENT
    assert len(send_jobs(session_factory)) == 1

    again = browser.post(
        f"/outbox/{note.id}/retry",
        data={"csrf_token": csrf_from(browser.get("/outbox").text)},
        follow_redirects=True,
    )
    assert "Si può inviare di nuovo solo un messaggio non riuscito." in again.text
