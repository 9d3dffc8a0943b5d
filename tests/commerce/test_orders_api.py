"""Orders through the REST API: one model for every channel, idempotent, resolved to their
customer, with stock reservations and the pickup promise; bad input named by field."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from phygital.commerce.models import Order, OrderLine, Stock
from phygital.core.clock import FrozenClock
from tests.commerce.conftest import order_body, rome
from tests.conftest import Principals


def post(client: TestClient, who: Any, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/orders", json=body, headers=who.headers)


def stock(db: Session, store_id: str, sku: str) -> tuple[int, int]:
    db.expire_all()
    row = db.get(Stock, (store_id, sku))
    result = (row.on_hand, row.reserved) if row else (0, 0)
    db.rollback()  # a read on SQLite holds the write lock (BEGIN IMMEDIATE) until it ends
    return result


def test_pickup_order_is_promised_from_the_store_hours_and_resolved_to_its_customer(
    client: TestClient, principals: Principals, shop: dict[str, Any]
) -> None:
    response = post(client, principals.owner, order_body())
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "awaiting"
    assert order["store"] == "MI-BRERA"
    assert order["fulfilment"] == "pickup"
    assert Decimal(order["total"]) == Decimal("169.90")
    # Friday 10:00 + 60 min of opening time: 11:00 in Milan
    assert datetime.fromisoformat(order["promised_ready_at"]) == rome(2026, 11, 20, 11, 0)
    customers = client.get(
        "/api/v1/customers",
        params={"email": "Giulia.Bianchi@Example.it"},
        headers=principals.owner.headers,
    ).json()["items"]
    assert [c["id"] for c in customers] == [order["customer_id"]]
    profile = client.get(
        f"/api/v1/customers/{order['customer_id']}", headers=principals.owner.headers
    ).json()
    assert profile["stats"]["orders"] == 1
    assert Decimal(profile["stats"]["revenue"]) == Decimal("169.90")
    assert "web" in profile["stats"]["channels"]
    timeline = client.get(
        f"/api/v1/customers/{order['customer_id']}/timeline", headers=principals.owner.headers
    ).json()["items"]
    assert sorted(i["kind"] for i in timeline) == ["order", "promise"]
    assert {i["ref"] for i in timeline} == {f"order:{order['id']}"}


def test_same_channel_and_external_id_is_the_same_order(
    client: TestClient, principals: Principals, shop: dict[str, Any], db: Session
) -> None:
    first = post(client, principals.owner, order_body())
    again = post(client, principals.owner, order_body())
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other_channel = post(client, principals.owner, order_body(channel="app"))
    assert other_channel.status_code == 201
    assert len(db.scalars(select(Order)).all()) == 2
    db.rollback()
    # Counted once on the customer.
    profile = client.get(
        f"/api/v1/customers/{first.json()['customer_id']}", headers=principals.owner.headers
    ).json()
    assert profile["stats"]["orders"] == 2


def test_pickup_reserves_stock_and_collection_takes_it_off_the_shelf(
    client: TestClient, principals: Principals, shop: dict[str, Any], db: Session
) -> None:
    client.put(
        "/api/v1/stores/MI-BRERA/stock/BIKE-LIGHT-USB",
        json={"quantity": 10},
        headers=principals.owner.headers,
    )
    order = post(client, principals.owner, order_body()).json()
    assert stock(db, shop["milan"], "BIKE-LIGHT-USB") == (10, 2)
    read = client.get(
        "/api/v1/stores/MI-BRERA/stock/BIKE-LIGHT-USB", headers=principals.owner.headers
    ).json()
    assert read == {
        "store": "MI-BRERA",
        "sku": "BIKE-LIGHT-USB",
        "on_hand": 10,
        "reserved": 2,
        "available": 8,
    }
    assert (
        client.post(
            f"/api/v1/orders/{order['id']}/ready", headers=principals.owner.headers
        ).status_code
        == 200
    )
    done = client.post(f"/api/v1/orders/{order['id']}/collected", headers=principals.owner.headers)
    assert done.json()["status"] == "collected"
    assert stock(db, shop["milan"], "BIKE-LIGHT-USB") == (8, 0)


def test_cancel_releases_the_reservation(
    client: TestClient, principals: Principals, shop: dict[str, Any], db: Session
) -> None:
    order = post(client, principals.owner, order_body()).json()
    assert stock(db, shop["milan"], "BIKE-HELM-M-BLU") == (0, 1)
    cancelled = client.post(
        f"/api/v1/orders/{order['id']}/cancel", headers=principals.owner.headers
    )
    assert cancelled.json()["status"] == "cancelled"
    assert stock(db, shop["milan"], "BIKE-HELM-M-BLU") == (0, 0)
    again = client.post(f"/api/v1/orders/{order['id']}/collected", headers=principals.owner.headers)
    assert again.status_code == 409
    profile = client.get(
        f"/api/v1/customers/{order['customer_id']}", headers=principals.owner.headers
    ).json()
    assert profile["stats"]["orders"] == 0


def test_in_store_sale_takes_stock_and_anonymous_sale_counts_for_the_store(
    client: TestClient, principals: Principals, shop: dict[str, Any], db: Session
) -> None:
    body = order_body("R-1", channel="store", fulfilment=None, email=None)
    response = post(client, principals.owner, body)
    assert response.status_code == 201, response.text
    sale = response.json()
    assert sale["fulfilment"] == "in_store"
    assert sale["status"] == "fulfilled"
    assert sale["customer_id"] is None
    assert stock(db, shop["milan"], "BIKE-LIGHT-USB") == (-2, 0)


def test_unknown_sku_is_kept_and_flagged_until_the_catalogue_has_it(
    client: TestClient, principals: Principals, shop: dict[str, Any], db: Session
) -> None:
    lines = [{"sku": "NEW-THING-1", "quantity": 1, "unit_price": "10.00", "name": "Nuovo"}]
    order = post(
        client, principals.owner, order_body(lines=lines, fulfilment="delivery", store=None)
    ).json()
    assert order["lines"][0]["known"] is False
    unknown = client.get("/api/v1/products/unknown", headers=principals.owner.headers).json()
    assert [(u["sku"], u["orders"], u["name"]) for u in unknown] == [("NEW-THING-1", 1, "Nuovo")]
    created = client.post(
        "/api/v1/products",
        json={"sku": "NEW-THING-1", "name": "Nuovo", "price": "10.00"},
        headers=principals.owner.headers,
    )
    assert created.status_code == 201
    assert client.get("/api/v1/products/unknown", headers=principals.owner.headers).json() == []
    again = client.get(f"/api/v1/orders/{order['id']}", headers=principals.owner.headers).json()
    assert again["lines"][0]["known"] is True


def test_impossible_values_are_refused_naming_the_field(
    client: TestClient, principals: Principals, shop: dict[str, Any], db: Session
) -> None:
    def error(body: dict[str, Any]) -> str:
        response = post(client, principals.owner, body)
        assert response.status_code == 422, response.text
        return str(response.json()["detail"])

    bad_quantity = order_body(lines=[{"sku": "X", "quantity": -1, "unit_price": "1"}])
    assert "quantity" in error(bad_quantity)
    assert "store" in error(order_body(store="NOWHERE"))
    assert "placed_at" in error(order_body(placed_at="yesterday"))
    assert "placed_at" in error(order_body(placed_at="2026-11-20T10:00:00"))  # no offset
    assert "store" in error(order_body(store=None))  # a pickup needs its store
    bad_email = order_body()
    bad_email["customer"]["identifiers"] = [{"kind": "email", "value": "not-an-email"}]
    assert "customer.identifiers" in error(bad_email)
    assert db.scalars(select(Order)).all() == []
    assert db.scalars(select(OrderLine)).all() == []


def test_sellers_record_and_see_only_their_store(
    client: TestClient, principals: Principals, shop: dict[str, Any]
) -> None:
    body = order_body(store="A")
    response = post(client, principals.seller_a, body)
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    assert post(client, principals.seller_b, order_body("2", store="A")).status_code == 403
    assert (
        client.get(f"/api/v1/orders/{order_id}", headers=principals.seller_b.headers).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/orders/{order_id}/ready", headers=principals.seller_b.headers
        ).status_code
        == 404
    )
    assert (
        client.get(f"/api/v1/orders/{order_id}", headers=principals.seller_a.headers).status_code
        == 200
    )
    assert (
        client.get(f"/api/v1/orders/{order_id}", headers=principals.outsider.headers).status_code
        == 401
    )


def test_stock_counts_need_a_manager_of_that_store(
    client: TestClient, principals: Principals, shop: dict[str, Any]
) -> None:
    url = "/api/v1/stores/MI-BRERA/stock/BIKE-LIGHT-USB"
    assert (
        client.put(url, json={"quantity": 3}, headers=principals.seller_a.headers).status_code
        == 403
    )
    assert (
        client.put(url, json={"quantity": 3}, headers=principals.manager.headers).status_code == 200
    )
    assert (
        client.put(url, json={"quantity": -3}, headers=principals.manager.headers).status_code
        == 422
    )
    unknown = "/api/v1/stores/MI-BRERA/stock/NOPE"
    assert (
        client.put(unknown, json={"quantity": 3}, headers=principals.manager.headers).status_code
        == 404
    )


def test_products_api(client: TestClient, principals: Principals, shop: dict[str, Any]) -> None:
    listed = client.get(
        "/api/v1/products", params={"limit": 2}, headers=principals.seller_a.headers
    ).json()
    assert [p["sku"] for p in listed["items"]] == ["BIKE-GLOVE-L", "BIKE-HELM-M-BLU"]
    rest = client.get(
        "/api/v1/products", params={"cursor": listed["next"]}, headers=principals.seller_a.headers
    ).json()
    assert [p["sku"] for p in rest["items"]] == ["BIKE-LIGHT-USB", "BOTTLE-TERM-750"]
    assert rest["next"] is None
    duplicate = {"sku": "BIKE-GLOVE-L", "name": "x", "price": "1"}
    assert (
        client.post(
            "/api/v1/products", json=duplicate, headers=principals.owner.headers
        ).status_code
        == 409
    )
    assert (
        client.post(
            "/api/v1/products", json=duplicate | {"sku": "N"}, headers=principals.seller_a.headers
        ).status_code
        == 403
    )
    changed = client.patch(
        "/api/v1/products/BIKE-GLOVE-L", json={"price": "19.90"}, headers=principals.owner.headers
    )
    assert changed.json()["price"] == "19.90"


def test_store_exceptions_change_the_promise(
    client: TestClient, principals: Principals, shop: dict[str, Any], clock: FrozenClock
) -> None:
    # Closed on Friday 20 November: an order placed Friday 10:00 is promised Saturday 10:00.
    response = client.put(
        "/api/v1/stores/MI-BRERA/exceptions/2026-11-20",
        json={"shifts": [], "note": "Inventario"},
        headers=principals.manager.headers,
    )
    assert response.status_code == 204
    order = post(client, principals.owner, order_body()).json()
    assert order["promised_ready_at"].startswith("2026-11-21T09:00:00")  # 10:00 in Milan
    listed = client.get("/api/v1/stores/MI-BRERA/exceptions", headers=principals.seller_a.headers)
    assert listed.status_code == 404  # seller A works in store A: MI-BRERA is not theirs
    listed = client.get("/api/v1/stores/MI-BRERA/exceptions", headers=principals.owner.headers)
    assert listed.json() == [{"day": "2026-11-20", "shifts": [], "note": "Inventario"}]
    bad = client.put(
        "/api/v1/stores/MI-BRERA/exceptions/2026-11-31", json={}, headers=principals.owner.headers
    )
    assert bad.status_code == 422


def test_store_update(client: TestClient, principals: Principals, shop: dict[str, Any]) -> None:
    changed = client.patch(
        "/api/v1/stores/MI-BRERA",
        json={"prep_minutes": 120, "opening_hours": {"sun": [["10:00", "13:00"]]}},
        headers=principals.owner.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["prep_minutes"] == 120
    assert changed.json()["opening_hours"]["sun"] == [["10:00", "13:00"]]
    assert changed.json()["opening_hours"]["mon"] == []
    refused = client.patch(
        "/api/v1/stores/MI-BRERA", json={"timezone": "Mars/Base"}, headers=principals.owner.headers
    )
    assert refused.status_code == 422
    assert (
        client.patch(
            "/api/v1/stores/MI-BRERA", json={"name": "x"}, headers=principals.manager.headers
        ).status_code
        == 403
    )


def test_order_placed_in_the_past_keeps_its_time(
    client: TestClient, principals: Principals, shop: dict[str, Any], clock: FrozenClock
) -> None:
    body = order_body(placed_at="2026-10-01T12:00:00+02:00", fulfilment="delivery", store=None)
    order = post(client, principals.owner, body).json()
    assert order["placed_at"].startswith("2026-10-01T10:00:00")
    assert order["status"] == "placed"
    assert order["promised_ready_at"] is None
    clock.advance(timedelta(days=1))
