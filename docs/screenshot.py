"""Take the README screenshot: the demo company's home page, logged in as the owner.

    python docs/screenshot.py            # writes docs/screenshot.png

Starts `phygital demo` and `phygital serve` on a scratch SQLite file (the same start-up as the
browser tests) and drives Debian's Chromium at 1280x800 in Italian, the product's default.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402
from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, LiveServer, running_server  # noqa: E402

OUTPUT = ROOT / "docs" / "screenshot.png"


def main() -> None:
    if not CHROMIUM.exists():
        sys.exit(f"screenshot: no Chromium at {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="phygital-screenshot-") as tmp:
        workdir = Path(tmp)
        with running_server(f"sqlite:///{workdir / 'demo.db'}", workdir) as server:
            take_screenshot(server)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


def take_screenshot(server: LiveServer) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            base_url=server.url,
            viewport={"width": 1280, "height": 800},
            locale="it-IT",
            extra_http_headers={"Accept-Language": "it-IT"},
        )
        page = context.new_page()
        page.goto("/login")
        page.locator("input[name=email]").fill(server.owner_email)
        page.locator("input[name=password]").fill(server.password)
        page.locator("form.stack button[type=submit]").click()
        page.wait_for_url(f"{server.url}/")
        # The demo's family-tablet customer: identifiers, consents, timeline and a merge to undo.
        page.goto("/customers?q=paolo%20galli")
        page.locator("main a[href^='/customers/']").first.click()
        page.wait_for_load_state()
        page.screenshot(path=str(OUTPUT))
        browser.close()


if __name__ == "__main__":
    main()
