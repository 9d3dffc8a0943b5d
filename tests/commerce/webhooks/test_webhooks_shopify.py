"""Shopify webhooks (contract, section 5): signatures over the exact bytes, topics, idempotency
on the delivery and on the order, pickups at the named store, updates in order, bad input."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient

from phygital.commerce.models import DeliveryStatus, Order
from phygital.identity.models import Profile
from tests.commerce.webhooks.conftest import (
    SHOPIFY_SECRET,
    Stored,
    fixture_bytes,
    fixture_json,
    post_shopify,
    sign,
)
from tests.conftest import Principals

PICKUP = "shopify/orders_create_pickup.json"
DELIVERY = "shopify/orders_create_delivery.json"
# As listed in shared/fixtures/signatures.md.
SIGNATURES = {
    PICKUP: "eC4sgdUPyv2xyMzwO4gtxgz9120g7E+Uph6LW9sFv9g=",
    DELIVERY: "OU7bUqAt18vzIQoX8QJvDdmNgcXD5RB/A47MiKam39U=",
}


def pickup_order(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(fixture_json(PICKUP))
    body.update(changes)
    return body


def read_order(client: TestClient, principals: Principals, order_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/orders/{order_id}", headers=principals.owner.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# -- signatures ---------------------------------------------------------------------------------


def test_the_fixtures_signatures_verify_on_their_exact_bytes(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    for name, expected in SIGNATURES.items():
        body = fixture_bytes(name)
        assert sign(body, SHOPIFY_SECRET) == expected
        response = post_shopify(shop_client, body, webhook_id=name, signature=expected)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "processed"
    assert stored.count(Order) == 2


def test_tampered_bytes_or_a_missing_signature_get_401_and_nothing_is_stored(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    body = fixture_bytes(PICKUP)
    tampered = body.replace(b'"price": "89.90"', b'"price": "0.90"')
    assert tampered != body
    response = post_shopify(shop_client, tampered, signature=SIGNATURES[PICKUP])
    assert response.status_code == 401
    assert "signature" in response.json()["detail"]
    one_byte_more = post_shopify(shop_client, body + b"\n", signature=SIGNATURES[PICKUP])
    assert one_byte_more.status_code == 401
    wrong_secret = post_shopify(shop_client, body, signature=sign(body, "another-secret"))
    assert wrong_secret.status_code == 401
    missing = shop_client.post(
        "/webhooks/shopify", content=body, headers={"X-Shopify-Topic": "orders/create"}
    )
    assert missing.status_code == 401
    assert stored.nothing()


def test_without_a_configured_secret_the_webhook_is_not_found(
    client: TestClient, stored: Stored
) -> None:
    body = fixture_bytes(PICKUP)
    response = post_shopify(client, body, signature=SIGNATURES[PICKUP])
    assert response.status_code == 404
    assert stored.nothing()


# -- orders -------------------------------------------------------------------------------------


def test_a_shipping_line_naming_a_store_makes_a_pickup_there_with_a_promise(
    shop_client: TestClient, stores: dict[str, str], principals: Principals
) -> None:
    response = post_shopify(shop_client, fixture_bytes(PICKUP), signature=SIGNATURES[PICKUP])
    assert response.status_code == 200, response.text
    order = read_order(shop_client, principals, response.json()["order_id"])
    assert order["external_id"] == "5820982911946154508"  # 64-bit id kept exact
    assert order["channel"] == "web"
    assert order["origin"] == "shopify"
    assert order["label"] == "#1043"
    assert order["fulfilment"] == "pickup"
    assert order["store"] == "MI-BRERA"
    assert order["status"] == "awaiting"
    assert order["placed_at"] == "2026-11-20T17:42:10Z"
    # Placed Friday 18:42:10 in Milan: 47m50s of the hour's preparation before closing at 19:30,
    # the rest from 09:30 on Saturday.
    assert order["promised_ready_at"] == "2026-11-21T08:42:10Z"
    assert order["total"] == "129.90"
    assert order["currency"] == "EUR"
    assert [
        (ln["sku"], ln["quantity"], ln["unit_price"], ln["known"]) for ln in order["lines"]
    ] == [
        ("BIKE-HELM-M-BLU", 1, "89.90", True),
        ("BIKE-LIGHT-USB", 1, "40.00", True),
    ]


def test_an_order_with_a_shipping_line_naming_no_store_is_a_delivery(
    shop_client: TestClient, stores: dict[str, str], principals: Principals
) -> None:
    response = post_shopify(shop_client, fixture_bytes(DELIVERY), signature=SIGNATURES[DELIVERY])
    assert response.status_code == 200, response.text
    order = read_order(shop_client, principals, response.json()["order_id"])
    assert order["external_id"] == "5820982911946154509"
    assert order["fulfilment"] == "delivery"
    assert order["store"] is None
    assert order["status"] == "placed"
    assert order["promised_ready_at"] is None


def test_the_order_joins_the_customer_found_by_email_and_is_on_the_timeline(
    shop_client: TestClient, stores: dict[str, str], principals: Principals
) -> None:
    response = post_shopify(shop_client, fixture_bytes(PICKUP), signature=SIGNATURES[PICKUP])
    order_id = response.json()["order_id"]
    headers = principals.owner.headers
    found = shop_client.get("/api/v1/customers?email=Giulia.Bianchi@Example.IT", headers=headers)
    assert found.status_code == 200, found.text
    [customer] = found.json()["items"]
    detail = shop_client.get(f"/api/v1/customers/{customer['id']}", headers=headers).json()
    idents = {(i["kind"], i["value"]) for i in detail["identifiers"]}
    assert {
        ("email", "giulia.bianchi@example.it"),
        ("phone", "+393471234567"),
        ("shopify", "7115310627314723954"),
    } <= idents
    assert detail["traits"]["first_name"] == "Giulia"
    assert detail["stats"]["orders"] == 1
    assert detail["consents"]["marketing"]["email"]["granted"] is True
    by_id = shop_client.get(
        "/api/v1/customers?identifier=shopify:7115310627314723954", headers=headers
    ).json()
    assert [c["id"] for c in by_id["items"]] == [customer["id"]]
    timeline = shop_client.get(f"/api/v1/customers/{customer['id']}/timeline", headers=headers)
    orders = [item for item in timeline.json()["items"] if item["kind"] == "order"]
    assert [item["ref"] for item in orders] == [f"order:{order_id}"]
    assert "#1043" in orders[0]["summary"]


def test_a_repeated_delivery_is_stored_once(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    first = post_shopify(shop_client, fixture_bytes(PICKUP), webhook_id="b1f7c0de")
    again = post_shopify(shop_client, fixture_bytes(PICKUP), webhook_id="b1f7c0de")
    assert first.status_code == again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["order_id"] == first.json()["order_id"]
    assert stored.count(Order) == 1
    [delivery] = stored.deliveries()
    assert delivery.status == DeliveryStatus.PROCESSED
    assert delivery.order_id == first.json()["order_id"]
    assert delivery.body is None
    assert stored.stock(stores["MI-BRERA"], "BIKE-HELM-M-BLU") == (0, 1)


def test_the_same_order_under_another_delivery_id_is_not_duplicated(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    first = post_shopify(shop_client, fixture_bytes(PICKUP), webhook_id="one")
    second = post_shopify(shop_client, fixture_bytes(PICKUP), webhook_id="two")
    paid = post_shopify(shop_client, fixture_bytes(PICKUP), webhook_id="three", topic="orders/paid")
    assert first.json()["order_id"] == second.json()["order_id"] == paid.json()["order_id"]
    assert stored.count(Order) == 1
    assert stored.count(Profile) == 1
    assert len(stored.deliveries()) == 3
    # One reservation, not three.
    assert stored.stock(stores["MI-BRERA"], "BIKE-HELM-M-BLU") == (0, 1)


def test_updates_apply_in_order_and_an_older_one_is_ignored(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    created = post_shopify(shop_client, pickup_order(), webhook_id="c")
    order_id = created.json()["order_id"]
    cancelled = pickup_order(
        updated_at="2026-11-20T19:10:00+01:00", cancelled_at="2026-11-20T19:10:00+01:00"
    )
    response = post_shopify(shop_client, cancelled, webhook_id="u2", topic="orders/cancelled")
    assert response.json() == {
        "status": "processed",
        "order_id": order_id,
        "customer_id": None,
        "detail": None,
    }
    late = pickup_order(updated_at="2026-11-20T18:50:00+01:00")  # paid, before the cancel
    response = post_shopify(shop_client, late, webhook_id="u1", topic="orders/paid")
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert "older" in response.json()["detail"]
    order = stored.order("5820982911946154508")
    assert order.status == "cancelled"
    assert order.source_updated_at is not None
    assert order.source_updated_at.isoformat() == "2026-11-20T18:10:00+00:00"
    statuses = {d.delivery_id: d.status for d in stored.deliveries()}
    assert statuses == {"c": "processed", "u2": "processed", "u1": "ignored"}


def test_a_cancellation_releases_the_stock_reservation(
    shop_client: TestClient, stores: dict[str, str], principals: Principals
) -> None:
    headers = principals.owner.headers
    for sku in ("BIKE-HELM-M-BLU", "BIKE-LIGHT-USB"):
        put = shop_client.put(
            f"/api/v1/stores/MI-BRERA/stock/{sku}", json={"quantity": 5}, headers=headers
        )
        assert put.status_code == 200, put.text
    post_shopify(shop_client, pickup_order(), webhook_id="create")
    stock = shop_client.get("/api/v1/stores/MI-BRERA/stock/BIKE-HELM-M-BLU", headers=headers)
    assert (stock.json()["reserved"], stock.json()["available"]) == (1, 4)

    cancelled = pickup_order(
        updated_at="2026-11-20T19:00:00+01:00", cancelled_at="2026-11-20T19:00:00+01:00"
    )
    response = post_shopify(shop_client, cancelled, webhook_id="cancel", topic="orders/cancelled")
    assert response.status_code == 200, response.text
    stock = shop_client.get("/api/v1/stores/MI-BRERA/stock/BIKE-HELM-M-BLU", headers=headers)
    assert (stock.json()["on_hand"], stock.json()["reserved"]) == (5, 0)
    order = read_order(shop_client, principals, response.json()["order_id"])
    assert order["status"] == "cancelled"
    customer = shop_client.get(
        "/api/v1/customers?email=giulia.bianchi@example.it", headers=headers
    ).json()["items"][0]
    detail = shop_client.get(f"/api/v1/customers/{customer['id']}", headers=headers).json()
    assert detail["stats"]["orders"] == 0


def test_an_update_for_an_order_never_seen_creates_it_already_cancelled(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    cancelled = pickup_order(
        updated_at="2026-11-20T19:00:00+01:00", cancelled_at="2026-11-20T19:00:00+01:00"
    )
    response = post_shopify(shop_client, cancelled, topic="orders/cancelled")
    assert response.json()["status"] == "processed"
    order = stored.order("5820982911946154508")
    assert order.status == "cancelled"
    assert stored.stock(stores["MI-BRERA"], "BIKE-HELM-M-BLU") == (0, 0)
    # The creation arriving late is older than what was applied.
    late = post_shopify(shop_client, fixture_bytes(PICKUP), webhook_id="late-create")
    assert late.json()["status"] == "ignored"
    assert stored.count(Order) == 1


def test_a_fulfilled_delivery_order_becomes_fulfilled(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    post_shopify(shop_client, fixture_bytes(DELIVERY), webhook_id="d1")
    body = fixture_json(DELIVERY)
    body.update(updated_at="2026-11-21T09:00:00+01:00", fulfillment_status="fulfilled")
    response = post_shopify(shop_client, body, webhook_id="d2", topic="orders/fulfilled")
    assert response.json()["status"] == "processed"
    assert stored.order("5820982911946154509").status == "fulfilled"


def test_a_pickup_the_shop_marks_picked_up_is_collected(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    post_shopify(shop_client, pickup_order(), webhook_id="p1")
    assert stored.stock(stores["MI-BRERA"], "BIKE-HELM-M-BLU") == (0, 1)
    picked_up = pickup_order(updated_at="2026-11-21T17:00:00+01:00", fulfillment_status="fulfilled")
    response = post_shopify(shop_client, picked_up, webhook_id="p2", topic="orders/fulfilled")
    assert response.json()["status"] == "processed"
    order = stored.order("5820982911946154508")
    assert order.status == "collected"
    assert order.collected_at is not None
    # The reservation is gone and the unit has left the shelf.
    assert stored.stock(stores["MI-BRERA"], "BIKE-HELM-M-BLU") == (-1, 0)


def test_a_cancelled_pickup_the_shop_then_fulfils_stays_cancelled(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    post_shopify(shop_client, pickup_order(), webhook_id="c1")
    cancelled = pickup_order(
        updated_at="2026-11-21T10:00:00+01:00", cancelled_at="2026-11-21T10:00:00+01:00"
    )
    post_shopify(shop_client, cancelled, webhook_id="c2", topic="orders/cancelled")
    fulfilled = pickup_order(updated_at="2026-11-21T11:00:00+01:00", fulfillment_status="fulfilled")
    response = post_shopify(shop_client, fulfilled, webhook_id="c3", topic="orders/updated")
    assert stored.order("5820982911946154508").status == "cancelled"
    assert response.json()["status"] == "processed"


def test_a_deleted_order_is_cancelled(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    post_shopify(shop_client, pickup_order(), webhook_id="c")
    response = post_shopify(
        shop_client, {"id": 5820982911946154508}, webhook_id="del", topic="orders/delete"
    )
    assert response.json()["status"] == "processed"
    assert stored.order("5820982911946154508").status == "cancelled"


def test_a_line_without_sku_is_kept_under_its_variant(
    shop_client: TestClient, stores: dict[str, str], principals: Principals
) -> None:
    body = pickup_order()
    body["line_items"][1]["sku"] = None
    body["line_items"][0]["sku"] = ""
    response = post_shopify(shop_client, body)
    assert response.status_code == 200, response.text
    order = read_order(shop_client, principals, response.json()["order_id"])
    assert [(ln["sku"], ln["known"]) for ln in order["lines"]] == [
        ("shopify-variant:44808950810", False),
        ("shopify-variant:44808950811", False),
    ]
    assert order["lines"][0]["name"] == "Casco urbano blu (M)"


def test_a_guest_order_with_a_mistyped_phone_keeps_the_order(
    shop_client: TestClient, stores: dict[str, str], stored: Stored, principals: Principals
) -> None:
    body = pickup_order(phone="12", customer=None)
    body["billing_address"]["phone"] = None
    response = post_shopify(shop_client, body)
    assert response.status_code == 200, response.text
    assert response.json()["detail"] == "phone: not usable as phone, set aside"
    order = read_order(shop_client, principals, response.json()["order_id"])
    assert order["customer_id"] is not None
    [delivery] = stored.deliveries()
    assert delivery.error == "phone: not usable as phone, set aside"


# -- customers and other topics -----------------------------------------------------------------


def test_customers_create_resolves_the_customer_the_orders_join(
    shop_client: TestClient, stores: dict[str, str], principals: Principals
) -> None:
    customer = fixture_json(PICKUP)["customer"] | {
        "created_at": "2026-11-19T12:00:00+01:00",
        "updated_at": "2026-11-19T12:00:00+01:00",
        "email": "GIULIA.BIANCHI@example.it",
        "default_address": {"country_code": "IT", "phone": None},
    }
    response = post_shopify(shop_client, customer, topic="customers/create", webhook_id="cust")
    assert response.status_code == 200, response.text
    customer_id = response.json()["customer_id"]
    assert customer_id
    headers = principals.owner.headers
    detail = shop_client.get(f"/api/v1/customers/{customer_id}", headers=headers).json()
    assert {"kind": "shopify", "value": "7115310627314723954"} in detail["identifiers"]
    assert {"kind": "email", "value": "giulia.bianchi@example.it"} in detail["identifiers"]
    assert detail["consents"]["marketing"]["email"]["granted"] is True

    update = customer | {"last_name": "Bianchi Rossi", "updated_at": "2026-11-20T08:00:00+01:00"}
    again = post_shopify(shop_client, update, topic="customers/update", webhook_id="cust-2")
    assert again.json()["customer_id"] == customer_id

    order = post_shopify(shop_client, fixture_bytes(PICKUP), webhook_id="order")
    read = read_order(shop_client, principals, order.json()["order_id"])
    assert read["customer_id"] == customer_id


def test_a_topic_not_acted_on_is_recorded_as_ignored(
    shop_client: TestClient, stored: Stored
) -> None:
    response = post_shopify(shop_client, {"id": 1, "title": "Casco"}, topic="products/update")
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    [delivery] = stored.deliveries()
    assert (delivery.status, delivery.topic, delivery.body) == ("ignored", "products/update", None)


# -- bad input ----------------------------------------------------------------------------------


def test_a_signed_body_that_is_not_json_is_rejected_and_kept_for_inspection(
    shop_client: TestClient, stored: Stored
) -> None:
    response = post_shopify(shop_client, b"{not json", webhook_id="broken")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]
    [delivery] = stored.deliveries()
    assert delivery.status == DeliveryStatus.REJECTED
    assert delivery.body == "{not json"
    assert "not valid JSON" in (delivery.error or "")
    assert stored.count(Order) == stored.count(Profile) == 0


def test_impossible_orders_are_rejected_with_the_field_and_nothing_half_written(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    negative = pickup_order()
    negative["line_items"][1]["quantity"] = -1
    no_lines = pickup_order(line_items=[])
    no_id = pickup_order(id=None)
    bad_time = pickup_order(created_at="yesterday")
    bad_price = pickup_order()
    bad_price["line_items"][0]["price"] = "-3.00"
    cases = {
        "line_items[1].quantity: must be positive": negative,
        "line_items: an order needs at least one line": no_lines,
        "id: missing": no_id,
        "created_at: 'yesterday' is not a time": bad_time,
        "line_items[0].price: must not be negative": bad_price,
    }
    for index, (reason, body) in enumerate(cases.items()):
        response = post_shopify(shop_client, body, webhook_id=f"bad-{index}")
        assert response.status_code == 400, reason
        assert response.json()["detail"].startswith(reason), response.json()
    deliveries = stored.deliveries()
    assert {d.status for d in deliveries} == {"rejected"}
    assert all(d.body and d.body.startswith("{") for d in deliveries)
    assert stored.count(Order) == stored.count(Profile) == 0
    assert stored.stock(stores["MI-BRERA"], "BIKE-HELM-M-BLU") == (0, 0)


def test_an_implausible_total_is_rejected_not_an_overflow(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    body = pickup_order()
    for line in body["line_items"]:
        line.update(quantity=100_000, price="99999999.99")
    response = post_shopify(shop_client, body)
    assert response.status_code == 400
    assert "total must be below" in response.json()["detail"]
    assert stored.count(Order) == 0


def test_a_body_over_five_megabytes_gets_413_and_nothing_is_stored(
    shop_client: TestClient, stored: Stored
) -> None:
    body = b'{"id": 1, "note": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    response = post_shopify(shop_client, body)
    assert response.status_code == 413
    assert stored.nothing()


def test_nul_characters_in_a_signed_body_are_rejected_not_a_crash(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    body = pickup_order(note="ritiro\u0000sabato")
    response = post_shopify(shop_client, body, webhook_id="nul")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    raw = post_shopify(shop_client, b'{"id": 1,\x00}', webhook_id="raw-nul")
    assert raw.status_code == 400
    assert [d.status for d in stored.deliveries()] == ["rejected", "rejected"]
