"""Orders under GDPR: the export lists them; erasure detaches them from the person and keeps
only the numbers the books need (totals, lines, store, time), and removes messages sent to the
person and rejected web-shop deliveries that mention them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from phygital.commerce.models import (
    DeliveryStatus,
    Notification,
    Order,
    OrderLine,
    WebhookDelivery,
)
from phygital.core.clock import FrozenClock
from tests.commerce.conftest import order_body
from tests.conftest import Principals
from tests.privacy.test_erasure import rows_holding

EMAIL = "ottavinella.quintabarberi@example.it"
SECRETS = ["Ottavinella", "Quintabarberi", EMAIL, "3475550199"]


def place(client: TestClient, principals: Principals, external_id: str, **kw: Any) -> Any:
    body = order_body(external_id, email=EMAIL, **kw)
    body["customer"]["traits"] = {"first_name": "Ottavinella", "last_name": "Quintabarberi"}
    body["customer"]["identifiers"].append({"kind": "phone", "value": "347 555 0199"})
    body["note"] = "Citofonare Quintabarberi"
    response = client.post("/api/v1/orders", json=body, headers=principals.owner.headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_export_lists_the_orders(
    client: TestClient, principals: Principals, shop: dict[str, Any]
) -> None:
    order = place(client, principals, "1")
    data = client.get(
        f"/api/v1/customers/{order['customer_id']}/export", headers=principals.manager.headers
    ).json()
    [exported] = data["orders"]["orders"]
    assert exported["external_id"] == "1"
    assert exported["total"] == "169.90"
    assert [line["sku"] for line in exported["lines"]] == ["BIKE-HELM-M-BLU", "BIKE-LIGHT-USB"]


def test_erasure_keeps_order_totals_detached_from_the_person(
    client: TestClient,
    principals: Principals,
    shop: dict[str, Any],
    db: Session,
    engine: Engine,
    clock: FrozenClock,
) -> None:
    pickup = place(client, principals, "1")
    place(client, principals, "2", fulfilment="delivery", store=None)
    ready = client.post(f"/api/v1/orders/{pickup['id']}/ready", headers=principals.owner.headers)
    assert ready.status_code == 200
    db.add(
        WebhookDelivery(
            provider="shopify",
            delivery_id="d-1",
            topic="orders/create",
            received_at=clock.now(),
            status=DeliveryStatus.REJECTED,
            error="line_items[0].quantity: must be positive",
            body='{"email": "Ottavinella.Quintabarberi@example.it", "phone": "347 555 0199"}',
        )
    )
    db.add(
        WebhookDelivery(
            provider="shopify",
            delivery_id="d-2",
            topic="orders/create",
            received_at=clock.now(),
            status=DeliveryStatus.REJECTED,
            error="not JSON",
            body="somebody else entirely",
        )
    )
    db.commit()
    assert rows_holding(engine, SECRETS)

    erased = client.delete(
        f"/api/v1/customers/{pickup['customer_id']}", headers=principals.manager.headers
    )
    assert erased.status_code == 204
    assert rows_holding(engine, SECRETS) == []
    db.expire_all()
    orders = db.scalars(select(Order).order_by(Order.external_id)).all()
    assert [(o.external_id, o.total, o.profile_id, o.note) for o in orders] == [
        ("1", Decimal("169.90"), None, None),
        ("2", Decimal("169.90"), None, None),
    ]
    assert len(db.scalars(select(OrderLine)).all()) == 4
    assert db.scalars(select(Notification)).all() == []
    assert [d.delivery_id for d in db.scalars(select(WebhookDelivery))] == ["d-2"]
    db.rollback()
    # The order is still readable, without a customer.
    read = client.get(f"/api/v1/orders/{pickup['id']}", headers=principals.owner.headers).json()
    assert read["customer_id"] is None
    assert read["total"] == "169.90"
