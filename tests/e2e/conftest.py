"""Browser tests: Chromium (Debian's, never a downloaded one) against a real `phygital serve`.

One server per test module, on a fresh database of the run's kind filled by `phygital demo`.
Each test gets its own browser context (cookies, viewport), so tests do not share a login.
These tests never request `engine`: the server owns its database, the harness only drops it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests import dbs
from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, LiveServer, running_server

PageFactory = Callable[..., Page]


@pytest.fixture(scope="module")
def live_server(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("e2e")
    url = dbs.new_database_url(db_kind, workdir)
    try:
        with running_server(url, workdir) as server:
            yield server
    finally:
        dbs.drop_database(url)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium); e2e tests need it")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Browser, live_server: LiveServer) -> Iterator[PageFactory]:
    """Open a page in a fresh context; Italian browser unless the test says otherwise."""
    contexts: list[BrowserContext] = []

    def open_page(**options: Any) -> Page:
        options.setdefault("locale", "it-IT")
        options.setdefault("extra_http_headers", {"Accept-Language": "it-IT"})
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(5_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: PageFactory) -> Page:
    return new_page()
