"""Shopify POS sales (`source_name` "pos"): at a location mapped to a store
(`PHYGITAL_SHOPIFY_LOCATIONS`) they are in-store sales there, as from the till; elsewhere they
stay web orders, with a note saying why."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from phygital.core.clock import FrozenClock
from phygital.main import create_app
from tests.commerce.webhooks.conftest import (
    Stored,
    fixture_json,
    post_shopify,
    shop_settings,
)
from tests.conftest import Principals

BRERA_LOCATION = "80123456789"


def pos_sale(location: str, **changes: Any) -> dict[str, Any]:
    """The fixture's order as Shopify POS sends it: rung up at a location, no shipping."""
    body: dict[str, Any] = copy.deepcopy(fixture_json("shopify/orders_create_delivery.json"))
    body.update(source_name="pos", location_id=int(location), shipping_lines=[])
    body.update(changes)
    return body


@pytest.fixture
def pos_client(db_url: str, clock: FrozenClock, engine: Engine) -> Iterator[TestClient]:
    settings = shop_settings(db_url, shopify_locations=f"{BRERA_LOCATION}=MI-BRERA, 42=NOWHERE")
    app = create_app(settings, clock=clock, engine=engine)
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def test_a_pos_sale_at_a_mapped_location_is_an_in_store_sale_there(
    pos_client: TestClient, stores: dict[str, str], stored: Stored, principals: Principals
) -> None:
    response = pos_client.put(
        "/api/v1/stores/MI-BRERA/stock/BIKE-LIGHT-USB",
        json={"quantity": 4},
        headers=principals.owner.headers,
    )
    assert response.status_code == 200, response.text
    sale = pos_sale(BRERA_LOCATION)
    response = post_shopify(pos_client, sale, webhook_id="pos-1")
    assert response.status_code == 200, response.text
    assert response.json()["detail"] is None
    order = pos_client.get(
        f"/api/v1/orders/{response.json()['order_id']}", headers=principals.owner.headers
    ).json()
    assert (order["channel"], order["fulfilment"], order["store"], order["status"]) == (
        "store",
        "in_store",
        "MI-BRERA",
        "fulfilled",
    )
    assert order["external_id"] == str(sale["id"])
    # Off the shelf, as a till sale.
    lines = {ln["sku"]: ln["quantity"] for ln in order["lines"]}
    on_hand, reserved = stored.stock(stores["MI-BRERA"], "BIKE-LIGHT-USB")
    assert (on_hand, reserved) == (4 - lines.get("BIKE-LIGHT-USB", 0), 0)
    # An update of the same sale finds it under the store channel: still one order.
    again = pos_sale(BRERA_LOCATION, updated_at="2026-11-22T10:00:00+01:00")
    second = post_shopify(pos_client, again, webhook_id="pos-2", topic="orders/updated")
    assert second.json()["order_id"] == response.json()["order_id"]


def test_a_pos_sale_at_a_location_naming_no_store_stays_a_web_order_with_a_note(
    pos_client: TestClient, stores: dict[str, str], principals: Principals
) -> None:
    for location, webhook in (("999", "unmapped"), ("42", "unknown-store")):
        sale = pos_sale(location, id=int(location))
        response = post_shopify(pos_client, sale, webhook_id=webhook)
        assert response.status_code == 200, response.text
        assert f"location {location}" in response.json()["detail"]
        order = pos_client.get(
            f"/api/v1/orders/{response.json()['order_id']}", headers=principals.owner.headers
        ).json()
        assert (order["channel"], order["fulfilment"], order["store"]) == (
            "web",
            "delivery",
            None,
        )


def test_an_online_order_is_not_taken_for_a_pos_sale(
    pos_client: TestClient, stores: dict[str, str], principals: Principals
) -> None:
    body = pos_sale(BRERA_LOCATION, source_name="web")
    response = post_shopify(pos_client, body, webhook_id="web")
    order = pos_client.get(
        f"/api/v1/orders/{response.json()['order_id']}", headers=principals.owner.headers
    ).json()
    assert order["channel"] == "web"


def test_a_sale_stored_before_its_location_was_mapped_stays_one_order(
    db_url: str, clock: FrozenClock, engine: Engine, stores: dict[str, str], stored: Stored
) -> None:
    sale = pos_sale(BRERA_LOCATION)
    before = create_app(shop_settings(db_url), clock=clock, engine=engine)
    with TestClient(before, base_url="http://testserver") as client:
        first = post_shopify(client, sale, webhook_id="before")
    mapped = create_app(
        shop_settings(db_url, shopify_locations=f"{BRERA_LOCATION}=MI-BRERA"),
        clock=clock,
        engine=engine,
    )
    with TestClient(mapped, base_url="http://testserver") as client:
        update = pos_sale(BRERA_LOCATION, updated_at="2026-11-22T10:00:00+01:00")
        second = post_shopify(client, update, webhook_id="after", topic="orders/updated")
    assert second.json()["order_id"] == first.json()["order_id"]
    assert stored.order(str(sale["id"])).channel == "web"


def test_a_sale_whose_location_is_no_longer_mapped_stays_one_order(
    db_url: str, clock: FrozenClock, engine: Engine, stores: dict[str, str], stored: Stored
) -> None:
    sale = pos_sale(BRERA_LOCATION)
    mapped = create_app(
        shop_settings(db_url, shopify_locations=f"{BRERA_LOCATION}=MI-BRERA"),
        clock=clock,
        engine=engine,
    )
    with TestClient(mapped, base_url="http://testserver") as client:
        first = post_shopify(client, sale, webhook_id="mapped")
    unmapped = create_app(shop_settings(db_url), clock=clock, engine=engine)
    with TestClient(unmapped, base_url="http://testserver") as client:
        update = pos_sale(BRERA_LOCATION, updated_at="2026-11-22T10:00:00+01:00")
        second = post_shopify(client, update, webhook_id="unmapped", topic="orders/updated")
        gone = post_shopify(client, {"id": sale["id"]}, webhook_id="gone", topic="orders/delete")
    assert second.json()["order_id"] == first.json()["order_id"]
    assert stored.order(str(sale["id"])).channel == "store"
    # Found, not "never seen": a sale handed over at the counter is history and stays.
    assert gone.json()["order_id"] == first.json()["order_id"]
    assert "not cancelled" in gone.json()["detail"]


def test_a_pos_sale_shipped_to_the_customer_is_a_delivery_sold_at_the_store(
    pos_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    sale = pos_sale(BRERA_LOCATION)
    sale["shipping_lines"] = [{"id": 1, "code": "Standard", "title": "Spedizione", "price": "5"}]
    response = post_shopify(pos_client, sale, webhook_id="ship")
    order = stored.order(str(sale["id"]))
    assert (order.channel, order.fulfilment, order.store_id, order.status) == (
        "store",
        "delivery",
        stores["MI-BRERA"],
        "placed",
    )
    assert response.json()["detail"] is None
    assert stored.stock(stores["MI-BRERA"], "BIKE-LIGHT-USB") == (0, 0)  # not off this shelf
