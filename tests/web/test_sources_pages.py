"""The sources page: managers create sources, copy the snippet line, rotate keys, turn sources
off and on; sellers are not allowed."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from phygital.tracking import service as tracking_service
from phygital.tracking.models import Channel, Source
from tests.conftest import Principals, counting_queries, csrf_from, login

HTML = {"Accept": "text/html"}
PATH = "/settings/sources"


@pytest.fixture
def browser(client: TestClient) -> TestClient:
    client.headers.update(HTML)
    return client


def sources(db: Session) -> list[SimpleNamespace]:
    """The stored sources, read and released (on SQLite a reading session holds the lock)."""
    db.expire_all()
    found = [
        SimpleNamespace(
            id=s.id,
            name=s.name,
            channel=s.channel,
            write_key=s.write_key,
            disabled_at=s.disabled_at,
        )
        for s in db.scalars(select(Source).order_by(Source.name))
    ]
    db.rollback()
    return found


def track(client: TestClient, key: str) -> int:
    return client.post(
        "/v1/track",
        json={"userId": "C-1", "event": "Product Viewed"},
        auth=(key, ""),
        headers={"Accept": "*/*"},
    ).status_code


@pytest.mark.parametrize("who", ["owner", "manager"])
def test_managers_and_the_owner_see_the_sources_page(
    browser: TestClient, principals: Principals, who: str
) -> None:
    login(browser, getattr(principals, who))
    page = browser.get(PATH)
    assert page.status_code == 200
    assert "<h1>Fonti</h1>" in page.text
    assert f'<a href="{PATH}" aria-current="page">Fonti</a>' in page.text
    assert "Nessuna fonte per ora" in page.text


def test_sellers_get_the_not_allowed_page(browser: TestClient, principals: Principals) -> None:
    login(browser, principals.seller_a)
    page = browser.get(PATH)
    assert page.status_code == 403
    assert "Non consentito" in page.text
    token = csrf_from(page.text)
    created = browser.post(PATH, data={"name": "Sneaky", "channel": "web", "csrf_token": token})
    assert created.status_code == 403


def test_visitors_who_are_not_logged_in_are_sent_to_login(browser: TestClient) -> None:
    response = browser.get(PATH, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fsettings%2Fsources"


def test_manager_creates_a_source_and_gets_the_line_to_paste(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    login(browser, principals.manager)
    token = csrf_from(browser.get(PATH).text)
    response = browser.post(
        PATH,
        data={"name": "  Web shop ", "channel": "web", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    [source] = sources(db)
    assert (source.name, source.channel) == ("Web shop", Channel.WEB)
    assert response.headers["location"] == f"{PATH}#source-{source.id}"

    page = browser.get(PATH).text
    assert "Fonte “Web shop” creata" in page
    assert source.write_key in page
    line = (
        "&lt;script src=&#34;http://testserver/js/phygital.js&#34; "
        f"data-write-key=&#34;{source.write_key}&#34; async&gt;&lt;/script&gt;"
    )
    assert line in page
    assert 'data-copy-target="snippet-' in page
    assert "Attiva" in page and "Nessun evento" not in page
    assert "Fonte “Web shop” creata" not in browser.get(PATH).text  # the notice is shown once


def test_events_count_and_last_event_are_shown_in_the_company_time_zone(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    source = tracking_service.create_source(db, name="Till", channel=Channel.STORE)
    db.commit()
    assert track(browser, source.write_key) == 200
    assert track(browser, source.write_key) == 200
    login(browser, principals.owner)
    page = browser.get(PATH).text
    facts = page[page.index(f'id="source-{source.id}"') :]
    assert re.search(r"<dt>Eventi</dt><dd>2</dd>", facts)
    assert "20/11/26, 10:00" in facts  # 09:00 UTC is 10:00 in Milan
    assert "Negozio" in facts


def test_duplicate_or_empty_names_are_explained_on_the_page(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    tracking_service.create_source(db, name="Web shop", channel=Channel.WEB)
    db.commit()
    login(browser, principals.manager)
    token = csrf_from(browser.get(PATH).text)
    duplicate = browser.post(PATH, data={"name": "Web shop", "channel": "app", "csrf_token": token})
    assert duplicate.status_code == 409
    assert "Esiste già una fonte con questo nome" in duplicate.text
    empty = browser.post(PATH, data={"name": "  ", "channel": "web", "csrf_token": token})
    assert empty.status_code == 422
    assert "Dai un nome alla fonte" in empty.text
    whatsapp = browser.post(PATH, data={"name": "Chat", "channel": "whatsapp", "csrf_token": token})
    assert whatsapp.status_code == 422
    assert "Scegli il canale" in whatsapp.text
    assert 'value="Chat"' in whatsapp.text  # what was typed stays
    assert [s.name for s in sources(db)] == ["Web shop"]


def test_rotating_the_key_stops_the_old_one_at_once(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    source = tracking_service.create_source(db, name="Web shop", channel=Channel.WEB)
    db.commit()
    old_key = source.write_key
    login(browser, principals.manager)
    page = browser.get(PATH).text
    assert f'action="{PATH}/{source.id}/rotate" data-confirm="' in page
    response = browser.post(
        f"{PATH}/{source.id}/rotate", data={"csrf_token": csrf_from(page)}, follow_redirects=False
    )
    assert response.status_code == 303
    [rotated] = sources(db)
    assert rotated.write_key != old_key
    assert track(browser, old_key) == 401
    assert track(browser, rotated.write_key) == 200
    after = browser.get(PATH).text
    assert "Nuova chiave di scrittura per “Web shop”" in after
    assert rotated.write_key in after and old_key not in after


def test_turning_a_source_off_and_on(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    source = tracking_service.create_source(db, name="Web shop", channel=Channel.WEB)
    db.commit()
    source_id, key = source.id, source.write_key
    login(browser, principals.owner)
    token = csrf_from(browser.get(PATH).text)
    browser.post(f"{PATH}/{source_id}/disable", data={"csrf_token": token})
    assert sources(db)[0].disabled_at is not None
    assert track(browser, key) == 401
    page = browser.get(PATH).text
    assert "Disattivata" in page and f"{PATH}/{source_id}/enable" in page
    browser.post(f"{PATH}/{source_id}/enable", data={"csrf_token": token})
    assert sources(db)[0].disabled_at is None
    assert track(browser, key) == 200


def test_source_forms_need_the_csrf_token(
    browser: TestClient, principals: Principals, db: Session
) -> None:
    source = tracking_service.create_source(db, name="Web shop", channel=Channel.WEB)
    db.commit()
    key = source.write_key
    login(browser, principals.manager)
    browser.get(PATH)
    assert browser.post(PATH, data={"name": "Other", "channel": "web"}).status_code == 403
    assert browser.post(f"{PATH}/{source.id}/rotate").status_code == 403
    assert browser.post(f"{PATH}/{source.id}/disable", data={"csrf_token": "x"}).status_code == 403
    [unchanged] = sources(db)
    assert unchanged.write_key == key and unchanged.disabled_at is None


def test_unknown_source_is_the_404_page(browser: TestClient, principals: Principals) -> None:
    login(browser, principals.manager)
    token = csrf_from(browser.get(PATH).text)
    response = browser.post(f"{PATH}/nosuchsource/rotate", data={"csrf_token": token})
    assert response.status_code == 404
    assert "Pagina non trovata" in response.text


def test_sources_page_runs_the_same_queries_for_few_and_many_sources(
    browser: TestClient, principals: Principals, db: Session, engine: Engine
) -> None:
    login(browser, principals.manager)

    def queries() -> int:
        with counting_queries(engine) as statements:
            assert browser.get(PATH).status_code == 200
        return len(statements)

    for n in range(2):
        tracking_service.create_source(db, name=f"Source {n}", channel=Channel.WEB)
    db.commit()
    few = queries()
    for n in range(2, 12):
        tracking_service.create_source(db, name=f"Source {n}", channel=Channel.APP)
    db.commit()
    assert queries() == few
