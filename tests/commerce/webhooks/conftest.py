"""Web-shop webhook fixtures: an app with the fixtures' signing secrets, the stores the fixture
payloads name, signed posting helpers and a look at what was committed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from phygital.commerce import service
from phygital.commerce.models import Order, Stock, WebhookDelivery
from phygital.commerce.schemas import ProductCreate, StoreCreate
from phygital.config import Settings, load_settings
from phygital.core.clock import FrozenClock
from phygital.identity.models import Profile
from phygital.main import create_app
from tests.conftest import TEST_SECRET

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SHOPIFY_SECRET = "fixture-shopify-secret"
WOO_SECRET = "fixture-woocommerce-secret"
SPLIT = [("09:30", "13:00"), ("15:00", "19:30")]


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture_bytes(name))
    return data


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def encode(body: dict[str, Any] | bytes) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def post_shopify(
    client: TestClient,
    body: dict[str, Any] | bytes,
    *,
    topic: str = "orders/create",
    webhook_id: str | None = "wh-1",
    signature: str | None = None,
) -> Any:
    """POST a body to /webhooks/shopify signed with the fixtures' secret (unless told)."""
    content = encode(body)
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature or sign(content, SHOPIFY_SECRET),
        "X-Shopify-Shop-Domain": "phygital-bikes.myshopify.com",
    }
    if webhook_id is not None:
        headers["X-Shopify-Webhook-Id"] = webhook_id
    return client.post("/webhooks/shopify", content=content, headers=headers)


def post_woo(
    client: TestClient,
    body: dict[str, Any] | bytes,
    *,
    topic: str = "order.created",
    delivery_id: str | None = "d-1",
    signature: str | None = None,
) -> Any:
    content = encode(body)
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.partition(".")[0],
        "X-WC-Webhook-Event": topic.partition(".")[2],
        "X-WC-Webhook-Signature": signature or sign(content, WOO_SECRET),
        "X-WC-Webhook-Source": "https://negozio.example.it/",
    }
    if delivery_id is not None:
        headers["X-WC-Webhook-Delivery-ID"] = delivery_id
    return client.post("/webhooks/woocommerce", content=content, headers=headers)


def shop_settings(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "secret_key": TEST_SECRET,
        "shopify_secret": SHOPIFY_SECRET,
        "woocommerce_secret": WOO_SECRET,
        **overrides,
    }
    return load_settings(_env_file=None, **values)


@pytest.fixture
def shop_client(db_url: str, clock: FrozenClock, engine: Engine) -> Iterator[TestClient]:
    """A client of an app whose Shopify and WooCommerce secrets are the fixtures'."""
    app = create_app(shop_settings(db_url), clock=clock, engine=engine)
    with TestClient(app, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def stores(db: Session) -> dict[str, str]:
    """The stores the fixtures name, with split shifts Monday to Saturday, and the catalogue
    of their products. Returns store ids by code."""
    made = {}
    for code, name, address in (
        ("MI-BRERA", "Milano Brera", "Via Brera 8, Milano"),
        ("TO-CENTRO", "Torino Centro", "Via Roma 120, Torino"),
    ):
        store = service.create_store(
            db,
            data=StoreCreate(
                code=code,
                name=name,
                address=address,
                opening_hours={d: SPLIT for d in ("mon", "tue", "wed", "thu", "fri", "sat")},
                prep_minutes=60,
            ),
        )
        made[code] = store.id
    for sku, name, price in (
        ("BIKE-HELM-M-BLU", "Casco urbano blu M", "89.90"),
        ("BIKE-LIGHT-USB", "Luce USB ricaricabile", "40.00"),
        ("BOTTLE-TERM-750", "Borraccia termica 750 ml", "27.00"),
    ):
        service.create_product(db, data=ProductCreate(sku=sku, name=name, price=Decimal(price)))
    db.commit()
    return made


@dataclass
class Stored:
    """Reads what the app committed, each time in a fresh session."""

    factory: sessionmaker[Session]

    def count(self, model: type) -> int:
        with self.factory() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def nothing(self) -> bool:
        return all(self.count(m) == 0 for m in (Order, WebhookDelivery, Profile))

    def deliveries(self) -> list[WebhookDelivery]:
        with self.factory() as session:
            return list(
                session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.received_at))
            )

    def order(self, external_id: str) -> Order:
        with self.factory() as session:
            order = session.scalar(select(Order).where(Order.external_id == external_id))
            assert order is not None, external_id
            return order

    def stock(self, store_id: str, sku: str) -> tuple[int, int]:
        with self.factory() as session:
            row = session.get(Stock, (store_id, sku))
            return (row.on_hand, row.reserved) if row else (0, 0)


@pytest.fixture
def stored(session_factory: sessionmaker[Session]) -> Stored:
    return Stored(session_factory)
