"""Orders edited in the web shop (contract, section 5: updates applied in order): lines added,
removed or changed move the total, the pickup's reservation, the bought-together counts and
the customer's revenue; a guest order gains its customer, and an order the shop gives to
another person moves to them; history stays as it was."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from phygital.commerce.models import ProductPair, Promise
from phygital.identity.models import Profile
from tests.commerce.webhooks.conftest import Stored, fixture_json, post_shopify, post_woo
from tests.conftest import Principals

SHOPIFY_PICKUP = "shopify/orders_create_pickup.json"
SHOPIFY_ID = "5820982911946154508"
HELMET, LIGHT, BOTTLE = "BIKE-HELM-M-BLU", "BIKE-LIGHT-USB", "BOTTLE-TERM-750"


def shopify_order(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(fixture_json(SHOPIFY_PICKUP))
    body.update(changes)
    return body


def edited(at: str) -> dict[str, Any]:
    """The fixture's order after an edit in Shopify's admin: the light removed (it stays in
    `line_items` with `current_quantity` 0) and two bottles added."""
    body = shopify_order(updated_at=at)
    helmet, light = body["line_items"]
    helmet["current_quantity"] = 1
    light["current_quantity"] = 0
    bottle = {"id": 13866550311766439022, "sku": BOTTLE, "title": "Borraccia termica 750 ml",
              "quantity": 2, "current_quantity": 2, "price": "27.00"}  # fmt: skip
    body["line_items"] = [helmet, light, bottle]
    return body


def customer_of(client: TestClient, principals: Principals, email: str) -> dict[str, Any]:
    headers = principals.owner.headers
    found = client.get("/api/v1/customers", params={"email": email}, headers=headers)
    customer_id = found.json()["items"][0]["id"]
    detail: dict[str, Any] = client.get(f"/api/v1/customers/{customer_id}", headers=headers).json()
    return detail


def together(stored: Stored) -> dict[tuple[str, str], int]:
    with stored.factory() as session:
        rows = session.execute(select(ProductPair.sku, ProductPair.other_sku, ProductPair.orders))
        return {(a, b): n for a, b, n in rows if n}


def test_an_edit_moves_lines_total_reservation_pairs_and_revenue(
    shop_client: TestClient, stores: dict[str, str], stored: Stored, principals: Principals
) -> None:
    store = stores["MI-BRERA"]
    post_shopify(shop_client, shopify_order(), webhook_id="create")
    assert together(stored) == {(HELMET, LIGHT): 1, (LIGHT, HELMET): 1}

    response = post_shopify(
        shop_client, edited("2026-11-20T19:00:00+01:00"), webhook_id="edit", topic="orders/updated"
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "processed"
    assert "lines revised" in response.json()["detail"]
    order = shop_client.get(
        f"/api/v1/orders/{response.json()['order_id']}", headers=principals.owner.headers
    ).json()
    lines = [(ln["sku"], ln["quantity"], ln["unit_price"], ln["known"]) for ln in order["lines"]]
    assert lines == [(HELMET, 1, "89.90", True), (BOTTLE, 2, "27.00", True)]
    assert order["total"] == "143.90"
    assert order["status"] == "awaiting"
    # The shelf holds what the pickup now needs.
    assert stored.stock(store, HELMET) == (0, 1)
    assert stored.stock(store, LIGHT) == (0, 0)
    assert stored.stock(store, BOTTLE) == (0, 2)
    assert together(stored) == {(HELMET, BOTTLE): 1, (BOTTLE, HELMET): 1}
    stats = customer_of(shop_client, principals, "giulia.bianchi@example.it")["stats"]
    assert (stats["orders"], Decimal(stats["revenue"])) == (1, Decimal("143.90"))
    db_order = stored.order(SHOPIFY_ID)
    assert (db_order.lines_count, db_order.unknown_skus) == (2, 0)


def test_the_same_lines_again_change_nothing(
    shop_client: TestClient, stores: dict[str, str], stored: Stored, principals: Principals
) -> None:
    post_shopify(shop_client, shopify_order(), webhook_id="create")
    paid = shopify_order(updated_at="2026-11-20T18:50:00+01:00", financial_status="paid")
    response = post_shopify(shop_client, paid, webhook_id="paid", topic="orders/paid")
    assert response.json()["status"] == "processed"
    assert response.json()["detail"] is None
    assert stored.stock(stores["MI-BRERA"], HELMET) == (0, 1)
    stats = customer_of(shop_client, principals, "giulia.bianchi@example.it")["stats"]
    assert Decimal(stats["revenue"]) == Decimal("129.90")


def test_an_older_edit_arriving_late_is_ignored(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    post_shopify(shop_client, shopify_order(), webhook_id="create")
    later = shopify_order(updated_at="2026-11-20T19:30:00+01:00")
    post_shopify(shop_client, later, webhook_id="later", topic="orders/updated")
    response = post_shopify(
        shop_client, edited("2026-11-20T19:00:00+01:00"), webhook_id="edit", topic="orders/updated"
    )
    assert response.json()["status"] == "ignored"
    assert stored.order(SHOPIFY_ID).total == Decimal("129.90")
    assert stored.stock(stores["MI-BRERA"], BOTTLE) == (0, 0)


def test_an_edit_after_collection_keeps_the_lines_with_a_note(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    post_shopify(shop_client, shopify_order(), webhook_id="create")
    collected = shopify_order(updated_at="2026-11-21T17:00:00+01:00")
    collected["fulfillment_status"] = "fulfilled"
    post_shopify(shop_client, collected, webhook_id="picked-up", topic="orders/fulfilled")
    body = edited("2026-11-22T10:00:00+01:00")
    body["fulfillment_status"] = "fulfilled"
    response = post_shopify(shop_client, body, webhook_id="edit", topic="orders/updated")
    assert response.json()["status"] == "processed"
    assert "kept as they were" in response.json()["detail"]
    order = stored.order(SHOPIFY_ID)
    assert (order.status, order.total) == ("collected", Decimal("129.90"))
    assert stored.stock(stores["MI-BRERA"], BOTTLE) == (0, 0)


def test_every_line_removed_without_a_cancellation_keeps_the_lines_as_ordered(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    post_shopify(shop_client, shopify_order(), webhook_id="create")
    body = shopify_order(updated_at="2026-11-20T19:00:00+01:00")
    for line in body["line_items"]:
        line["current_quantity"] = 0
    response = post_shopify(shop_client, body, webhook_id="empty", topic="orders/updated")
    assert response.json()["status"] == "processed"
    assert "every line was removed" in response.json()["detail"]
    assert stored.order(SHOPIFY_ID).total == Decimal("129.90")


def test_a_negative_current_quantity_is_rejected_naming_the_field(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    post_shopify(shop_client, shopify_order(), webhook_id="create")
    body = edited("2026-11-20T19:00:00+01:00")
    body["line_items"][0]["current_quantity"] = -1
    response = post_shopify(shop_client, body, webhook_id="bad", topic="orders/updated")
    assert response.status_code == 400
    assert "line_items[0].current_quantity" in response.json()["detail"]
    assert stored.order(SHOPIFY_ID).total == Decimal("129.90")


def test_a_guest_order_gains_its_customer_and_their_counters(
    shop_client: TestClient, stores: dict[str, str], stored: Stored, principals: Principals
) -> None:
    guest = shopify_order(email=None, phone=None, customer=None)
    guest["billing_address"] = {**guest.get("billing_address", {}), "phone": None}
    first = post_shopify(shop_client, guest, webhook_id="guest")
    assert first.json()["customer_id"] is None
    assert stored.order(SHOPIFY_ID).profile_id is None
    named = shopify_order(updated_at="2026-11-20T19:00:00+01:00")
    response = post_shopify(shop_client, named, webhook_id="named", topic="orders/updated")
    assert "customer attached" in response.json()["detail"]
    customer = customer_of(shop_client, principals, "giulia.bianchi@example.it")
    assert (customer["stats"]["orders"], Decimal(customer["stats"]["revenue"])) == (
        1,
        Decimal("129.90"),
    )
    order = shop_client.get(
        f"/api/v1/orders/{response.json()['order_id']}", headers=principals.owner.headers
    ).json()
    assert order["customer_id"] == customer["id"]


def marco(updated_at: str) -> dict[str, Any]:
    """The fixture's order after the shop's staff gave it to another customer, Marco."""
    person = {"id": 7115310627314799999, "email": "marco.verdi@example.it",
              "phone": "+393489876543", "first_name": "Marco", "last_name": "Verdi"}  # fmt: skip
    body = shopify_order(updated_at=updated_at, email=person["email"], phone=person["phone"])
    body["customer"] = person
    body["billing_address"] = {**body["billing_address"], "first_name": "Marco", "phone": None}
    return body


def test_an_order_the_shop_gives_to_another_customer_moves_to_them(
    shop_client: TestClient, stores: dict[str, str], stored: Stored, principals: Principals
) -> None:
    post_shopify(shop_client, shopify_order(), webhook_id="create")
    response = post_shopify(
        shop_client, marco("2026-11-20T19:00:00+01:00"), webhook_id="moved", topic="orders/updated"
    )
    assert "customer changed" in response.json()["detail"]
    giulia = customer_of(shop_client, principals, "giulia.bianchi@example.it")
    taker = customer_of(shop_client, principals, "marco.verdi@example.it")
    assert giulia["id"] != taker["id"]
    assert (giulia["stats"]["orders"], Decimal(giulia["stats"]["revenue"])) == (0, Decimal(0))
    assert (taker["stats"]["orders"], Decimal(taker["stats"]["revenue"])) == (1, Decimal("129.90"))
    order = stored.order(SHOPIFY_ID)
    assert order.profile_id == taker["id"]
    with stored.factory() as session:
        assert session.scalars(select(Promise.profile_id)).all() == [taker["id"]]
    again = post_shopify(
        shop_client, marco("2026-11-20T19:30:00+01:00"), webhook_id="again", topic="orders/updated"
    )
    assert "customer" not in (again.json()["detail"] or "")  # the same person: nothing moves
    assert customer_of(shop_client, principals, "marco.verdi@example.it")["stats"]["orders"] == 1


def test_an_update_naming_the_same_customer_differently_keeps_the_order_with_them(
    shop_client: TestClient, stores: dict[str, str], stored: Stored, principals: Principals
) -> None:
    post_shopify(shop_client, shopify_order(), webhook_id="create")
    # The customer changed their phone in the shop: the same Shopify customer id and e-mail.
    body = shopify_order(updated_at="2026-11-20T19:00:00+01:00", phone="+393331112222")
    body["customer"] = {**body["customer"], "phone": "+393331112222"}
    body["billing_address"] = {**body["billing_address"], "phone": None}
    response = post_shopify(shop_client, body, webhook_id="phone", topic="orders/updated")
    assert "customer" not in (response.json()["detail"] or "")
    giulia = customer_of(shop_client, principals, "giulia.bianchi@example.it")
    assert giulia["stats"]["orders"] == 1
    assert {"kind": "phone", "value": "+393331112222"} in [
        {"kind": i["kind"], "value": i["value"]} for i in giulia["identifiers"]
    ]


def test_a_woocommerce_edit_of_a_quantity_moves_the_total_and_the_reservation(
    shop_client: TestClient, stores: dict[str, str], stored: Stored, principals: Principals
) -> None:
    body: dict[str, Any] = copy.deepcopy(fixture_json("woocommerce/order_created_pickup.json"))
    body["date_modified_gmt"] = "2026-11-21T09:05:00"
    post_woo(shop_client, body, delivery_id="1")
    store_id = stores["TO-CENTRO"]
    assert stored.stock(store_id, BOTTLE) == (0, 2)
    body = copy.deepcopy(body)
    body["date_modified_gmt"] = "2026-11-21T09:30:00"
    body["line_items"][0].update(quantity=3, subtotal="81.00", total="81.00")
    response = post_woo(shop_client, body, topic="order.updated", delivery_id="2")
    assert response.json()["status"] == "processed"
    assert stored.stock(store_id, BOTTLE) == (0, 3)
    assert stored.order("4711").total == Decimal("81.00")
    stats = customer_of(shop_client, principals, "marco.rossi@example.it")["stats"]
    assert Decimal(stats["revenue"]) == Decimal("81.00")


def test_an_erased_customer_is_not_brought_back_by_a_later_update(
    shop_client: TestClient, stores: dict[str, str], stored: Stored, principals: Principals
) -> None:
    post_shopify(shop_client, shopify_order(), webhook_id="create")
    customer_id = customer_of(shop_client, principals, "giulia.bianchi@example.it")["id"]
    erased = shop_client.delete(
        f"/api/v1/customers/{customer_id}", headers=principals.owner.headers
    )
    assert erased.status_code == 204, erased.text
    update = post_shopify(
        shop_client, edited("2026-11-20T19:00:00+01:00"), webhook_id="edit", topic="orders/updated"
    )
    assert update.json()["status"] == "processed"
    assert "customer attached" not in (update.json()["detail"] or "")
    order = stored.order(SHOPIFY_ID)
    assert order.profile_id is None and order.customer_erased_at is not None
    assert stored.count(Profile) == 0
    assert order.total == Decimal("143.90")  # the books still follow the shop


def test_every_line_removed_after_an_edit_keeps_the_edited_lines(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    post_shopify(shop_client, shopify_order(), webhook_id="create")
    first = shopify_order(updated_at="2026-11-20T19:00:00+01:00")
    first["line_items"][1]["current_quantity"] = 0  # the light goes
    post_shopify(shop_client, first, webhook_id="edit", topic="orders/updated")
    emptied = shopify_order(updated_at="2026-11-20T19:30:00+01:00")
    for line in emptied["line_items"]:
        line["current_quantity"] = 0
    response = post_shopify(shop_client, emptied, webhook_id="empty", topic="orders/updated")
    assert "keeps its lines" in response.json()["detail"]
    assert "lines revised" not in response.json()["detail"]
    assert stored.order(SHOPIFY_ID).total == Decimal("89.90")
    assert stored.stock(stores["MI-BRERA"], LIGHT) == (0, 0)


def test_an_edit_of_a_ready_pickup_moves_the_reservation_and_says_so(
    shop_client: TestClient, stores: dict[str, str], stored: Stored, principals: Principals
) -> None:
    created = post_shopify(shop_client, shopify_order(), webhook_id="create")
    ready = shop_client.post(
        f"/api/v1/orders/{created.json()['order_id']}/ready", headers=principals.owner.headers
    )
    assert ready.status_code == 200, ready.text
    response = post_shopify(
        shop_client, edited("2026-11-20T19:00:00+01:00"), webhook_id="edit", topic="orders/updated"
    )
    assert "check it again" in response.json()["detail"]
    assert stored.order(SHOPIFY_ID).status == "ready"
    store = stores["MI-BRERA"]
    assert [stored.stock(store, sku) for sku in (HELMET, LIGHT, BOTTLE)] == [(0, 1), (0, 0), (0, 2)]


def test_an_attached_guest_gets_the_promise_and_the_consent_the_shop_sends(
    shop_client: TestClient, stores: dict[str, str], stored: Stored, principals: Principals
) -> None:
    guest = shopify_order(email=None, phone=None, customer=None)
    guest["billing_address"] = {**guest.get("billing_address", {}), "phone": None}
    post_shopify(shop_client, guest, webhook_id="guest")
    named = shopify_order(updated_at="2026-11-20T19:00:00+01:00")
    post_shopify(shop_client, named, webhook_id="named", topic="orders/updated")
    customer = customer_of(shop_client, principals, "giulia.bianchi@example.it")
    assert customer["consents"], customer["consents"]
    with stored.factory() as session:
        promised = session.scalars(select(Promise.profile_id)).all()
    assert promised == [stored.order(SHOPIFY_ID).profile_id]


def test_the_click_and_collect_journeys_follow_the_edited_lines(
    shop_client: TestClient, stores: dict[str, str], principals: Principals
) -> None:
    post_shopify(shop_client, shopify_order(), webhook_id="create")
    post_shopify(
        shop_client, edited("2026-11-20T19:00:00+01:00"), webhook_id="edit", topic="orders/updated"
    )
    journeys = shop_client.get(
        "/api/v1/journeys",
        params={"kind": "click_and_collect", "from": "2026-11-01", "to": "2026-12-01"},
        headers=principals.owner.headers,
    )
    assert journeys.status_code == 200, journeys.text
    assert sorted(j["sku"] for j in journeys.json()["items"]) == [HELMET, BOTTLE]
