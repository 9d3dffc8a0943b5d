"""The web shell: language choice, error pages, static assets, no external assets."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import Principals, csrf_from, login

HTML = {"Accept": "text/html"}


def _lang(html: str) -> str:
    match = re.search(r'<html lang="(\w+)">', html)
    assert match, html[:200]
    return match.group(1)


def test_italian_is_the_default_language(client: TestClient) -> None:
    assert _lang(client.get("/login").text) == "it"


def test_browser_language_is_followed(client: TestClient) -> None:
    page = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9,it;q=0.5"})
    assert _lang(page.text) == "en"
    assert "Log in" in page.text
    page = client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9,it;q=0.8,en;q=0.7"})
    assert _lang(page.text) == "it"
    assert "Accedi" in page.text
    page = client.get("/login", headers={"Accept-Language": "fr, de"})
    assert _lang(page.text) == "it"


def test_language_switch_when_logged_out_uses_a_cookie(client: TestClient) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/lang",
        data={"lang": "en", "next": "/login", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert _lang(client.get("/login").text) == "en"


def test_language_switch_is_stored_on_the_user(
    app,
    client: TestClient,
    principals: Principals,  # type: ignore[no-untyped-def]
) -> None:
    login(client, principals.seller_a)
    token = csrf_from(client.get("/").text)
    client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": token})
    home = client.get("/", headers={"Accept-Language": "it"})
    assert _lang(home.text) == "en"
    assert "Log out" in home.text
    # A new browser, Italian by default, still gets the user's English after login.
    other = TestClient(app)
    login(other, principals.seller_a)
    assert _lang(other.get("/", headers={"Accept-Language": "it"}).text) == "en"


def test_language_switch_needs_the_csrf_token(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/lang", data={"lang": "en"}, follow_redirects=False)
    assert response.status_code == 403


def test_home_shows_the_user_and_their_store(client: TestClient, principals: Principals) -> None:
    login(client, principals.seller_b)
    home = client.get("/")
    assert "Seller B" in home.text
    assert "Venditore" in home.text
    assert "· B" in home.text


def test_unknown_page_is_a_404_page_for_browsers_and_json_for_programs(
    client: TestClient,
) -> None:
    page = client.get("/no-such-page", headers=HTML)
    assert page.status_code == 404
    assert "Pagina non trovata" in page.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.json() == {"detail": "Not Found"}


def test_static_assets_are_served_from_the_package(client: TestClient) -> None:
    css = client.get("/static/app.css")
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]
    assert client.get("/static/app.js").status_code == 200


def test_no_page_or_asset_loads_anything_from_another_host() -> None:
    root = Path(__file__).resolve().parents[2] / "src" / "phygital"
    pattern = re.compile(r"""(src|href)\s*=\s*["'](https?:)?//""")
    for path in list(root.rglob("*.html")) + list(root.rglob("*.css")) + list(root.rglob("*.js")):
        text = path.read_text(encoding="utf-8")
        assert not pattern.search(text), f"{path} loads an external asset"
        assert "@import url(http" not in text
