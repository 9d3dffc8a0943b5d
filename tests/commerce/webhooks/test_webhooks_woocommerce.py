"""WooCommerce webhooks (contract, section 5): signatures, the unsigned ping, pickups at the
store a shipping line names or the default one, e-mails and phones as typed, statuses."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from phygital.commerce import service
from phygital.commerce.models import DeliveryStatus, Order, WebhookDelivery
from phygital.commerce.schemas import StoreCreate
from phygital.core.clock import FrozenClock
from phygital.identity.models import Profile
from phygital.main import create_app
from tests.commerce.webhooks.conftest import (
    WOO_SECRET,
    Stored,
    fixture_bytes,
    fixture_json,
    post_woo,
    shop_settings,
    sign,
)
from tests.conftest import Principals

PICKUP = "woocommerce/order_created_pickup.json"
SIGNATURE = "2k8SKRPvdFJy+0dsL1yaZvbZxr3DdjKXAkTHJnts4+M="  # shared/fixtures/signatures.md


def woo_order(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(fixture_json(PICKUP))
    body.update(changes)
    return body


def delivery_order(**changes: Any) -> dict[str, Any]:
    body = woo_order(**changes)
    body["shipping_lines"] = [
        {"id": 93, "method_title": "Corriere espresso", "method_id": "flat_rate", "total": "6.90"}
    ]
    return body


def read_order(client: TestClient, principals: Principals, order_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/orders/{order_id}", headers=principals.owner.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_the_fixture_signature_verifies_and_the_pickup_goes_to_the_named_store(
    shop_client: TestClient, stores: dict[str, str], principals: Principals
) -> None:
    body = fixture_bytes(PICKUP)
    assert sign(body, WOO_SECRET) == SIGNATURE
    response = post_woo(shop_client, body, signature=SIGNATURE)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "processed"
    order = read_order(shop_client, principals, response.json()["order_id"])
    assert order["external_id"] == "4711"
    assert order["origin"] == "woocommerce"
    assert order["label"] == "#4711"
    assert order["fulfilment"] == "pickup"
    assert order["store"] == "TO-CENTRO"  # from the shipping line's meta data
    assert order["status"] == "awaiting"
    assert order["placed_at"] == "2026-11-21T09:05:00Z"  # date_created_gmt is UTC
    # Saturday 10:05 in Turin, open until 13:00: ready an hour later.
    assert order["promised_ready_at"] == "2026-11-21T10:05:00Z"
    assert [(ln["sku"], ln["quantity"], ln["unit_price"]) for ln in order["lines"]] == [
        ("BOTTLE-TERM-750", 2, "27.00")
    ]
    assert order["total"] == "54.00"


def test_emails_and_phones_as_typed_find_the_customer_normalised(
    shop_client: TestClient, stores: dict[str, str], principals: Principals
) -> None:
    response = post_woo(shop_client, fixture_bytes(PICKUP), signature=SIGNATURE)
    order_id = response.json()["order_id"]
    headers = principals.owner.headers
    by_email = shop_client.get("/api/v1/customers?email=marco.rossi@example.it", headers=headers)
    [customer] = by_email.json()["items"]
    by_phone = shop_client.get("/api/v1/customers?phone=3339876543", headers=headers)
    assert [c["id"] for c in by_phone.json()["items"]] == [customer["id"]]
    detail = shop_client.get(f"/api/v1/customers/{customer['id']}", headers=headers).json()
    assert {"kind": "woocommerce", "value": "38"} in detail["identifiers"]
    assert {"kind": "phone", "value": "+393339876543"} in detail["identifiers"]
    assert detail["traits"]["last_name"] == "Rossi"
    timeline = shop_client.get(f"/api/v1/customers/{customer['id']}/timeline", headers=headers)
    assert [i["ref"] for i in timeline.json()["items"] if i["kind"] == "order"] == [
        f"order:{order_id}"
    ]


def test_tampered_bytes_get_401_and_nothing_is_stored(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    body = fixture_bytes(PICKUP).replace(b'"quantity": 2', b'"quantity": 20')
    assert post_woo(shop_client, body, signature=SIGNATURE).status_code == 401
    unsigned = shop_client.post(
        "/webhooks/woocommerce", content=fixture_bytes(PICKUP), headers={"X-WC-Webhook-Topic": "x"}
    )
    assert unsigned.status_code == 401
    assert stored.nothing()


def test_without_a_configured_secret_the_webhook_is_not_found(
    client: TestClient, stored: Stored
) -> None:
    response = post_woo(client, fixture_bytes(PICKUP), signature=SIGNATURE)
    assert response.status_code == 404
    assert stored.nothing()


def test_the_unsigned_ping_answers_200_and_stores_nothing(
    shop_client: TestClient, stored: Stored
) -> None:
    ping = fixture_bytes("woocommerce/ping.txt")
    response = shop_client.post(
        "/webhooks/woocommerce",
        content=ping,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "pong"
    assert stored.nothing()
    not_a_ping = shop_client.post(
        "/webhooks/woocommerce",
        content=b"webhook_id=17&status=processing",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert not_a_ping.status_code == 401


def test_without_a_delivery_id_the_same_bytes_are_one_delivery(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    first = post_woo(shop_client, fixture_bytes(PICKUP), delivery_id=None)
    again = post_woo(shop_client, fixture_bytes(PICKUP), delivery_id=None)
    assert (first.json()["status"], again.json()["status"]) == ("processed", "duplicate")
    [delivery] = stored.deliveries()
    assert delivery.delivery_id.startswith("sha256:")
    assert stored.count(Order) == 1


def test_the_same_order_in_several_deliveries_is_one_order_with_one_reservation(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    created = post_woo(shop_client, fixture_bytes(PICKUP), delivery_id="a")
    updated = post_woo(shop_client, fixture_bytes(PICKUP), delivery_id="b", topic="order.updated")
    repeated = post_woo(shop_client, fixture_bytes(PICKUP), delivery_id="a")
    assert created.json()["order_id"] == updated.json()["order_id"] == repeated.json()["order_id"]
    assert repeated.json()["status"] == "duplicate"
    assert stored.count(Order) == 1
    assert stored.count(WebhookDelivery) == 2
    assert stored.stock(stores["TO-CENTRO"], "BOTTLE-TERM-750") == (0, 2)


def test_statuses_follow_the_modification_time(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    post_woo(shop_client, woo_order(date_modified_gmt="2026-11-21T09:05:00"), delivery_id="1")
    assert stored.stock(stores["TO-CENTRO"], "BOTTLE-TERM-750") == (0, 2)
    cancelled = woo_order(status="cancelled", date_modified_gmt="2026-11-21T11:00:00")
    response = post_woo(shop_client, cancelled, delivery_id="3", topic="order.updated")
    assert response.json()["status"] == "processed"
    stale = woo_order(status="processing", date_modified_gmt="2026-11-21T10:00:00")
    response = post_woo(shop_client, stale, delivery_id="2", topic="order.updated")
    assert response.json()["status"] == "ignored"
    order = stored.order("4711")
    assert order.status == "cancelled"
    assert stored.stock(stores["TO-CENTRO"], "BOTTLE-TERM-750") == (0, 0)


def test_a_completed_delivery_order_is_fulfilled_and_a_deleted_one_cancelled(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    post_woo(shop_client, delivery_order(id=5001, date_modified_gmt="2026-11-21T09:05:00"))
    completed = delivery_order(id=5001, status="completed", date_modified_gmt="2026-11-22T09:00:00")
    post_woo(shop_client, completed, delivery_id="2", topic="order.updated")
    assert stored.order("5001").status == "fulfilled"

    post_woo(shop_client, delivery_order(id=5002), delivery_id="3")
    response = post_woo(shop_client, {"id": 5002}, delivery_id="4", topic="order.deleted")
    assert response.json()["status"] == "processed"
    assert stored.order("5002").status == "cancelled"


def test_a_completed_pickup_order_is_collected(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    post_woo(shop_client, woo_order(date_modified_gmt="2026-11-21T09:05:00"))
    assert stored.stock(stores["TO-CENTRO"], "BOTTLE-TERM-750") == (0, 2)
    completed = woo_order(status="completed", date_modified_gmt="2026-11-22T16:00:00")
    post_woo(shop_client, completed, delivery_id="2", topic="order.updated")
    assert stored.order("4711").status == "collected"
    assert stored.stock(stores["TO-CENTRO"], "BOTTLE-TERM-750") == (-2, 0)


def test_a_failed_order_seen_first_is_created_cancelled(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    response = post_woo(shop_client, woo_order(status="failed"), topic="order.updated")
    assert response.json()["status"] == "processed"
    assert stored.order("4711").status == "cancelled"
    assert stored.stock(stores["TO-CENTRO"], "BOTTLE-TERM-750") == (0, 0)


def test_a_mistyped_email_is_set_aside_and_the_order_kept(
    shop_client: TestClient, stores: dict[str, str], principals: Principals, stored: Stored
) -> None:
    body = woo_order()
    body["billing"]["email"] = "marco.rossi@@example"
    response = post_woo(shop_client, body)
    assert response.status_code == 200, response.text
    assert response.json()["detail"] == "billing.email: not usable as email, set aside"
    order = read_order(shop_client, principals, response.json()["order_id"])
    assert order["customer_id"] is not None
    found = shop_client.get(
        "/api/v1/customers?phone=+393339876543", headers=principals.owner.headers
    )
    assert [c["id"] for c in found.json()["items"]] == [order["customer_id"]]
    [delivery] = stored.deliveries()
    assert "marco" not in (delivery.error or "")  # notes never keep the personal data


def test_an_unknown_pickup_store_is_rejected_until_the_store_exists(
    shop_client: TestClient, stored: Stored, db: Any
) -> None:
    response = post_woo(shop_client, fixture_bytes(PICKUP), delivery_id="early")
    assert response.status_code == 400
    assert "pickup store unknown" in response.json()["detail"]
    [delivery] = stored.deliveries()
    assert delivery.status == DeliveryStatus.REJECTED
    assert delivery.body == fixture_bytes(PICKUP).decode()
    assert stored.count(Order) == stored.count(Profile) == 0

    service.create_store(db, data=StoreCreate(code="TO-CENTRO", name="Torino Centro"))
    db.commit()
    retry = post_woo(shop_client, fixture_bytes(PICKUP), delivery_id="early")
    assert retry.status_code == 200, retry.text
    [delivery] = stored.deliveries()
    assert (delivery.status, delivery.body, delivery.error) == ("processed", None, None)
    assert delivery.order_id == retry.json()["order_id"]


@pytest.fixture
def default_pickup_client(db_url: str, clock: FrozenClock, engine: Engine) -> Iterator[TestClient]:
    settings = shop_settings(db_url, woocommerce_pickup_store="MI-BRERA")
    app = create_app(settings, clock=clock, engine=engine)
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def test_a_pickup_naming_no_store_goes_to_the_configured_default_store(
    default_pickup_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    body = woo_order()
    body["shipping_lines"][0]["meta_data"] = []
    response = post_woo(default_pickup_client, body)
    assert response.status_code == 200, response.text
    order = stored.order("4711")
    assert (order.fulfilment, order.store_id) == ("pickup", stores["MI-BRERA"])


def test_impossible_orders_are_rejected_with_a_reason_and_their_body(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    negative = woo_order()
    negative["line_items"][0]["quantity"] = -2
    amount = woo_order()
    amount["line_items"][0]["total"] = "cinquanta"
    naive = woo_order(date_created_gmt=None, date_created="2026-11-21T10:05:00")
    cases = {
        "line_items[0].quantity: must be positive, not -2": negative,
        "line_items[0].total: 'cinquanta' is not an amount": amount,
        "date_created: '2026-11-21T10:05:00' has no UTC offset": naive,
        "body: expected an object": [1, 2, 3],
    }
    for index, (reason, body) in enumerate(cases.items()):
        content = body if isinstance(body, dict) else str(body).encode()
        response = post_woo(shop_client, content, delivery_id=f"bad-{index}")
        assert response.status_code == 400, reason
        assert response.json()["detail"] == reason
    assert [d.status for d in stored.deliveries()] == ["rejected"] * 4
    assert stored.count(Order) == stored.count(Profile) == 0


def test_customer_topics_resolve_the_customer(
    shop_client: TestClient, principals: Principals, stored: Stored
) -> None:
    customer = {
        "id": 38,
        "email": " Marco.Rossi@Example.IT",
        "first_name": "Marco",
        "last_name": "Rossi",
        "billing": {"phone": "333 987 6543", "country": "IT"},
    }
    response = post_woo(shop_client, customer, topic="customer.created")
    assert response.status_code == 200, response.text
    detail = shop_client.get(
        f"/api/v1/customers/{response.json()['customer_id']}", headers=principals.owner.headers
    ).json()
    assert {"kind": "email", "value": "marco.rossi@example.it"} in detail["identifiers"]
    assert {"kind": "woocommerce", "value": "38"} in detail["identifiers"]
    other = post_woo(shop_client, {"id": 9}, topic="coupon.created", delivery_id="c")
    assert other.json()["status"] == "ignored"
    assert {d.status for d in stored.deliveries()} == {"processed", "ignored"}


def test_concurrent_copies_of_one_delivery_store_it_once(
    shop_client: TestClient, stores: dict[str, str], stored: Stored
) -> None:
    """A retry racing the original: whichever commits second sees a duplicate."""
    results: list[int] = []

    def send() -> None:
        results.append(post_woo(shop_client, fixture_bytes(PICKUP), delivery_id="race").status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4
    assert stored.count(Order) == 1
    assert stored.count(WebhookDelivery) == 1
    assert stored.stock(stores["TO-CENTRO"], "BOTTLE-TERM-750") == (0, 2)
