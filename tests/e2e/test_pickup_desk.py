"""The pickup desk in a real browser on a phone: a seller marks a pickup ready, then collected."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.server import LiveServer, create_token

pytestmark = pytest.mark.e2e

PageFactory = Callable[..., Page]  # the `new_page` fixture

SELLER_EMAIL = "giulia@velo.example"  # the demo's seller of the Milano store (MI)
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def order_pickup(server: LiveServer, *, store: str, label: str, customer: str) -> str:
    """A click & collect order from the web shop, through the REST API as a shop would send it."""
    token = create_token(server, f"desk {label}")
    response = httpx.post(
        f"{server.url}/api/v1/orders",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "external_id": f"e2e-{uuid.uuid4().hex[:10]}",
            "label": label,
            "channel": "web",
            "placed_at": datetime.now(UTC).isoformat(),
            "fulfilment": "pickup",
            "store": store,
            "customer": {
                "traits": {"name": customer},
                "identifiers": [{"kind": "email", "value": f"{uuid.uuid4().hex[:8]}@example.com"}],
            },
            "lines": [
                {"sku": "HL-URBAN-M-BLU", "quantity": 1, "unit_price": "89.90"},
                {"sku": "LK-U-180", "quantity": 2, "unit_price": "59.90"},
            ],
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def order_status(server: LiveServer, order_id: str) -> str:
    token = create_token(server, f"check {order_id[:8]}", role="manager")
    response = httpx.get(
        f"{server.url}/api/v1/orders/{order_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def log_in(page: Page, server: LiveServer, email: str) -> None:
    page.goto("/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(server.password)
    page.locator("form.stack button[type=submit]").click()
    page.wait_for_url(f"{server.url}/")


def test_seller_marks_a_pickup_ready_then_collected_on_a_phone(
    new_page: PageFactory, live_server: LiveServer
) -> None:
    label = f"#E{uuid.uuid4().hex[:5].upper()}"
    order_id = order_pickup(live_server, store="MI", label=label, customer="Elena Verdi")
    other = f"#T{uuid.uuid4().hex[:5].upper()}"
    order_pickup(live_server, store="TO", label=other, customer="Tommaso Neri")

    page = new_page(**PHONE)
    log_in(page, live_server, SELLER_EMAIL)
    page.goto("/pickups")
    expect(page.locator("h1")).to_have_text("Ritiri")
    expect(page.locator("select[name=store]")).to_have_count(0)  # a seller has one store
    expect(page.locator(f'li.pickup[data-order="{other}"]')).to_have_count(0)  # Torino's

    card = page.locator(f'#awaiting li.pickup[data-order="{label}"]')
    expect(card).to_be_visible()
    expect(card).to_contain_text("Elena Verdi")
    expect(card).to_contain_text("Pronto entro")
    expect(card.locator(".pickup-lines li")).to_have_count(2)
    ready = card.get_by_role("button", name=f"Segna {label} come pronto")
    box = ready.bounding_box()
    assert box is not None and box["height"] >= 44, box  # a thumb-sized target
    ready.tap()

    expect(page.get_by_role("status")).to_contain_text(f"Ordine {label} pronto")
    card = page.locator(f'#ready li.pickup[data-order="{label}"]')
    expect(card).to_be_visible()
    expect(card.locator(".status")).to_have_text("Pronto per il ritiro")
    expect(card).to_contain_text("Pronto da oggi")
    expect(card.get_by_role("button", name=f"Segna {label} come pronto")).to_have_count(0)
    assert order_status(live_server, order_id) == "ready"

    card.get_by_role("button", name=f"Segna {label} come ritirato").tap()
    expect(page.get_by_role("status")).to_contain_text(f"Ordine {label} ritirato.")
    expect(page.locator(f'li.pickup[data-order="{label}"]')).to_have_count(0)
    assert order_status(live_server, order_id) == "collected"

    # The notice leads to the order, whose history tells what happened.
    page.get_by_role("status").get_by_role("link").click()
    expect(page.locator("h1")).to_contain_text(f"Ordine {label}")
    expect(page.locator(".history")).to_contain_text("Pronto")
    expect(page.locator(".history")).to_contain_text("Ritirato")
    expect(page.locator(".history")).to_contain_text("Promessa mantenuta")
