"""The web shell in a real browser: login, language switch, logout, phone menu."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.server import LiveServer

pytestmark = pytest.mark.e2e

PageFactory = Callable[..., Page]  # the `new_page` fixture

LOGIN_URL = re.compile(r"/login(\?.*)?$")


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("form.stack button[type=submit]").click()


def log_in_as_owner(page: Page, server: LiveServer) -> None:
    log_in(page, server.owner_email, server.password)
    page.wait_for_url(f"{server.url}/")


def test_owner_logs_in_switches_language_and_the_choice_is_kept(
    page: Page, live_server: LiveServer
) -> None:
    html = page.locator("html")
    log_in_as_owner(page, live_server)
    expect(html).to_have_attribute("lang", "it")
    expect(page.locator("h1")).to_contain_text(live_server.owner_name)
    expect(page.locator(".who")).to_contain_text(live_server.owner_name)
    expect(page.get_by_role("button", name="Esci")).to_be_visible()

    page.get_by_role("button", name="EN", exact=True).click()
    expect(html).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("button", name="EN", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )

    page.reload()
    expect(html).to_have_attribute("lang", "en")

    # Stored on the user, not only in the cookie: a browser with no cookies still gets English.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(LOGIN_URL)
    page.context.clear_cookies()
    page.goto("/login")
    expect(html).to_have_attribute("lang", "it")
    log_in_as_owner(page, live_server)
    expect(html).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.get_by_role("button", name="IT", exact=True).click()
    expect(html).to_have_attribute("lang", "it")
    expect(page.get_by_role("button", name="Esci")).to_be_visible()

    page.get_by_role("button", name="Esci").click()
    expect(page).to_have_url(LOGIN_URL)

    page.goto("/")
    expect(page).to_have_url(LOGIN_URL)
    expect(page.locator("input[name=password]")).to_be_visible()


def test_logged_out_visitor_is_sent_to_login(page: Page, live_server: LiveServer) -> None:
    page.goto("/")
    expect(page).to_have_url(f"{live_server.url}/login?next=%2F")
    expect(page.locator("html")).to_have_attribute("lang", "it")


def test_wrong_password_shows_the_error_and_stays_on_login(
    page: Page, live_server: LiveServer
) -> None:
    log_in(page, live_server.owner_email, "not-the-password")
    expect(page.get_by_role("alert")).to_have_text("E-mail o password errate.")
    expect(page).to_have_url(LOGIN_URL)
    expect(page.locator("input[name=email]")).to_have_value(live_server.owner_email)
    expect(page.locator(".who")).to_have_count(0)


def test_menu_toggle_shows_the_navigation_on_a_phone(
    new_page: PageFactory, live_server: LiveServer
) -> None:
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    log_in_as_owner(page, live_server)
    toggle = page.get_by_role("button", name="Menu")
    nav = page.locator("#main-nav")
    expect(toggle).to_be_visible()
    expect(nav).to_be_hidden()

    toggle.click()
    expect(nav).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Home")).to_be_visible()

    toggle.click()
    expect(nav).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
